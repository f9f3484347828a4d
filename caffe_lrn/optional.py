"""The optional heavy dependencies, imported on first use through one door: :func:`require`.

The core needs only NumPy and protobuf. TensorFlow, PyTorch, ONNX/ONNX Runtime, matplotlib,
OpenCV and numba are pip extras; a module that needs one calls ``require(module, extra)``
inside the function that uses it, and a missing one is a :class:`MissingDependencyError`
that names the extra to install, never an ImportError traceback.
"""
import sys

from caffe_lrn.errors import MissingDependencyError


def install_hint(extra):
    """The pip command that installs the extra ``extra`` (``tf``, ``torch``, ``plot``, ...)."""
    return f"pip install 'caffe-lrn[{extra}]'"


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
