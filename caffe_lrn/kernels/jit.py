"""How the fused kernels are compiled: numba's options, and where the compiled code is cached.

numba caches a ``cache=True`` function next to its module (``__pycache__``), else in the
user's cache folder (``~/.cache/numba``), else in ``NUMBA_CACHE_DIR`` when set; when none
of them is writable it refuses to compile at all ("cannot cache function ...: no locator
available"). A non-root user of an installed copy (site-packages read-only) whose home is
not writable meets exactly that, on every command that reaches the kernels. So before the
kernels are compiled, :func:`cache_enabled` asks numba itself (one trivial ``cache=True``
function from this folder) whether it finds a place; when it does not, it points numba at a
private folder in the temporary directory (``<tmp>/caffe-lrn-numba-<uid>``, mode 0700,
refused when another user owns it), and when even that fails the kernels are compiled
without a cache (each process compiles again: a few seconds, the same bits).
"""
import os
import tempfile

import numba
from numba.core import config

_state = {}


def _numba_can_cache():
    try:
        numba.njit(cache=True)(_probe)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return False
    return True


def _probe():
    return 0


def private_cache_dir():
    """``<tmp>/caffe-lrn-numba-<uid>``, created 0700 and owned by this user, or None."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    path = os.path.join(tempfile.gettempdir(), f"caffe-lrn-numba-{uid}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return None
    # A folder someone else made in a shared /tmp must not feed us compiled code.
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        return None
    if not os.access(path, os.W_OK | os.X_OK):
        return None
    return path


def cache_enabled():
    """True when the kernels can be cached (finding numba a writable folder if needed)."""
    if "cache" not in _state:
        ok = _numba_can_cache()
        if not ok:
            folder = private_cache_dir()
            if folder is not None:
                config.CACHE_DIR = folder
                ok = _numba_can_cache()
        _state["cache"] = ok
    return _state["cache"]


#: The options of every fused kernel: no GIL (they run on threads), NumPy's error model
#: (inf and NaN are values, not exceptions), cached when numba has somewhere to put it.
JIT = dict(nogil=True, error_model="numpy", cache=cache_enabled())
