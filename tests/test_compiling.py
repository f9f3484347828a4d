"""The compile notice: once per kernel, on a terminal only, with the time it took."""
import io

import numpy as np
import pytest
from numba import njit

from caffe_lrn.kernels import compiling


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _fresh_kernel():
    # A new dispatcher each time: nothing compiled in this process, nothing cached.
    @njit
    def add_one(values, out):
        for index in range(values.size):
            out[index] = values[index] + np.float32(1)
    return add_one


@pytest.fixture
def announced(monkeypatch):
    monkeypatch.setattr(compiling, "_announced", [])
    monkeypatch.setattr(compiling, "NOTICE_AFTER", 0.0)  # announce even a quick compile


def test_first_compile_is_announced_once_on_a_terminal(monkeypatch, announced):
    stream = Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    kernel = _fresh_kernel()
    values = np.arange(5, dtype=np.float32)
    out = np.empty_like(values)
    compiling.prepare(kernel, values, out, name="test add_one")
    text = stream.getvalue()
    assert text.startswith("caffe-lrn: compiling the test add_one kernel for this machine "
                           "(first use only; later runs load it from numba's cache)... ")
    assert text.endswith(" s\n") and text.count("\n") == 1
    seconds = float(text.rsplit("... ", 1)[1].split()[0])
    assert seconds >= 0.0
    assert len(kernel.overloads) == 1
    kernel(values, out)
    assert list(out) == [1, 2, 3, 4, 5]
    # Compiled already: no second notice, no second compile.
    compiling.prepare(kernel, values, out, name="test add_one")
    assert stream.getvalue() == text
    # Another kernel: one short line, the explanation is not repeated.
    compiling.prepare(_fresh_kernel(), values, out, name="second")
    second = stream.getvalue()[len(text):]
    assert second.startswith("caffe-lrn: compiling the second kernel... ")
    assert second.count("\n") == 1 and "numba's cache" not in second


def test_no_notice_when_stderr_is_not_a_terminal(monkeypatch, announced):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    kernel = _fresh_kernel()
    values = np.arange(3, dtype=np.float32)
    compiling.prepare(kernel, values, np.empty_like(values))
    assert len(kernel.overloads) == 1
    assert stream.getvalue() == ""
