"""Caffe's LRN layers as ONNX graphs: one layer (``layer_model``) or a net's (``net_model``).

Forms (opset 17):

* ACROSS_CHANNELS, ``form="native"``: one ONNX ``LRN`` node (alpha as Caffe's, divided by
  size by the operator; bias = k).
* ACROSS_CHANNELS, ``form="caffe-order"``: Caffe's running channel window as a ``Scan`` over
  channels, each step vectorised over N*H*W: ``scale += head`` then ``scale -= tail`` in
  float64, rounded to float32 after each (Caffe's fused axpy); the power in float64,
  rounded once (libm's powf).
* WITHIN_CHANNEL (no ONNX op): ``x * (1 + alpha * AveragePool_nxn(x*x, padding counted))
  ** -beta``; the caffe-order form takes the power in float64, rounded once.

Blob and layer names from a net are untrusted input: they only ever become ONNX name
strings (never code); a name holding NUL is refused. Intermediate names carry a prefix no
blob name starts with, so a blob cannot collide with them. onnx is imported when a graph is
first built.
"""
from caffe_lrn.convert.records import WithinComposite, as_lrn_params
from caffe_lrn.convert.size_scaled import caffe_to_onnx
from caffe_lrn.convert.tf_params import alpha_over_size
from caffe_lrn.errors import ConversionError
from caffe_lrn.frameworks.deps import import_onnx, onnx, onnx_helper as helper
from caffe_lrn.frameworks.forms import CAFFE_ORDER, NATIVE, check_form

OPSET = 17
IR_VERSION = 8  # opset 17's IR; newer onnx stamps versions older runtimes refuse
# TensorProto.DataType values, fixed by the ONNX IR (onnx is imported only when a graph is built).
F32, F64, I64 = 1, 11, 7


class _Names:
    """Intermediate names ``prefix + local``, the prefix chosen clear of every blob name."""

    def __init__(self, prefix, initializers):
        self.prefix = prefix
        self.initializers = initializers

    def __call__(self, local):
        return self.prefix + local

    def constant(self, local, dtype, dims, values):
        name = self(local)
        self.initializers.append(helper.make_tensor(name, dtype, dims, values))
        return name


def _scan_body(names):
    """One step of Caffe's running window: add the head term, subtract the tail term."""
    n = names
    nodes = [
        helper.make_node("Cast", [n("scale_in")], [n("s64")], to=F64),
        helper.make_node("Add", [n("s64"), n("head")], [n("with_head64")]),
        helper.make_node("Cast", [n("with_head64")], [n("with_head")], to=F32),
        helper.make_node("Cast", [n("with_head")], [n("with_head_back")], to=F64),
        helper.make_node("Sub", [n("with_head_back"), n("tail")], [n("without_tail64")]),
        helper.make_node("Cast", [n("without_tail64")], [n("scale_out")], to=F32),
        helper.make_node("Identity", [n("scale_out")], [n("scale_seq")]),
    ]
    inputs = [helper.make_tensor_value_info(n("scale_in"), F32, None),
              helper.make_tensor_value_info(n("head"), F64, None),
              helper.make_tensor_value_info(n("tail"), F64, None)]
    outputs = [helper.make_tensor_value_info(n("scale_out"), F32, None),
               helper.make_tensor_value_info(n("scale_seq"), F32, None)]
    return helper.make_graph(nodes, n("running_window_step"), inputs, outputs)


