"""Run a Caffe LRN layer converted to TensorFlow, PyTorch or ONNX Runtime, in that framework.

``run_layer(framework, params, bottom) -> top``: ``bottom`` and ``top`` are Caffe NCHW
float32 blobs; layouts are changed on the way in and out. The forms themselves live in
:mod:`caffe_lrn.frameworks` (one home each: ``tf_ops``, ``torch``, ``onnx``), imported here
inside the functions, so the core package never needs a framework; a missing one raises
MissingDependencyError naming the pip extra to install.

Two forms of ACROSS_CHANNELS exist in every framework:

* the Caffe-order form (default): the framework's own ops arranged as Caffe's CPU code runs
  them. Caffe keeps a running channel window (add the head channel, subtract the tail) whose
  rounding error travels along the channel axis; on AlexNet activations its top is up to 36
  float32 ULP from the exact value, so no from-scratch kernel can agree with it closely. Here
  the window runs as a loop over channels, vectorised over N*H*W; each ``scale += a * x``
  is done in float64 and
  rounded to float32, which is the single rounding of Caffe's fused axpy (the float32
  product is exact in float64), and the power is taken in float64 and rounded once, like
  libm's powf. Agreement: a few ULP at most.
* the native form (``native=True``): ``tf.nn.local_response_normalization``,
  ``torch.nn.LocalResponseNorm`` or ONNX ``LRN`` with the converted parameters.

WITHIN_CHANNEL has no native op in any of them; both forms run the composite.
"""
import numpy as np

from caffe_lrn.convert.records import FRAMEWORKS, NCHW_TO_NHWC, NHWC_TO_NCHW, as_lrn_params
from caffe_lrn.errors import BlobError, ConversionError
from caffe_lrn.frameworks import onnx as onnx_layers, tf_ops, torch as torch_layers
from caffe_lrn.frameworks.deps import import_framework, import_onnx, import_tf, import_torch
from caffe_lrn.frameworks.forms import CAFFE_ORDER, NATIVE

__all__ = ["FRAMEWORKS", "run_layer", "onnx_model", "running_window", "import_tf",
           "import_torch", "import_onnx", "import_framework"]


def _form(native):
    return NATIVE if native else CAFFE_ORDER


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
    x = tf.constant(np.transpose(bottom, NCHW_TO_NHWC))
    top = tf_ops.lrn(tf, x, params, form=_form(native))
    return np.ascontiguousarray(np.transpose(top.numpy(), NHWC_TO_NCHW))


# --- PyTorch ----------------------------------------------------------------------------

def run_torch(params, bottom, native=False):
    torch = import_torch()
    x = torch.from_numpy(bottom.copy())
    with torch.no_grad():
        top = torch_layers.lrn(x, params, form=_form(native))
    return np.ascontiguousarray(top.numpy(), dtype=np.float32)


# --- ONNX Runtime -----------------------------------------------------------------------

def onnx_model(params, shape=None, native=False):
    """An ONNX model (opset 17) computing the converted layer: input "bottom", output "top".

    ACROSS_CHANNELS: Caffe's order (a Scan over channels) unless ``native``, which uses the
    ONNX ``LRN`` operator. WITHIN_CHANNEL: the AveragePool composite.
    """
    return onnx_layers.layer_model(as_lrn_params(params), shape, form=_form(native))


def run_onnx(params, bottom, native=False):
    session = onnx_layers.session(onnx_model(params, bottom.shape, native=native))
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
