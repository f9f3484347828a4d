"""ONNX models: every LRN operation, in one of three forms.

- an ``LRN`` node (across channels, axis 1, alpha divided by size as in Caffe);
- the WITHIN_CHANNEL composite: ``Mul(x, x)`` (or ``Pow(x, 2)``) -> ``AveragePool`` counting
  the padding -> ``Mul`` by alpha -> ``Add`` the shift -> ``Pow(-beta)`` -> ``Mul`` by x (or
  ``Pow(beta)`` then ``Div``); the average divides by n^2, so alpha is Caffe's;
- the running-window form caffe-lrn writes (``--form caffe-order``): a ``Scan`` whose body is
  ``running_window_step`` (:mod:`caffe_lrn.frameworks.onnx`), with alpha/n (float64) on the
  heads, as TF's convention.

The window's axis is traced back through ``Transpose`` nodes (and element-wise ops that keep
the layout), so an LRN fed an NHWC tensor is seen to normalise over H. Shapes come from ONNX
shape inference when it succeeds.
"""
import numpy as np

from caffe_lrn.audit.model_files import read_model_bytes
from caffe_lrn.audit.ops import (
    ACROSS, CAFFE_CONVENTION, TF_CONVENTION, WITHIN, ConvertedLRN, ConvertedModel,
)
from caffe_lrn.frameworks.deps import import_onnx
from caffe_lrn.errors import ConvertedModelError

# Ops that keep the layout of their (first) input: the window's axis is traced through them.
# (Conv, pooling and the like define NCHW themselves: the trace stops there.)
LAYOUT_KEEPING = {"Relu", "Identity", "Dropout", "LeakyRelu", "Clip", "Cast", "Sigmoid",
                  "Tanh", "Elu", "PRelu", "Abs", "Neg", "LRN", "Mul", "Add", "Sub", "Div",
                  "Pow", "Sqrt", "Exp", "Log"}
# The running-window body's graph name ends so (caffe_lrn.frameworks.onnx prefixes it).
SCAN_BODY = "running_window_step"
ONNX_LRN_DEFAULTS = {"alpha": 1e-4, "beta": 0.75, "bias": 1.0}


def load_onnx(path):
    """The ``onnx.ModelProto`` at ``path`` (external data is not loaded: not needed here)."""
    onnx, _ = import_onnx()
    from google.protobuf.message import DecodeError

    data = read_model_bytes(path)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ConvertedModelError(f"{path}: not a valid ONNX model ({exc})") from None
    if not model.HasField("graph"):
        raise ConvertedModelError(f"{path}: not a valid ONNX model (no graph)")
    return model


def default_opset(model):
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            return opset.version
    return None


class GraphIndex:
    """Producers, consumers, constants and shapes of an ONNX graph."""

    def __init__(self, model):
        onnx, _ = import_onnx()
        from onnx import numpy_helper

        self.model = model
        graph = model.graph
        self.nodes = list(graph.node)
        self.producer = {}
        self.consumers = {}
        for index, node in enumerate(self.nodes):
            for name in node.output:
                self.producer[name] = index
            for name in node.input:
                self.consumers.setdefault(name, []).append(index)
        self.constants = {}
        for tensor in graph.initializer:
            self.constants[tensor.name] = tensor
        for node in self.nodes:
            if node.op_type == "Constant" and node.output:
                for attribute in node.attribute:
                    if attribute.name == "value":
                        self.constants[node.output[0]] = attribute.t
        self._numpy_helper = numpy_helper
        self.shapes = {}
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
            values = list(inferred.graph.value_info) + list(inferred.graph.input) + \
                list(inferred.graph.output)
        except Exception:  # a model shape inference cannot handle: no shapes, no harm
            values = list(graph.value_info) + list(graph.input) + list(graph.output)
        for value in values:
            shape = _static_shape(value)
            if shape is not None:
                self.shapes[value.name] = shape

    def constant(self, name):
        """The value of an initializer or Constant output as a NumPy array, else None."""
        tensor = self.constants.get(name)
        if tensor is None:
            return None
        try:
            return self._numpy_helper.to_array(tensor)
        except Exception:
            return None

    def scalar(self, name):
        value = self.constant(name)
        if value is None or value.size != 1:
            return None
        return float(value.reshape(()))

    def node_of(self, name, op_type=None):
        index = self.producer.get(name)
        if index is None:
            return None, None
        node = self.nodes[index]
        if op_type is not None and node.op_type not in (
                (op_type,) if isinstance(op_type, str) else op_type):
            return None, None
        return index, node

    def only_consumer(self, name, op_type):
        users = self.consumers.get(name, [])
        if len(users) != 1:
            return None, None
        node = self.nodes[users[0]]
        if node.op_type not in ((op_type,) if isinstance(op_type, str) else op_type):
            return None, None
        return users[0], node

    def trace_perm(self, name):
        """Map each axis of tensor ``name`` to the axis of the tensor its layout came from,
        walking up through Transpose and layout-keeping nodes."""
        perm = [0, 1, 2, 3]
        seen = 0
        while seen < 1000:
            seen += 1
            index, node = self.node_of(name)
            if node is None:
                break
            if node.op_type == "Transpose":
                order = attribute_value(node, "perm")
                if order is None or len(order) != 4:
                    break
                perm = [int(order[p]) for p in perm]
            elif node.op_type not in LAYOUT_KEEPING:
                break
            name = node.input[0]
        return tuple(perm)


