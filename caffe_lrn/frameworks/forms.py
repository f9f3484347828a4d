"""What every framework layer accepts: its form and data layout, checked once.

``form``: "caffe-order" (Caffe's running channel window, within 2 float32 ULP of Caffe) or
"native" (the framework's own LRN op with the converted parameters; WITHIN_CHANNEL has no
native op anywhere and runs the composite in both forms).
"""
from caffe_lrn.errors import LayerNotFoundError, ParameterError
from caffe_lrn.nets.loader import load_net
from caffe_lrn.nets.lrn_layers import lrn_layers

CAFFE_ORDER, NATIVE = "caffe-order", "native"
FORMS = (CAFFE_ORDER, NATIVE)
DATA_FORMATS = ("channels_last", "channels_first")


def check_form(form):
    if form not in FORMS:
        raise ParameterError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    return form


def check_data_format(data_format):
    if data_format not in DATA_FORMATS:
        raise ParameterError(
            f"data_format must be one of {', '.join(DATA_FORMATS)}, got {data_format!r}")
    return data_format


def caffe_layer_params(net, layer_name):
    """The LRNParams of the LRN layer ``layer_name`` of ``net`` (a path or a loaded net).

    Raises LayerNotFoundError naming the LRN layers the net has when there is no such layer.
    """
    if not hasattr(net, "layer"):
        net = load_net(net)
    layers = lrn_layers(net)
    for layer in layers:
        if layer.name == layer_name:
            return layer.params
    names = ", ".join(repr(layer.name) for layer in layers) or "none"
    raise LayerNotFoundError(
        f"the net has no LRN layer named {layer_name!r}; its LRN layers: {names}")
