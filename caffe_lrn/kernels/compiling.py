"""Compile a kernel before its threads start, and say so on a terminal when it takes a while.

numba compiles each kernel on its first call with a new combination of argument types, then
keeps the machine code in its cache (``NUMBA_CACHE_DIR``, else ``__pycache__`` beside the
kernel modules), so only the first run on a machine pays: a few seconds per kernel on two
cores. Only the kernels a call uses are compiled (a forward pass never compiles backward).

:func:`prepare` compiles for the types of one tile's arguments in the calling thread, so that
the pool's threads find the kernel ready instead of queuing on numba's compiler lock. When the
compile (not a cache load, which takes a fraction of a second) runs past :data:`NOTICE_AFTER`
seconds and stderr is a terminal, one line says what is happening and then how long it took.
"""
import sys
import threading
import time

#: Seconds after which a compile in progress is announced (a cache load finishes sooner).
NOTICE_AFTER = 0.5

_announced = []  # the first announcement explains; later ones are one short line each


def _write(text):
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _stderr_is_terminal():
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def prepare(kernel, *args, name=None):
    """Compile numba dispatcher ``kernel`` for the types of ``args`` unless it has been
    compiled (or loaded from the cache) in this process already.

    Only the first call per kernel is prepared: typing the arguments costs tens of
    microseconds, too much for every call. A later call with other argument types (a
    read-only blob, say) is compiled by numba itself, on the thread that needs it.
    """
    if kernel.overloads:
        return
    signature = tuple(kernel.typeof_pyval(arg) for arg in args)
    name = name or f"{kernel.py_func.__module__.rsplit('.', 1)[-1]}.{kernel.__name__}"
    shown = threading.Event()

    def announce():
        if _announced:
            _write(f"caffe-lrn: compiling the {name} kernel... ")
        else:
            _write(f"caffe-lrn: compiling the {name} kernel for this machine (first use only; "
                   f"later runs load it from numba's cache)... ")
        _announced.append(name)
        shown.set()

    timer = threading.Timer(NOTICE_AFTER, announce) if _stderr_is_terminal() else None
    start = time.perf_counter()
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        kernel.compile(signature)
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()
        if shown.is_set():
            _write(f"{time.perf_counter() - start:.1f} s\n")
