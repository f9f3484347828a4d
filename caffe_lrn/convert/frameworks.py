"""Run a Caffe LRN layer converted to TensorFlow, PyTorch or ONNX Runtime, in that framework.

``run_layer(framework, params, bottom) -> top``: ``bottom`` and ``top`` are Caffe NCHW
float32 blobs; layouts are changed on the way in and out. The frameworks are imported here,
inside the functions, so the core package never needs them; a missing one raises
MissingDependencyError naming the pip extra to install.

Two forms of ACROSS_CHANNELS exist in every framework:

* the Caffe-order form (default): the framework's own ops arranged as Caffe's CPU code runs
  them. Caffe keeps a running channel window (add the head channel, subtract the tail) whose
  rounding error travels along the channel axis; on AlexNet activations its top is up to 36
  float32 ULP from the exact value, so no from-scratch kernel can agree with it closely. Here
  the window runs as a scan over channels; each ``scale += a * x`` is done in float64 and
  rounded to float32, which is the single rounding of Caffe's fused axpy (the float32
  product is exact in float64), and the power is taken in float64 and rounded once, like
  libm's powf. Agreement: a few ULP at most.
* the native form (``native=True``): ``tf.nn.local_response_normalization``,
  ``torch.nn.LocalResponseNorm`` or ONNX ``LRN`` with the converted parameters.

WITHIN_CHANNEL has no native op in any of them; both forms run the composite.
"""
import os

import numpy as np

from caffe_lrn.convert import tf_ops
from caffe_lrn.convert.records import (
    FRAMEWORKS, NCHW_TO_NHWC, NHWC_TO_NCHW, WithinComposite, as_lrn_params,
)
from caffe_lrn.convert.tf_params import caffe_to_tf
from caffe_lrn.convert.size_scaled import caffe_to_onnx, caffe_to_torch
from caffe_lrn.errors import BlobError, ConversionError
from caffe_lrn.optional import require



