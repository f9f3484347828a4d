"""The frameworks, imported on demand through :func:`caffe_lrn.optional.require`.

Every module that needs TensorFlow, Keras, PyTorch or ONNX gets it from here, so each
framework's name and pip extra are written once; a missing one is a MissingDependencyError.
"""
import os

from caffe_lrn.optional import require


def import_tf():
    """TensorFlow, quiet about its start-up logging, or MissingDependencyError."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return require("tensorflow", "tf", name="TensorFlow")


def import_keras():
    """Keras 3 (it comes with TensorFlow >= 2.16), or MissingDependencyError."""
    import_tf()
    return require("keras", "tf", name="Keras")


def import_torch():
    return require("torch", "torch", name="PyTorch")


def import_onnx():
    return (require("onnx", "onnx", name="ONNX"),
            require("onnxruntime", "onnx", name="ONNX Runtime"))


def import_framework(framework):
    """Import ``framework``'s packages now (``"tf"``, ``"torch"`` or ``"onnx"``;
    MissingDependencyError if absent), so that a command can refuse before its work rather
    than after it."""
    {"tf": import_tf, "torch": import_torch, "onnx": import_onnx}[framework]()


class LazyModule:
    """A framework module imported on its first attribute access (``load()`` imports it).

    Lets a module of this package name ``torch`` or ``onnx.helper`` at its top while
    importing the framework only when a function that needs it runs.
    """

    def __init__(self, load):
        self._load = load

    def __getattr__(self, name):
        return getattr(self._load(), name)


torch = LazyModule(import_torch)
onnx = LazyModule(lambda: import_onnx()[0])
onnx_helper = LazyModule(lambda: import_onnx()[0].helper)
