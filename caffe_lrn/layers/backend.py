"""Which engine computes an LRN layer, and on how many threads.

Two backends give the same bits (the tests prove it):

- ``"numpy"``: the reference, pure NumPy (:mod:`caffe_lrn.layers`, :mod:`caffe_lrn.numerics.powf`);
- ``"numba"``: compiled kernels (:mod:`caffe_lrn.kernels`), from the optional extra
  ``pip install caffe-lrn[fast]``; float32 blobs only (float64 always runs on NumPy).

``backend=None`` means the environment variable ``CAFFE_LRN_BACKEND`` if set, else
``"auto"``: numba when it can be imported, NumPy otherwise. Asking for numba where it is
missing is an error, not a silent fallback.

``threads=None`` means ``CAFFE_LRN_THREADS`` if set, else the cores this process may use.
Work is split by images (or by pixels or channel planes when there are fewer images than
threads); the results never depend on the split.
"""
import os

from caffe_lrn.errors import MissingDependencyError, ParameterError

ENV_BACKEND = "CAFFE_LRN_BACKEND"
ENV_THREADS = "CAFFE_LRN_THREADS"
BACKENDS = ("auto", "numpy", "numba")

_numba_state = {}


def numba_available():
    """True when the numba kernels import (numba installed and working)."""
    if "ok" not in _numba_state:
        try:
            import caffe_lrn.kernels.across  # noqa: F401
            import caffe_lrn.kernels.within  # noqa: F401
        except ImportError as exc:
            _numba_state["ok"] = False
            _numba_state["why"] = str(exc)
        else:
            _numba_state["ok"] = True
    return _numba_state["ok"]


def resolve_backend(backend=None):
    """``"numpy"`` or ``"numba"`` for a requested ``backend`` (see the module docstring)."""
    source = "backend"
    if backend is None:
        backend = os.environ.get(ENV_BACKEND) or "auto"
        source = ENV_BACKEND
    name = str(backend).strip().lower()
    if name not in BACKENDS:
        raise ParameterError(f"{source} must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if name == "auto":
        return "numba" if numba_available() else "numpy"
    if name == "numba" and not numba_available():
        raise MissingDependencyError(
            f"the numba backend needs numba: pip install 'caffe-lrn[fast]' "
            f"({_numba_state.get('why', 'not importable')})")
    return name


def available_cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads=None):
    """The thread count for ``threads`` (None: ``CAFFE_LRN_THREADS``, else every core)."""
    source = "threads"
    if threads is None:
        text = os.environ.get(ENV_THREADS)
        if not text:
            return available_cores()
        threads, source = text, ENV_THREADS
    try:
        count = int(threads)
    except (TypeError, ValueError):
        raise ParameterError(f"{source} must be a whole number of threads, got {threads!r}") \
            from None
    if count < 1 or count != float(threads):
        raise ParameterError(f"{source} must be at least 1, got {threads!r}")
    return count