def _static_shape(value):
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type" or not value.type.tensor_type.HasField("shape"):
        return None
    dims = []
    for dim in value.type.tensor_type.shape.dim:
        if not dim.HasField("dim_value"):
            return None
        dims.append(int(dim.dim_value))
    return tuple(dims)


def attribute_value(node, name, default=None):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _other(node, name):
    """The input of a two-input node that is not ``name`` (None if both or neither are)."""
    if len(node.input) != 2:
        return None
    a, b = node.input
    if a == name and b != name:
        return b
    if b == name and a != name:
        return a
    return None


def _lrn_node(index, node, graph):
    size = attribute_value(node, "size")
    if size is None:
        raise ConvertedModelError(f"ONNX LRN node {node.name!r} has no size attribute "
                                  "(required by the operator)")
    stored = {"size": int(size)}
    for key, default in ONNX_LRN_DEFAULTS.items():
        stored[key] = float(np.float32(attribute_value(node, key, default)))
    source = node.input[0]
    op = ConvertedLRN(
        name=node.name or node.output[0], fmt="onnx", op="LRN", region=ACROSS,
        size=int(size), alpha=stored["alpha"], convention=CAFFE_CONVENTION,
        beta=stored["beta"], bias=stored["bias"], perm=graph.trace_perm(source), axes=(1,),
        index=index, input=source, output=node.output[0],
        input_shape=graph.shapes.get(source), names=(node.name, node.output[0]),
        stored=stored, handle={"nodes": [index], "lrn_node": index})
    return op


def _within_composite(index, pool, graph):
    """The composite around the AveragePool ``pool`` (node ``index``), or None."""
    kernel = attribute_value(pool, "kernel_shape")
    if (kernel is None or len(kernel) != 2 or kernel[0] != kernel[1]
            or attribute_value(pool, "count_include_pad", 0) != 1):
        return None
    strides = attribute_value(pool, "strides", [1, 1])
    if list(strides) != [1, 1]:
        return None
    nodes = [index]
    square_index, square = graph.node_of(pool.input[0], ("Mul", "Pow"))
    if square is None:
        return None
    if square.op_type == "Mul":
        if len(square.input) != 2 or square.input[0] != square.input[1]:
            return None
    elif graph.scalar(square.input[1]) != 2.0:
        return None
    source = square.input[0]
    nodes.insert(0, square_index)
    scaled_index, scaled = graph.only_consumer(pool.output[0], "Mul")
    if scaled is None:
        return None
    alpha = graph.scalar(_other(scaled, pool.output[0]) or "")
    shifted_index, shifted = graph.only_consumer(scaled.output[0], "Add")
    if alpha is None or shifted is None:
        return None
    shift = graph.scalar(_other(shifted, scaled.output[0]) or "")
    power_index, power = graph.only_consumer(shifted.output[0], "Pow")
    if shift is None or power is None or power.input[0] != shifted.output[0]:
        return None
    exponent = graph.scalar(power.input[1])
    last_index, last = graph.only_consumer(power.output[0], ("Mul", "Div"))
    if exponent is None or last is None:
        return None
    if last.op_type == "Mul" and _other(last, power.output[0]) == source:
        beta = -exponent
    elif last.op_type == "Div" and list(last.input) == [source, power.output[0]]:
        beta = exponent
    else:
        return None
    nodes += [scaled_index, shifted_index, power_index, last_index]
    n = int(kernel[0])
    stored = {"kernel_shape": [n, n], "pads": list(attribute_value(pool, "pads", [0] * 4)),
              "alpha": alpha, "shift": shift, "beta": beta}
    op = ConvertedLRN(
        name=last.output[0], fmt="onnx", op="within-composite", region=WITHIN,
        size=n, alpha=float(np.float32(alpha)), convention=CAFFE_CONVENTION,
        beta=float(np.float32(beta)), bias=float(np.float32(shift)),
        perm=graph.trace_perm(source), axes=(2, 3), index=last_index, input=source,
        output=last.output[0], input_shape=graph.shapes.get(source),
        names=(last.name, last.output[0], pool.name), stored=stored,
        handle={"nodes": sorted(nodes)})
    pads = stored["pads"]
    p = (n - 1) // 2
    if pads != [p, p, p, p]:
        op.notes.append(f"pads {pads}: Caffe pads a {n}x{n} window by {p} on every side")
        op.handle["bad_pads"] = True
    return op


