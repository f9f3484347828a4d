"""Running the converted operation itself and measuring it against Caffe's exact output.

The operation runs in its own runtime when installed: ONNX (the node or subgraph cut out of
the model, run in ONNX Runtime), TF (``tf.raw_ops.LRN`` with
the node's attributes), TFLite (a one-operation TFLite model with the same options, run by
the TFLite interpreter). ncnn and OpenVINO have no runtime here: their operation is modelled
in float64 from its published definition (from-scratch window sums, the format's alpha
convention), rounded to float32, and the report says so.

The input is the layer's bottom blob from a reference dump when one is given; otherwise
standard normal numbers times ``sqrt(shift / alpha)`` (the shift is k across channels, 1
within), so that ``alpha * mean(x^2)`` equals the shift: the alpha term is as large as k and
a wrong alpha, k, size or region moves the output by far more than rounding.

Verdict bound: ``ROUNDING_BOUND_ULP`` = 64 float32 ULP. Native LRN operations with the right
parameters were measured 15 to 37 ULP from Caffe on AlexNet activations (they sum each window
from scratch where Caffe keeps a running sum, and take the power differently); 64 leaves room
for other activations while staying far below what a wrong parameter does (a wrong k or
region is millions of ULP off, an alpha off by the window size thousands).
"""
import numpy as np

from caffe_lrn.audit.ops import TF_CONVENTION
from caffe_lrn.frameworks.deps import import_onnx, import_tf
from caffe_lrn.errors import ConvertedModelError, MissingDependencyError
from caffe_lrn.layers import LRNLayer
from caffe_lrn.verify.comparison import compare_blobs

ROUNDING_BOUND_ULP = 64
GENERATED_SEED = 20260101
# When neither the reference nor the model fixes the bottom's shape: N != C != H != W.
DEFAULT_SHAPE = (2, 16, 9, 11)


def generated_bottom(params, shape):
    """``(bottom, description)``: standard normal times sqrt(shift / alpha)."""
    shift = 1.0 if params.within else params.k
    scale = float(np.sqrt(abs(shift) / params.alpha)) if params.alpha > 0 else 1.0
    rng = np.random.default_rng(GENERATED_SEED)
    bottom = (rng.standard_normal(shape) * scale).astype(np.float32)
    what = (f"generated: standard normal x {scale:.6g} = sqrt({'1' if params.within else 'k'}"
            f" / alpha), shape {list(shape)}, so alpha * mean(x^2) ~ "
            f"{'1' if params.within else 'k'}")
    return bottom, what


