"""Stopping on a signal without leaving anything behind.

The ``caffe-lrn`` command (:mod:`caffe_lrn.__main__`) calls :func:`install` first: SIGINT,
SIGTERM and SIGHUP then raise :class:`Interrupted` in the main thread, so every ``finally``
runs and temporary files are removed, and the command ends with exit code 128 + the signal
number (:func:`report`).

:func:`deferred` marks a step that must not be cut in two (creating a temporary file and
learning its name; importing modules, where C code may turn the exception into another
one): a signal that arrives meanwhile is acted on when the step ends. Blocking the signal
instead would not do: it is delivered to whichever thread does not block it (NumPy's BLAS
starts several), and Python then runs the handler in the main thread anyway.
"""
import contextlib
import signal
import sys
import threading

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

# "received": the first stop signal (None until one arrives); "depth": how many deferred()
# steps are open; "finished": the command is done, signals no longer stop anything.
_state = {"received": None, "depth": 0, "finished": False}


class Interrupted(KeyboardInterrupt):
    """A signal asked the command to stop (``signum``: which one)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame):
    # Act once: a second signal must not interrupt the cleanup the first one started.
    if _state["received"] is not None or _state["finished"]:
        return
    _state["received"] = signum
    if _state["depth"] == 0:
        raise Interrupted(signum)


def install():
    """Make SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread."""
    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop)


def finish():
    """The command is done: later signals are ignored (they would only break the exit)."""
    _state["finished"] = True


def received():
    """The signal that stopped the command, or None."""
    return _state["received"]


def report(signum=signal.SIGINT):
    """Say on stderr that ``signum`` stopped the command; return its exit code, 128 + signum
    (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""
    suffix = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
    print(f"caffe-lrn: interrupted{suffix}", file=sys.stderr)
    return 128 + signum


@contextlib.contextmanager
def deferred():
    """Run the block whole; a stop signal arriving meanwhile raises when it ends.

    Only the main thread defers (Python runs signal handlers there): in another thread the
    block just runs, and the interrupt reaches the main thread as usual.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
    if _state["depth"] == 0 and _state["received"] is not None and not _state["finished"]:
        raise Interrupted(_state["received"])
