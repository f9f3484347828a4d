"""caffe-lrn: Caffe's Local Response Normalization, portable and checkable.

Load legacy Caffe nets (text or binary, V0/V1/current), run their LRN layers bit for bit as
Caffe's CPU code does, convert them to TensorFlow/PyTorch/ONNX conventions, and verify
reference activations in float32 ULPs.

The names below are imported when first used, so that importing the package is quick: the
``caffe-lrn`` command (:mod:`caffe_lrn.__main__`) installs its interrupt handling before
NumPy and protobuf load.
"""
import importlib

__version__ = "0.1.0"

from caffe_lrn.errors import (  # noqa: E402
    BlobError, CaffeLRNError, ConversionError, ConvertedModelError, InputFileError,
    LayerNotFoundError, LayerStateError, MissingDependencyError, NetParseError, NetUpgradeError,
    OutOfMemoryError, OutputExistsError, OutputIsInputError, ParameterError,
)

# Public name -> the module that defines it.
_LAZY = {
    "LRNParams": "caffe_lrn.params",
    "load_net": "caffe_lrn.nets.loader",
    "lrn_layers": "caffe_lrn.nets.lrn_layers",
    "LRNLayerInfo": "caffe_lrn.nets.lrn_layers",
    "LRNLayer": "caffe_lrn.layers",
}

__all__ = [
    "__version__", "LRNParams", "LRNLayer", "load_net", "lrn_layers", "LRNLayerInfo",
    "CaffeLRNError", "NetParseError", "NetUpgradeError", "ParameterError", "BlobError",
    "LayerStateError", "LayerNotFoundError", "ConversionError", "ConvertedModelError",
    "MissingDependencyError", "OutputExistsError", "OutputIsInputError", "InputFileError",
    "OutOfMemoryError",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        try:  # a subpackage used as an attribute: caffe_lrn.nets.loader
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # the subpackage exists but needs something missing
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