def _window_bounds(length, n):
    """First and one-past-last index of each position's window, clipped to ``length``: the
    window is ``[i - floor((n-1)/2), i + ceil((n-1)/2)]`` (ONNX's; centred for odd n)."""
    index = np.arange(length)
    return (np.clip(index - (n - 1) // 2, 0, length),
            np.clip(index + n // 2 + 1, 0, length))


def _window_sum(values, axis, n):
    """Sum over each position's window along ``axis``, by a cumulative sum (float64)."""
    moved = np.moveaxis(values, axis, 0)
    cumulative = np.concatenate([np.zeros((1,) + moved.shape[1:]), np.cumsum(moved, axis=0)])
    lo, hi = _window_bounds(moved.shape[0], n)
    return np.moveaxis(cumulative[hi] - cumulative[lo], 0, axis)


def modelled_top(op, x):
    """float64 model of ``op`` on ``x`` (in the op's layout), rounded to float32.

    ``x / (bias + a * window_sum(x^2))^beta`` with ``a`` = alpha (TF convention) or alpha
    divided by the window's size (n across, n^2 within); the window is zero-padded.
    """
    x64 = x.astype(np.float64)
    total = x64 * x64
    for axis in op.axes:  # within a plane: a box sum is a sum along H, then along W
        total = _window_sum(total, axis, op.size)
    divisor = float(op.size) ** len(op.axes)
    alpha = op.alpha if op.convention == TF_CONVENTION else op.alpha / divisor
    with np.errstate(all="ignore"):
        return (x64 * (op.bias + alpha * total) ** -op.beta).astype(np.float32)


def _session(model_bytes):
    _, onnxruntime = import_onnx()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 4  # a refused operation is reported once, by the report
    return onnxruntime.InferenceSession(model_bytes, options,
                                        providers=["CPUExecutionProvider"])


def extract_onnx(model, op):
    """The nodes of ``model`` from ``op.input`` to ``op.output`` as a model of their own, with
    the initializers and Constant nodes they use, the input's dimensions left free, and the
    model's opset. Raises ConvertedModelError when the operation reads another graph input."""
    onnx, _ = import_onnx()
    from onnx import TensorProto, helper

    graph = model.graph
    producer = {name: index for index, node in enumerate(graph.node) for name in node.output}
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    chosen, used, stack = set(), set(), [op.output]
    while stack:
        name = stack.pop()
        if not name or name == op.input or name in used:
            continue
        used.add(name)
        if name in initializers:
            continue
        if name not in producer:
            raise ConvertedModelError(f"{op.name!r}: reads graph input {name!r} besides its "
                                      f"bottom {op.input!r}; cannot run it on its own")
        index = producer[name]
        if index not in chosen:
            chosen.add(index)
            stack.extend(graph.node[index].input)
    nodes = [graph.node[index] for index in sorted(chosen)]
    dims = ["n", "c", "h", "w"]
    part = helper.make_graph(
        nodes, "lrn_op", [helper.make_tensor_value_info(op.input, TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(op.output, TensorProto.FLOAT, dims)],
        initializer=[initializers[name] for name in sorted(used) if name in initializers])
    extracted = helper.make_model(part, opset_imports=list(model.opset_import))
    extracted.ir_version = model.ir_version
    return extracted


def run_onnx_op(model, op, x):
    part = extract_onnx(model, op)
    session = _session(part.SerializeToString())
    (top,) = session.run([op.output], {op.input: x})
    return top


def run_tf_op(op, x):
    tf = import_tf()
    top = tf.raw_ops.LRN(input=tf.constant(x), depth_radius=(op.size - 1) // 2,
                         bias=op.bias, alpha=op.alpha, beta=op.beta)
    return top.numpy()


def run_tflite_op(op, x):
    tf = import_tf()
    radius, bias, alpha, beta = (op.size - 1) // 2, op.bias, op.alpha, op.beta

    @tf.function(input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    def lrn(value):
        return tf.nn.local_response_normalization(value, depth_radius=radius, bias=bias,
                                                  alpha=alpha, beta=beta)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [lrn.get_concrete_function()], lrn)
    content = converter.convert()
    interpreter = _tflite_interpreter(tf, content)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _tflite_interpreter(tf, content):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tf.lite.Interpreter(model_content=content, num_threads=1)


RUNTIMES = {
    "onnx": "ONNX Runtime (the node cut out of the model)",
    "tf": "TensorFlow (tf.raw_ops.LRN with the node's attributes)",
    "tflite": "TFLite interpreter (a one-op model with the operator's options)",
}


def run_converted(converted, op, bottom):
    """``(top, runtime)``: the converted operation on the NCHW ``bottom``, back in NCHW."""
    x = np.ascontiguousarray(np.transpose(bottom, op.perm), dtype=np.float32)
    runtime = missing = None
    try:
        if op.fmt == "onnx":
            y = run_onnx_op(converted.source, op, x)
            runtime = RUNTIMES["onnx"]
        elif op.fmt == "tf" and op.axes == (3,):
            y = run_tf_op(op, x)
            runtime = RUNTIMES["tf"]
        elif op.fmt == "tflite" and op.axes == (3,):
            y = run_tflite_op(op, x)
            runtime = RUNTIMES["tflite"]
    except MissingDependencyError as exc:
        missing = str(exc).split(";")[0]
    except ConvertedModelError:
        raise
    except Exception as exc:  # the runtime refuses the operation (ORT: an even LRN size)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        missing = f"its runtime refuses it: {first[-160:]}"
    if runtime is None:
        y = modelled_top(op, x)
        runtime = (f"float64 model of {op.fmt}'s {op.op} definition (no {op.fmt} runtime "
                   "here)" if missing is None else
                   f"float64 model of {op.fmt}'s {op.op} definition ({missing})")
    top = np.transpose(np.asarray(y, dtype=np.float32), np.argsort(op.perm))
    return np.ascontiguousarray(top), runtime


class Numbers:
    """The measured distance of one converted operation from Caffe's exact top.

    ``comparison``: a :class:`~caffe_lrn.verify.comparison.BlobComparison` (converted
    operation's top against caffe-lrn's Caffe top, the reference); ``input``: where the bottom
    came from; ``runtime``: what ran the operation.
    """

    def __init__(self, comparison, input_text, runtime):
        self.comparison = comparison
        self.input = input_text
        self.runtime = runtime

    @property
    def within_rounding(self):
        return (self.comparison.pattern_agrees
                and self.comparison.max_ulp <= ROUNDING_BOUND_ULP)

    def as_dict(self):
        data = {"input": self.input, "runtime": self.runtime,
                "bound_ulp": ROUNDING_BOUND_ULP, "within_rounding": self.within_rounding}
        data.update(self.comparison.as_dict())
        return data


def measure(converted, op, params, bottom, input_text):
    """Run ``op`` and Caffe's layer ``params`` on ``bottom``; a :class:`Numbers`."""
    caffe_top = LRNLayer(params).forward(bottom)
    top, runtime = run_converted(converted, op, bottom)
    return Numbers(compare_blobs(top, caffe_top), input_text, runtime)
