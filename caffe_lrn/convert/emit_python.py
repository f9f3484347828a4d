"""Write a standalone Python module holding a net's LRN layers as TensorFlow functions.

The module has one function per LRN layer (NHWC in, NHWC out), named from the Caffe layer
name, and a dict ``LAYERS`` mapping each Caffe layer name to its function. It imports
TensorFlow itself, inside the functions, and nothing from caffe-lrn: the building blocks are
copied from :mod:`caffe_lrn.convert.tf_ops`, the same code ``run_layer("tf", ...)`` runs.
"""
import inspect

from caffe_lrn import __version__
from caffe_lrn.convert import tf_ops
from caffe_lrn.convert.naming import python_name
from caffe_lrn.convert.records import WithinComposite
from caffe_lrn.convert.tf_params import caffe_to_tf

HEADER = '''"""TensorFlow versions of the LRN layers of {source}.

Written by caffe-lrn {version}. Each function takes an NHWC float32 tensor and returns NHWC
(Caffe's NCHW blob is ``tf.transpose(blob, (0, 2, 3, 1))``). ACROSS_CHANNELS layers run in
Caffe's order of operations by default (``caffe_order=True``), which follows Caffe's running
channel window to within a few float32 ULPs; ``caffe_order=False`` calls
``tf.nn.local_response_normalization`` with the converted parameters instead.
WITHIN_CHANNEL layers have no TF op and always run a composite of tf ops.
``LAYERS`` maps each Caffe layer name to its function.
"""

SOURCE = {source!r}


def _tf():
    import tensorflow as tf

    return tf
'''


def _literal(value):
    return repr(float(value))


def _across_function(name, layer, params, tf_param):
    doc = (f'"""Caffe layer {layer.name!r} ({layer.bottom} -> {layer.top}): ACROSS_CHANNELS, '
           f"local_size {params.local_size}, alpha {params.alpha:g}, beta {params.beta:g}, "
           f"k {params.k:g}.\n\n    TF: depth_radius {tf_param.depth_radius}, bias "
           f'{tf_param.bias:g}, alpha {tf_param.alpha!r}, beta {tf_param.beta:g}.\n    """')
    return (f"def {name}(x, caffe_order=True):\n"
            f"    {doc}\n"
            f"    tf = _tf()\n"
            f"    if caffe_order:\n"
            f"        return across_caffe_order(tf, x, {params.local_size}, "
            f"{_literal(tf_param.alpha)}, {_literal(params.k)}, {_literal(params.beta)})\n"
            f"    return across_native(tf, x, {tf_param.depth_radius}, "
            f"{_literal(tf_param.bias)}, {_literal(tf_param.alpha)}, "
            f"{_literal(tf_param.beta)})\n")


def _within_function(name, layer, composite):
    doc = (f'"""Caffe layer {layer.name!r} ({layer.bottom} -> {layer.top}): WITHIN_CHANNEL, '
           f"local_size {composite.local_size}, alpha {composite.alpha:g}, beta "
           f'{composite.beta:g} (k is ignored, the shift is 1).\n    """')
    return (f"def {name}(x, caffe_order=True):\n"
            f"    {doc}\n"
            f"    return within_composite(_tf(), x, {composite.local_size}, "
            f"{_literal(composite.alpha)}, {_literal(composite.beta)})\n")


def emit_python(layers, source="a Caffe net"):
    """The module's source text for ``layers``.

    ``layers``: records with ``name``, ``bottom``, ``top`` and ``params`` (LRNParams), e.g.
    :class:`caffe_lrn.nets.lrn_layers.LRNLayerInfo`.
    """
    parts = [HEADER.format(source=str(source), version=__version__)]
    for block in (tf_ops.across_caffe_order, tf_ops.across_native, tf_ops.within_composite):
        parts.append(inspect.getsource(block))
    taken, entries = set(), []
    for layer in layers:
        name = python_name(layer.name, taken)
        taken.add(name)
        target = caffe_to_tf(layer.params).target
        if isinstance(target, WithinComposite):
            parts.append(_within_function(name, layer, target))
        else:
            parts.append(_across_function(name, layer, layer.params, target))
        entries.append(f"    {layer.name!r}: {name},")
    parts.append("LAYERS = {\n" + "\n".join(entries) + "\n}\n")
    return "\n\n".join(parts)
