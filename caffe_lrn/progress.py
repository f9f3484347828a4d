"""A small progress bar for long runs, drawn on stderr only when it is a terminal.

No dependency: one line redrawn with ``\\r``, throttled to a few updates a second, erased
when the run ends so the report printed afterwards stays clean. When the stream is not a
terminal (a pipe, a file, a test's captured output) nothing is written at all.
"""
import sys
import time

_BAR_WIDTH = 28
_MIN_INTERVAL = 0.1  # seconds between redraws


class Progress:
    """Count work done out of ``total`` units and draw ``label [####----]  42%``.

    ``enabled=None`` means: on when ``stream`` is a terminal. Use as a context manager, or
    call :meth:`close` at the end.
    """

    def __init__(self, total, label="", stream=None, enabled=None):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled and total > 0
        self.total = total
        self.done = 0
        self.label = label
        self._last_draw = 0.0
        self._drawn = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def set_label(self, label):
        self.label = label
        self._draw(force=True)

    def advance(self, units=1):
        self.done = min(self.total, self.done + units)
        self._draw(force=self.done >= self.total)

    def render(self):
        """The bar's text (also used by tests, which have no terminal)."""
        fraction = self.done / self.total if self.total else 1.0
        filled = int(round(fraction * _BAR_WIDTH))
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        return f"{self.label} [{bar}] {fraction * 100:3.0f}%"

    def _draw(self, force=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < _MIN_INTERVAL:
            return
        self._last_draw = now
        self.stream.write("\r" + self.render()[:120] + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self):
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


class NoProgress:
    """Stands in for :class:`Progress` when no bar is wanted."""

    enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def set_label(self, label):
        pass

    def advance(self, units=1):
        pass

    def close(self):
        pass