def across_caffe_order_nodes(params, bottom, top, names):
    """Nodes computing ``top`` from ``bottom`` (NCHW) in Caffe's order (a Scan)."""
    size = params.local_size
    pad = (size - 1) // 2
    n = names
    pads = n.constant("channel_pads", I64, [8], [0, pad, 0, 0, 0, pad, 0, 0])
    tail_pads = n.constant("tail_pads", I64, [8], [0, size, 0, 0, 0, 0, 0, 0])
    aos = n.constant("aos", F64, [], [alpha_over_size(params.alpha, size)])
    k = n.constant("k", F32, [], [params.k])
    nhw_axes = n.constant("nhw_axes", I64, [3], [0, 2, 3])
    zero = n.constant("zero", I64, [1], [0])
    neg_n = n.constant("neg_n", I64, [1], [-size])
    from_n_minus_1 = n.constant("from_n_minus_1", I64, [1], [size - 1])
    big = n.constant("big", I64, [1], [2 ** 62])
    axis1 = n.constant("axis1", I64, [1], [1])
    return [
        helper.make_node("Mul", [bottom, bottom], [n("square")]),
        helper.make_node("Pad", [n("square"), pads], [n("padded")]),
        helper.make_node("Cast", [n("padded")], [n("padded64")], to=F64),
        helper.make_node("Mul", [n("padded64"), aos], [n("heads")]),
        helper.make_node("Pad", [n("heads"), tail_pads], [n("tails_long")]),
        helper.make_node("Slice", [n("tails_long"), zero, neg_n, axis1], [n("tails")]),
        helper.make_node("Shape", [bottom], [n("shape")]),
        helper.make_node("Gather", [n("shape"), nhw_axes], [n("nhw")]),
        helper.make_node("Expand", [k, n("nhw")], [n("start")]),
        helper.make_node("Scan", [n("start"), n("heads"), n("tails")],
                         [n("last"), n("scales")], body=_scan_body(names),
                         num_scan_inputs=2, scan_input_axes=[1, 1], scan_output_axes=[1]),
        helper.make_node("Slice", [n("scales"), from_n_minus_1, big, axis1], [n("scale")]),
        *_power_nodes(n("scale"), -params.beta, n("power"), names, wide=True),
        helper.make_node("Mul", [n("power"), bottom], [top]),
    ]


def _power_nodes(base, exponent, out, names, wide):
    """``out = base ** exponent``: in float64 rounded once (``wide``), else in float32."""
    n = names
    if not wide:
        value = n.constant("exponent", F32, [], [exponent])
        return [helper.make_node("Pow", [base, value], [out])]
    value = n.constant("exponent64", F64, [], [exponent])
    return [helper.make_node("Cast", [base], [n("base64")], to=F64),
            helper.make_node("Pow", [n("base64"), value], [n("power64")]),
            helper.make_node("Cast", [n("power64")], [out], to=F32)]


def _box_average_caffe_order(square, pool, size, pad, names):
    """Caffe's AVE pooling (stride 1, padding counted): each window summed row by row from
    the zero-padded squares with Slice and Add, then divided by n*n.

    onnxruntime's AveragePool sums in an order of its own that also depends on whether the
    shape is known (up to 4 ULP from Caffe on cifar10_full with symbolic dims).
    """
    n = names
    pads = n.constant("box_pads", I64, [8], [0, 0, pad, pad, 0, 0, pad, pad])
    axes = n.constant("box_axes", I64, [2], [2, 3])
    count = n.constant("box_count", F32, [], [float(size * size)])
    nodes = [helper.make_node("Pad", [square, pads], [n("box_padded")])]
    total = None
    for dh in range(size):
        for dw in range(size):
            ends = [dh - 2 * pad or 2 ** 62, dw - 2 * pad or 2 ** 62]
            starts = n.constant(f"box_starts_{dh}_{dw}", I64, [2], [dh, dw])
            stops = n.constant(f"box_ends_{dh}_{dw}", I64, [2], ends)
            term = n(f"box_term_{dh}_{dw}")
            nodes.append(helper.make_node("Slice", [n("box_padded"), starts, stops, axes],
                                          [term]))
            if total is not None:
                summed = n(f"box_sum_{dh}_{dw}")
                nodes.append(helper.make_node("Add", [total, term], [summed]))
                term = summed
            total = term
    nodes.append(helper.make_node("Div", [total, count], [pool]))
    return nodes


def within_nodes(target, bottom, top, names, wide):
    """WITHIN_CHANNEL's composite: Mul, box average (padding counted), Mul, Add, Pow, Mul.

    ``wide`` (the caffe-order form): the box sum in Caffe's order and the power in float64
    rounded once; otherwise AveragePool and a float32 Pow.
    """
    n = names
    p, size = target.pad, target.local_size
    alpha = n.constant("alpha", F32, [], [target.alpha])
    one = n.constant("one", F32, [], [1.0])
    if wide:
        pooling = _box_average_caffe_order(n("square"), n("pool"), size, p, names)
    else:
        pooling = [helper.make_node("AveragePool", [n("square")], [n("pool")],
                                    kernel_shape=[size, size], strides=[1, 1],
                                    pads=[p, p, p, p], count_include_pad=1)]
    return [
        helper.make_node("Mul", [bottom, bottom], [n("square")]),
        *pooling,
        helper.make_node("Mul", [n("pool"), alpha], [n("scaled")]),
        helper.make_node("Add", [n("scaled"), one], [n("shifted")]),
        *_power_nodes(n("shifted"), -target.beta, n("scale"), names, wide),
        helper.make_node("Mul", [bottom, n("scale")], [top]),
    ]


