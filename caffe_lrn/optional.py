"""The optional heavy dependencies, imported on first use through one door: :func:`require`.

The core needs NumPy, protobuf and numba. TensorFlow, PyTorch, ONNX/ONNX Runtime, matplotlib
and OpenCV are pip extras; numba is a dependency that may still fail to load on a machine. A
module that needs one calls ``require(module, extra)`` inside the function that uses it, and
a missing one is a :class:`MissingDependencyError` whose ``pip install`` line names the
packages, never an ImportError traceback.
"""
import sys

from caffe_lrn.errors import MissingDependencyError


# What each extra installs, as pip arguments: hints name the packages themselves, which works
# from a source checkout and from an index alike ('caffe-lrn[tf]' needs caffe-lrn on an index).
EXTRA_PACKAGES = {
    "tf": "tensorflow-cpu",
    "torch": "torch==2.13.0 (the CPU wheel)",
    "onnx": "onnx onnxruntime",
    "plot": "matplotlib",
    "opencv": "'opencv-python-headless<5'",
    "fast": "'numba>=0.61'",
}


def install_hint(extra):
    """The pip command that installs what the extra ``extra`` (``tf``, ``plot``, ...) holds."""
    return f"pip install {EXTRA_PACKAGES.get(extra, f'.[{extra}]')}"


def require(module, extra, name=None, hint=None):
    """Import the optional ``module`` and return it, or raise MissingDependencyError.

    ``extra`` is the pip extra that provides it; ``name`` what to call it in the message
    (default: the module name); ``hint`` replaces the default ``pip install`` line.
    """
    try:
        # __import__ (not importlib) so that an import hook sees the request.
        __import__(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{name or module} is not installed ({exc}); install it with: "
            f"{hint or install_hint(extra)}") from None
    return sys.modules[module]
