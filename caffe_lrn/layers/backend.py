"""Which engine computes an LRN layer, and on how many threads.

Two backends give the same bits (the tests prove it):

- ``"numpy"``: the reference, pure NumPy (:mod:`caffe_lrn.layers`, :mod:`caffe_lrn.numerics.powf`);
- ``"numba"``: compiled kernels (:mod:`caffe_lrn.kernels`); numba is a dependency of the
  package, so this is what a plain install runs; float32 blobs only (float64 always runs on
  NumPy).

``backend=None`` means the environment variable ``CAFFE_LRN_BACKEND`` if set, else
``"auto"``: numba when it loads, NumPy otherwise, with a one-line notice on stderr (once per
process) saying why, since the results are the same bits but slower. Asking for numba where
it cannot load is an error, not a silent fallback.

``threads=None`` means ``CAFFE_LRN_THREADS`` if set, else the cores this process may use.
At most :func:`max_threads` (4 per core, and never fewer than 256): more threads than that
cannot run faster and only exhaust the system's thread limit, so a larger count is refused.
Work is split by images (or by pixels or channel planes when there are fewer images than
threads); the results never depend on the split.
"""
import os
import sys

from caffe_lrn.errors import MissingDependencyError, ParameterError
from caffe_lrn.optional import require

ENV_BACKEND = "CAFFE_LRN_BACKEND"
ENV_THREADS = "CAFFE_LRN_THREADS"
BACKENDS = ("auto", "numpy", "numba")

_numba_state = {}


def _load_kernels():
    """Import the kernels once; remember the module, or why it cannot be imported."""
    if "ok" not in _numba_state:
        try:
            # The one import of the compiled kernels: importing them imports numba, which
            # may fail to load, so it happens here, on first use, and nowhere else.
            kernels = require("caffe_lrn.kernels.lrn", "fast", name="numba")
        except MissingDependencyError as exc:
            _numba_state["ok"] = False
            _numba_state["why"] = str(exc)
        # Not only ImportError: a numba or llvmlite that does not fit this NumPy or CPU can
        # fail while loading in other ways, and the NumPy engine gives the same bits.
        except Exception as exc:  # noqa: BLE001
            _numba_state["ok"] = False
            _numba_state["why"] = " ".join(f"numba did not load: {exc.__class__.__name__}: "
                                           f"{exc}".split())
        else:
            _numba_state["ok"] = True
            _numba_state["kernels"] = kernels
    return _numba_state["ok"]


def numba_available():
    """True when the numba kernels import (numba installed and working)."""
    return _load_kernels()


def numba_kernels():
    """The numba kernel module (:mod:`caffe_lrn.kernels.lrn`); a MissingDependencyError
    saying why when numba does not load."""
    if not _load_kernels():
        raise MissingDependencyError(
            f"the numba backend is not available: {_numba_state.get('why', 'not importable')}")
    return _numba_state["kernels"]


def _notice_fallback():
    if _numba_state.get("noticed"):
        return
    _numba_state["noticed"] = True
    try:
        print(f"caffe-lrn: note: using the NumPy engine (same results, slower): "
              f"{_numba_state['why']}", file=sys.stderr)
    except (OSError, ValueError):
        pass


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
        if numba_available():
            return "numba"
        _notice_fallback()
        return "numpy"
    if name == "numba":
        numba_kernels()  # refuses, with the install hint, when numba is missing
    return name


def available_cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


#: The thread cap is this many threads per core, and never below MIN_THREAD_CAP.
THREADS_PER_CORE = 4
MIN_THREAD_CAP = 256


def max_threads():
    """The most threads a layer may use: 4 per core, at least 256."""
    return max(MIN_THREAD_CAP, THREADS_PER_CORE * available_cores())


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
    if count > max_threads():
        raise ParameterError(
            f"{source} must be at most {max_threads()} ({THREADS_PER_CORE} per core, at least "
            f"{MIN_THREAD_CAP}; this machine has {available_cores()} cores), got {threads!r}")
    return count