def import_tf():
    """TensorFlow, quiet about its start-up logging, or MissingDependencyError."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return require("tensorflow", "tf", name="TensorFlow")


def import_torch():
    return require("torch", "torch", name="PyTorch",
                   hint="pip install torch==2.13.0 (the CPU wheel) or 'caffe-lrn[torch]'")


def import_onnx():
    return (require("onnx", "onnx", name="ONNX"),
            require("onnxruntime", "onnx", name="ONNX Runtime"))


def _check_bottom(bottom):
    bottom = np.asarray(bottom)
    if bottom.ndim != 4:
        raise BlobError("Input must have 4 axes, corresponding to (num, channels, height, "
                        f"width); got shape {bottom.shape}")
    if bottom.dtype != np.float32:
        if bottom.dtype.kind != "f":
            raise BlobError(f"bottom must be a float32 blob, got dtype {bottom.dtype}")
        bottom = bottom.astype(np.float32)
    return np.ascontiguousarray(bottom)


# --- TensorFlow -------------------------------------------------------------------------

def running_window(local_size, channels):
    """Caffe's running window as one uniform scan: (steps, pad).

    Over the squares zero-padded to ``channels + local_size - 1`` channels, step j adds
    ``alpha_over_size * padded[j]`` and then subtracts ``alpha_over_size * padded[j - n]``
    (nothing for j < n). Steps ``n-1 ..`` give channels 0, 1, ... exactly in Caffe's order:
    channel 0 is k plus its first n terms, channel c >= 1 is channel c-1 plus the head, minus
    the tail.
    """
    return channels + local_size - 1, (local_size - 1) // 2


def run_tf(params, bottom, native=False):
    tf = import_tf()
    target = caffe_to_tf(params).target
    x = tf.constant(np.transpose(bottom, NCHW_TO_NHWC))
    if isinstance(target, WithinComposite):
        top = tf_ops.within_composite(tf, x, target.local_size, target.alpha, target.beta)
    elif native:
        top = tf_ops.across_native(tf, x, target.depth_radius, target.bias, target.alpha,
                                   target.beta)
    else:
        top = tf_ops.across_caffe_order(tf, x, params.local_size, target.alpha, params.k,
                                        params.beta)
    return np.ascontiguousarray(np.transpose(top.numpy(), NHWC_TO_NCHW))


# --- PyTorch ----------------------------------------------------------------------------

def torch_across_caffe_order(torch, x, params):
    """Caffe's ACROSS_CHANNELS forward from torch ops, in Caffe's order (NCHW)."""
    n = params.local_size
    channels = x.shape[1]
    steps, pad = running_window(n, channels)
    aos = float(np.float32(params.alpha) / np.float32(n))
    square = x * x
    padded = torch.nn.functional.pad(square, (0, 0, 0, 0, pad, pad))
    heads = padded.double() * aos
    scale = torch.full((x.shape[0],) + tuple(x.shape[2:]), params.k, dtype=torch.float32)
    scales = []
    for j in range(steps):
        scale = (scale.double() + heads[:, j]).float()
        if j >= n:
            scale = (scale.double() - heads[:, j - n]).float()
        if j >= n - 1:
            scales.append(scale)
    scale = torch.stack(scales, dim=1)
    return torch.pow(scale.double(), -float(params.beta)).float() * x


def run_torch(params, bottom, native=False):
    torch = import_torch()
    target = caffe_to_torch(params).target
    x = torch.from_numpy(bottom.copy())
    with torch.no_grad():
        if isinstance(target, WithinComposite):
            pool = torch.nn.functional.avg_pool2d(
                x * x, target.local_size, stride=1, padding=target.pad,
                count_include_pad=True)
            top = x * torch.pow(pool * target.alpha + 1.0, -target.beta)
        elif not native:
            top = torch_across_caffe_order(torch, x, params)
        else:
            layer = torch.nn.LocalResponseNorm(target.size, alpha=target.alpha,
                                               beta=target.beta, k=target.k)
            top = layer(x)
    return np.ascontiguousarray(top.numpy(), dtype=np.float32)


# --- ONNX Runtime -----------------------------------------------------------------------

def _onnx_scan_body(helper, TensorProto):
    """One step of Caffe's running window: add the head term, subtract the tail term.

    float64 arithmetic rounded to float32 after each operation (Caffe's fused axpy).
    """
    f32, f64 = TensorProto.FLOAT, TensorProto.DOUBLE
    nodes = [
        helper.make_node("Cast", ["scale_in"], ["s64"], to=f64),
        helper.make_node("Add", ["s64", "head"], ["with_head64"]),
        helper.make_node("Cast", ["with_head64"], ["with_head"], to=f32),
        helper.make_node("Cast", ["with_head"], ["with_head_back"], to=f64),
        helper.make_node("Sub", ["with_head_back", "tail"], ["without_tail64"]),
        helper.make_node("Cast", ["without_tail64"], ["scale_out"], to=f32),
        helper.make_node("Identity", ["scale_out"], ["scale_seq"]),
    ]
    inputs = [helper.make_tensor_value_info("scale_in", f32, None),
              helper.make_tensor_value_info("head", f64, None),
              helper.make_tensor_value_info("tail", f64, None)]
    outputs = [helper.make_tensor_value_info("scale_out", f32, None),
               helper.make_tensor_value_info("scale_seq", f32, None)]
    return helper.make_graph(nodes, "running_window_step", inputs, outputs)


def _onnx_across_caffe_order(helper, TensorProto, params):
    n = params.local_size
    pad = (n - 1) // 2
    aos = float(np.float32(params.alpha) / np.float32(n))
    i64 = TensorProto.INT64
    constants = [
        helper.make_tensor("channel_pads", i64, [8], [0, pad, 0, 0, 0, pad, 0, 0]),
        helper.make_tensor("tail_pads", i64, [8], [0, n, 0, 0, 0, 0, 0, 0]),
        helper.make_tensor("aos", TensorProto.DOUBLE, [], [aos]),
        helper.make_tensor("k", TensorProto.FLOAT, [], [params.k]),
        helper.make_tensor("nhw_axes", i64, [3], [0, 2, 3]),
        helper.make_tensor("zero", i64, [1], [0]),
        helper.make_tensor("neg_n", i64, [1], [-n]),
        helper.make_tensor("from_n_minus_1", i64, [1], [n - 1]),
        helper.make_tensor("big", i64, [1], [2 ** 62]),
        helper.make_tensor("axis1", i64, [1], [1]),
        helper.make_tensor("neg_beta", TensorProto.DOUBLE, [], [-params.beta]),
    ]
    nodes = [
        helper.make_node("Mul", ["bottom", "bottom"], ["square"]),
        helper.make_node("Pad", ["square", "channel_pads"], ["padded"]),
        helper.make_node("Cast", ["padded"], ["padded64"], to=TensorProto.DOUBLE),
        helper.make_node("Mul", ["padded64", "aos"], ["heads"]),
        helper.make_node("Pad", ["heads", "tail_pads"], ["tails_long"]),
        helper.make_node("Slice", ["tails_long", "zero", "neg_n", "axis1"], ["tails"]),
        helper.make_node("Shape", ["bottom"], ["shape"]),
        helper.make_node("Gather", ["shape", "nhw_axes"], ["nhw"]),
        helper.make_node("Expand", ["k", "nhw"], ["start"]),
        helper.make_node("Scan", ["start", "heads", "tails"], ["last", "scales"],
                         body=_onnx_scan_body(helper, TensorProto), num_scan_inputs=2,
                         scan_input_axes=[1, 1], scan_output_axes=[1]),
        helper.make_node("Slice", ["scales", "from_n_minus_1", "big", "axis1"], ["scale"]),
        helper.make_node("Cast", ["scale"], ["scale64"], to=TensorProto.DOUBLE),
        helper.make_node("Pow", ["scale64", "neg_beta"], ["power64"]),
        helper.make_node("Cast", ["power64"], ["power"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["power", "bottom"], ["top"]),
    ]
    return nodes, constants


def onnx_model(params, shape=None, native=False):
    """An ONNX model (opset 13) computing the converted layer: input "bottom", output "top".

    ACROSS_CHANNELS: Caffe's order (a Scan over channels) unless ``native``, which uses the
    ONNX ``LRN`` operator. WITHIN_CHANNEL: the AveragePool composite.
    """
    onnx, _ = import_onnx()
    from onnx import TensorProto, helper

    target = caffe_to_onnx(params).target
    params = as_lrn_params(params)
    dims = list(shape) if shape is not None else ["N", "C", "H", "W"]
    inputs = [helper.make_tensor_value_info("bottom", TensorProto.FLOAT, dims)]
    outputs = [helper.make_tensor_value_info("top", TensorProto.FLOAT, dims)]
    if isinstance(target, WithinComposite):
        p, n = target.pad, target.local_size
        constants = [helper.make_tensor("alpha", TensorProto.FLOAT, [], [target.alpha]),
                     helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
                     helper.make_tensor("neg_beta", TensorProto.FLOAT, [], [-target.beta])]
        nodes = [
            helper.make_node("Mul", ["bottom", "bottom"], ["square"]),
            helper.make_node("AveragePool", ["square"], ["pool"], kernel_shape=[n, n],
                             strides=[1, 1], pads=[p, p, p, p], count_include_pad=1),
            helper.make_node("Mul", ["pool", "alpha"], ["scaled"]),
            helper.make_node("Add", ["scaled", "one"], ["shifted"]),
            helper.make_node("Pow", ["shifted", "neg_beta"], ["scale"]),
            helper.make_node("Mul", ["bottom", "scale"], ["top"]),
        ]
    elif native:
        constants = []
        nodes = [helper.make_node("LRN", ["bottom"], ["top"], size=target.size,
                                  alpha=target.alpha, beta=target.beta, bias=target.bias)]
    else:
        nodes, constants = _onnx_across_caffe_order(helper, TensorProto, params)
    graph = helper.make_graph(nodes, "caffe_lrn", inputs, outputs, initializer=constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="caffe-lrn")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run_onnx(params, bottom, native=False):
    _, onnxruntime = import_onnx()
    model = onnx_model(params, bottom.shape, native=native)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    (top,) = session.run(["top"], {"bottom": bottom})
    return np.ascontiguousarray(top, dtype=np.float32)


_RUNNERS = {"tf": run_tf, "torch": run_torch, "onnx": run_onnx}


def run_layer(framework, params, bottom, native=False):
    """Run the Caffe LRN layer ``params`` converted to ``framework`` on an NCHW ``bottom``.

    ``framework``: "tf", "torch" or "onnx". ``params``: LRNParams (or an LRNParameter /
    LRN LayerParameter). Returns the NCHW float32 top. ACROSS_CHANNELS runs in Caffe's order
    unless ``native`` asks for the framework's own LRN op. Raises MissingDependencyError when the
    framework is not installed, ConversionError for an unknown framework, BlobError for a
    bottom that is not a 4-axis float blob.
    """
    if framework not in _RUNNERS:
        raise ConversionError(f"framework must be one of {', '.join(FRAMEWORKS)}, "
                              f"got {framework!r}")
    params = as_lrn_params(params)
    return _RUNNERS[framework](params, _check_bottom(bottom), native=native)