def _caffe_order(index, scan, graph):
    """The running-window form around the Scan node ``scan``, or None."""
    body = attribute_value(scan, "body")
    if body is None or not body.name.endswith(SCAN_BODY) or len(scan.input) != 3:
        return None
    nodes = [index]

    def producer(name, op_type):
        at, node = graph.node_of(name, op_type)
        if node is not None:
            nodes.append(at)
        return node

    start = producer(scan.input[0], "Expand")
    heads = producer(scan.input[1], "Mul")
    tails = producer(scan.input[2], "Slice")
    if start is None or heads is None or tails is None:
        return None
    k = graph.scalar(start.input[0])
    aos = graph.scalar(heads.input[1])
    tails_long = producer(tails.input[0], "Pad")
    padded64 = producer(heads.input[0], "Cast")
    if k is None or aos is None or tails_long is None or padded64 is None:
        return None
    tail_pads = graph.constant(tails_long.input[1])
    padded = producer(padded64.input[0], "Pad")
    square = producer(padded.input[0], "Mul") if padded is not None else None
    if tail_pads is None or square is None:
        return None
    n = int(tail_pads.reshape(-1)[1])
    source = square.input[0]
    # The shape feeding Expand: Shape(bottom) -> Gather.
    gather = producer(start.input[1], "Gather")
    if gather is not None:
        producer(gather.input[0], "Shape")
    # Forward: Slice -> Cast -> Pow -> Cast -> Mul(power, bottom).
    chain = scan.output[1]
    neg_beta = None
    last = None
    for op_type in ("Slice", "Cast", "Pow", "Cast", "Mul"):
        at, node = graph.only_consumer(chain, op_type)
        if node is None:
            return None
        nodes.append(at)
        if op_type == "Pow":
            neg_beta = graph.scalar(node.input[1])
        chain = node.output[0]
        last = node
    if neg_beta is None or source not in last.input:
        return None
    stored = {"local_size": n, "alpha_over_size": aos, "k": k, "beta": -neg_beta}
    return ConvertedLRN(
        name=last.output[0], fmt="onnx", op="caffe-order", region=ACROSS,
        size=n, alpha=aos, convention=TF_CONVENTION, beta=float(np.float32(-neg_beta)),
        bias=float(np.float32(k)), perm=graph.trace_perm(source), axes=(1,),
        index=at, input=source, output=last.output[0], input_shape=graph.shapes.get(source),
        names=(last.name, last.output[0], scan.name), stored=stored,
        handle={"nodes": sorted(set(nodes))})


def find_lrn_ops(model):
    """Every LRN operation of the ONNX ``model``, in graph order."""
    graph = GraphIndex(model)
    ops = []
    for index, node in enumerate(graph.nodes):
        if node.domain not in ("", "ai.onnx"):
            continue
        op = None
        if node.op_type == "LRN":
            op = _lrn_node(index, node, graph)
        elif node.op_type == "AveragePool":
            op = _within_composite(index, node, graph)
        elif node.op_type == "Scan":
            op = _caffe_order(index, node, graph)
        if op is not None:
            ops.append(op)
    ops.sort(key=lambda op: op.index)
    return ops, graph


def read_onnx(path):
    model = load_onnx(path)
    ops, _ = find_lrn_ops(model)
    notes = [f"opset {default_opset(model)}"]
    return ConvertedModel(fmt="onnx", path=str(path), ops=ops, source=model, notes=notes)
