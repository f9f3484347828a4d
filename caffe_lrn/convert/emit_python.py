"""Write a Python module holding a net's LRN layers as TensorFlow functions.

The module has one function per LRN layer (NHWC in, NHWC out), named from the Caffe layer
name, and a dict ``LAYERS`` mapping each Caffe layer name to its function. It is a thin shim
over the Keras layer :class:`caffe_lrn.frameworks.keras.CaffeLRN` (one home for the TF
forms): each function builds that layer from Caffe's parameters, written into the module as
float literals, on its first call. Importing the module imports neither TensorFlow nor
caffe-lrn; calling a function needs both.
"""
from caffe_lrn import __version__
from caffe_lrn.convert.naming import docstring_text, python_name, python_string
from caffe_lrn.convert.records import WithinComposite
from caffe_lrn.convert.tf_params import caffe_to_tf

HEADER = '''"""TensorFlow versions of the LRN layers of {source_doc}.

Written by caffe-lrn {version}. Each function takes an NHWC tensor and returns NHWC (Caffe's
NCHW blob is ``tf.transpose(blob, (0, 2, 3, 1))``); each is the Keras layer
``caffe_lrn.frameworks.keras.CaffeLRN`` built from the Caffe layer's parameters, so a model
can hold the layer itself instead (``CaffeLRN.from_caffe(net, name)``), and save and load it.
ACROSS_CHANNELS layers run in Caffe's order of operations by default (``caffe_order=True``),
which follows Caffe's running channel window to within 2 float32 ULPs;
``caffe_order=False`` calls ``tf.nn.local_response_normalization`` with the converted
parameters instead. WITHIN_CHANNEL layers have no TF op and always run a composite of tf ops.
``LAYERS`` maps each Caffe layer name to its function.
"""

SOURCE = {source_literal}
_BUILT = {{}}


def _lrn(x, caffe_order, **caffe_params):
    """The Keras CaffeLRN layer for ``caffe_params`` (built once per form) applied to x."""
    key = (caffe_order, tuple(sorted(caffe_params.items())))
    layer = _BUILT.get(key)
    if layer is None:
        from caffe_lrn.frameworks.keras import CaffeLRN

        form = "caffe-order" if caffe_order else "native"
        layer = _BUILT[key] = CaffeLRN(form=form, **caffe_params)
    return layer(x)
'''


def _literal(value):
    return repr(float(value))


def _function(name, layer, params, target):
    if isinstance(target, WithinComposite):
        doc = (f"Caffe layer {layer.name!r} ({layer.bottom!r} -> {layer.top!r}): "
               f"WITHIN_CHANNEL, local_size {target.local_size}, alpha {params.alpha:g}, beta "
               f"{params.beta:g} (k is ignored, the shift is 1).")
    else:
        doc = (f"Caffe layer {layer.name!r} ({layer.bottom!r} -> {layer.top!r}): "
               f"ACROSS_CHANNELS, local_size {params.local_size}, alpha {params.alpha:g}, "
               f"beta {params.beta:g}, k {params.k:g}.\n\nTF: depth_radius "
               f"{target.depth_radius}, bias {target.bias:g}, alpha {target.alpha!r}, beta "
               f"{target.beta:g}.")
    return (f"def {name}(x, caffe_order=True):\n"
            f"    {python_string(doc)}\n"  # a string literal: names from the net stay data
            f"    return _lrn(x, caffe_order, local_size={params.local_size}, "
            f"alpha={_literal(params.alpha)}, beta={_literal(params.beta)}, "
            f"k={_literal(params.k)}, norm_region={params.norm_region!r})\n")


def emit_python(layers, source="a Caffe net"):
    """The module's source text for ``layers``.

    ``layers``: records with ``name``, ``bottom``, ``top`` and ``params`` (LRNParams), e.g.
    :class:`caffe_lrn.nets.lrn_layers.LRNLayerInfo`. Names from the net appear only in
    string literals, in identifiers made by :func:`python_name`, and (the source path) in
    the module docstring escaped by :func:`docstring_text`.
    """
    parts = [HEADER.format(source_doc=docstring_text(source),
                           source_literal=python_string(source), version=__version__)]
    taken, entries = set(), []
    for layer in layers:
        name = python_name(layer.name, taken)
        taken.add(name)
        parts.append(_function(name, layer, layer.params, caffe_to_tf(layer.params).target))
        entries.append(f"    {python_string(layer.name)}: {name},")
    parts.append("LAYERS = {\n" + "\n".join(entries) + "\n}\n")
    return "\n\n".join(parts)
