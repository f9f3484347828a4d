"""Hostile resource use: thread counts, unused .npz members, nets too large for memory."""
import numpy as np
import pytest

from caffe_lrn import parallel
from caffe_lrn.cli import main
from caffe_lrn.errors import ParameterError
from caffe_lrn.layers.backend import max_threads, resolve_threads
from caffe_lrn.layers.lrn import LRNLayer


def _one_error_line(captured):
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("caffe-lrn: error: "), captured.err
    assert "Traceback" not in captured.out + captured.err
    return lines[0]


# -- threads ---------------------------------------------------------------------------------

def test_thread_count_is_capped_with_the_rule_stated(monkeypatch):
    assert max_threads() >= 256
    assert resolve_threads(max_threads()) == max_threads()
    with pytest.raises(ParameterError, match="at most .* per core"):
        resolve_threads(max_threads() + 1)
    monkeypatch.setenv("CAFFE_LRN_THREADS", "5000")
    with pytest.raises(ParameterError, match="CAFFE_LRN_THREADS must be at most"):
        resolve_threads()


def test_run_with_5000_threads_is_one_line(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((2, 3, 4, 5), np.float32))
    code = main(["run", "--lrn-param", "local_size: 3", "--input", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "top.npy"), "--threads", "5000"])
    assert code == 1
    assert "at most" in _one_error_line(capsys.readouterr())
    assert not (tmp_path / "top.npy").exists()


def test_thread_limit_of_the_system_runs_the_rest_here(monkeypatch):
    """When the system refuses a new thread, the pieces still all run (same bits)."""
    x = np.random.default_rng(2).standard_normal((6, 5, 3, 4)).astype(np.float32)
    expected = LRNLayer.from_text("local_size: 3", backend="numpy", threads=1).forward(x)
    submitted = []

    def refuse_after_one(self, fn, *args, **kwargs):
        if submitted:
            raise RuntimeError("can't start new thread")
        submitted.append(fn)
        return original(self, fn, *args, **kwargs)

    original = parallel.ThreadPoolExecutor.submit
    monkeypatch.setattr(parallel.ThreadPoolExecutor, "submit", refuse_after_one)
    monkeypatch.setattr(parallel, "_pools", {})
    layer = LRNLayer.from_text("local_size: 3", backend="numpy", threads=3, chunk_images=1)
    top = layer.forward(x)
    assert submitted and np.array_equal(top.view(np.uint32), expected.view(np.uint32))
