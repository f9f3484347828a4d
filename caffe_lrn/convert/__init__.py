"""Conversion of Caffe LRN layers to and from TensorFlow, PyTorch and ONNX conventions.

Parameter mappings return :class:`Conversion` records (``exact``, ``notes``);
:func:`run_layer` runs a converted layer in the real framework (imported lazily);
:mod:`tf_params` holds TensorFlow's convention, :mod:`size_scaled` PyTorch's and ONNX's.
"""
from caffe_lrn.convert.frameworks import FRAMEWORKS, run_layer
from caffe_lrn.convert.records import (
    NCHW_TO_NHWC, NHWC_TO_NCHW, Conversion, OnnxLRN, TFLRN, TorchLRN, WithinComposite,
)
from caffe_lrn.convert.tf_params import caffe_to_tf, tf_to_caffe
from caffe_lrn.convert.size_scaled import (
    caffe_to_onnx, caffe_to_torch, onnx_to_caffe, torch_to_caffe,
)

__all__ = [
    "FRAMEWORKS", "run_layer", "Conversion", "TFLRN", "TorchLRN", "OnnxLRN", "WithinComposite",
    "NCHW_TO_NHWC", "NHWC_TO_NCHW", "caffe_to_tf", "tf_to_caffe", "caffe_to_torch",
    "torch_to_caffe", "caffe_to_onnx", "onnx_to_caffe",
]