def layer_nodes(params, bottom, top, names, form=NATIVE):
    """The nodes of one LRN layer from blob ``bottom`` to blob ``top`` in ``form``."""
    params = as_lrn_params(params)
    target = caffe_to_onnx(params).target
    if isinstance(target, WithinComposite):
        return within_nodes(target, bottom, top, names, wide=(form == CAFFE_ORDER))
    if form == CAFFE_ORDER:
        return across_caffe_order_nodes(params, bottom, top, names)
    return [helper.make_node("LRN", [bottom], [top], name=names("lrn"), size=target.size,
                             alpha=target.alpha, beta=target.beta, bias=target.bias)]


def _finish(nodes, graph_name, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, graph_name, inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="caffe-lrn")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def layer_model(params, shape=None, form=NATIVE, bottom="bottom", top="top"):
    """A model of one layer: input ``bottom``, output ``top`` (NCHW float32)."""
    check_form(form)
    dims = list(shape) if shape is not None else ["N", "C", "H", "W"]
    initializers = []
    names = _Names("lrn/", initializers)
    nodes = layer_nodes(params, bottom, top, names, form)
    return _finish(nodes, "caffe_lrn",
                   [helper.make_tensor_value_info(bottom, F32, dims)],
                   [helper.make_tensor_value_info(top, F32, dims)], initializers)


def _checked_name(kind, name):
    if "\x00" in name:
        raise ConversionError(f"{kind} name {name!r} holds a NUL character, which ONNX names "
                              "cannot carry")
    return name


def net_model(layers, form=NATIVE, graph_name="caffe_lrn"):
    """A model holding every layer of ``layers`` (records with name, bottom, top, params):
    one graph input per distinct bottom blob and one output per top blob, named after them.

    Raises ConversionError for a name with NUL, or for a top blob that is also an input or
    another layer's top (an in-place layer): ONNX names each value once.
    """
    check_form(form)
    layers = list(layers)
    blobs = set()
    for layer in layers:
        _checked_name("layer", layer.name)
        blobs.update((_checked_name("blob", layer.bottom), _checked_name("blob", layer.top)))
    prefix = "caffe_lrn/"
    while any(blob.startswith(prefix) for blob in blobs):
        prefix = "_" + prefix
    inputs, outputs, nodes, initializers = {}, {}, [], []
    for index, layer in enumerate(layers):
        if layer.top in outputs or layer.top == layer.bottom or layer.top in inputs:
            raise ConversionError(
                f"LRN layer {layer.name!r}: top blob {layer.top!r} is already a graph input "
                "or output (an in-place layer, or two layers writing one blob); an ONNX "
                "value has one name")
        if layer.bottom in outputs:
            raise ConversionError(
                f"LRN layer {layer.name!r}: bottom blob {layer.bottom!r} is another LRN "
                "layer's top; each layer here reads its own graph input")
        dims = [f"{prefix}{index}/{axis}" for axis in "NCHW"]
        inputs.setdefault(layer.bottom, helper.make_tensor_value_info(layer.bottom, F32, dims))
        outputs[layer.top] = helper.make_tensor_value_info(layer.top, F32, dims)
        names = _Names(f"{prefix}{index}/", initializers)
        nodes.extend(layer_nodes(layer.params, layer.bottom, layer.top, names, form))
    return _finish(nodes, graph_name, list(inputs.values()), list(outputs.values()),
                   initializers)


def session(model, threads=1):
    """An onnxruntime CPU session for ``model`` (quiet, ``threads`` intra-op threads)."""
    _, onnxruntime = import_onnx()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model.SerializeToString(), options,
                                        providers=["CPUExecutionProvider"])
