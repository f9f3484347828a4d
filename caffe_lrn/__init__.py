"""caffe-lrn: Caffe's Local Response Normalization, portable and checkable.

Load legacy Caffe nets (text or binary, V0/V1/current), run their LRN layers bit for bit as
Caffe's CPU code does, convert them to TensorFlow/PyTorch/ONNX conventions, and verify
reference activations in float32 ULPs.
"""
__version__ = "0.1.0"

from caffe_lrn.errors import (  # noqa: E402
    BlobError, CaffeLRNError, ConversionError, ConvertedModelError, InputFileError,
    LayerNotFoundError, LayerStateError, MissingDependencyError, NetParseError, NetUpgradeError,
    OutOfMemoryError, OutputExistsError, ParameterError,
)
from caffe_lrn.params import LRNParams  # noqa: E402
from caffe_lrn.nets.loader import load_net  # noqa: E402
from caffe_lrn.nets.lrn_layers import LRNLayerInfo, lrn_layers  # noqa: E402
from caffe_lrn.layers import LRNLayer  # noqa: E402

__all__ = [
    "__version__", "LRNParams", "LRNLayer", "load_net", "lrn_layers", "LRNLayerInfo",
    "CaffeLRNError", "NetParseError", "NetUpgradeError", "ParameterError", "BlobError",
    "LayerStateError", "LayerNotFoundError", "ConversionError", "ConvertedModelError",
    "MissingDependencyError", "OutputExistsError", "InputFileError", "OutOfMemoryError",
]
