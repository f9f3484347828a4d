"""Backend and thread selection, and the NumPy engine on several threads."""
import os
import subprocess
import sys

import numpy as np
import pytest

from caffe_lrn import LRNLayer, LRNParams
from caffe_lrn.layers import backend
from caffe_lrn.numerics.ulp import count_differing
from caffe_lrn.errors import MissingDependencyError, ParameterError
from caffe_lrn.parallel import run_pieces, spans


def test_backend_names_and_environment(monkeypatch):
    monkeypatch.delenv(backend.ENV_BACKEND, raising=False)
    assert backend.resolve_backend("numpy") == "numpy"
    assert backend.resolve_backend(" NumPy ") == "numpy"
    auto = backend.resolve_backend()
    assert auto == ("numba" if backend.numba_available() else "numpy")
    monkeypatch.setenv(backend.ENV_BACKEND, "numpy")
    assert backend.resolve_backend() == "numpy"
    assert LRNLayer(LRNParams()).backend == "numpy"
    monkeypatch.setenv(backend.ENV_BACKEND, "cuda")
    with pytest.raises(ParameterError, match="CAFFE_LRN_BACKEND must be one of.*'cuda'"):
        backend.resolve_backend()
    with pytest.raises(ParameterError, match="backend must be one of.*'blas'"):
        LRNLayer(LRNParams(), backend="blas")


def test_asking_for_a_missing_numba_is_an_error(monkeypatch, capsys):
    monkeypatch.setitem(backend._numba_state, "ok", False)
    monkeypatch.setitem(backend._numba_state, "why",
                        "numba is not installed (No module named 'numba'); install it with: "
                        "pip install 'numba>=0.61'")
    monkeypatch.setitem(backend._numba_state, "noticed", False)
    with pytest.raises(MissingDependencyError,
                       match=r"not available: numba is not installed .*pip install 'numba"):
        LRNLayer(LRNParams(), backend="numba")
    assert capsys.readouterr().err == ""
    # auto falls back to the NumPy engine and says so once, on one line.
    assert backend.resolve_backend("auto") == "numpy"
    assert backend.resolve_backend("auto") == "numpy"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No module named 'numba'" in err and "NumPy engine" in err


CLI = "import sys; from caffe_lrn.cli import main; sys.exit(main(sys.argv[1:]))"


def test_numba_that_fails_to_load_falls_back_through_the_cli(tmp_path):
    """A numba that cannot load (here: a module that raises on import) gives the NumPy
    engine and one notice line, not a traceback; the verdict is the same."""
    fake = tmp_path / "numba"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise OSError('llvmlite: cannot load libllvmlite.so')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get(
        "PYTHONPATH", ""))
    env.pop(backend.ENV_BACKEND, None)
    done = subprocess.run([sys.executable, "-c", CLI, "verify", "--example"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("caffe-lrn:")]
    assert notes == ["caffe-lrn: note: using the NumPy engine (same results, slower): numba "
                     "did not load: OSError: llvmlite: cannot load libllvmlite.so"]
    assert "Traceback" not in done.stderr
    assert "PASS: 6 of 6 LRN layers" in done.stdout


def test_thread_counts(monkeypatch):
    monkeypatch.delenv(backend.ENV_THREADS, raising=False)
    assert backend.resolve_threads() == backend.available_cores() >= 1
    assert backend.resolve_threads(3) == 3
    monkeypatch.setenv(backend.ENV_THREADS, "2")
    assert backend.resolve_threads() == 2
    assert LRNLayer(LRNParams()).threads == 2
    for bad in (0, -1, 1.5, "two"):
        with pytest.raises(ParameterError, match="threads"):
            backend.resolve_threads(bad)
    monkeypatch.setenv(backend.ENV_THREADS, "0")
    with pytest.raises(ParameterError, match="CAFFE_LRN_THREADS must be at least 1, got '0'"):
        LRNLayer(LRNParams())


def test_spans_cover_the_range_evenly():
    assert list(spans(10, 3)) == [(0, 4), (4, 7), (7, 10)]
    assert list(spans(2, 5)) == [(0, 1), (1, 2)]
    assert list(spans(0, 2)) == []


def test_run_pieces_uses_every_piece_and_reraises():
    seen = []
    run_pieces(seen.append, range(7), threads=3)
    assert sorted(seen) == list(range(7))

    def fail(piece):
        if piece == 2:
            raise ValueError("piece 2")
    with pytest.raises(ValueError, match="piece 2"):
        run_pieces(fail, range(4), threads=2)


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
def test_numpy_engine_threads_give_the_same_bits(region, monkeypatch):
    from caffe_lrn.layers import lrn as lrn_module

    monkeypatch.setattr(lrn_module, "CHUNK_ELEMENTS", 200)  # many chunks for the threads
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((5, 6, 7, 4)) * 20).astype(np.float32)
    top_diff = rng.standard_normal(x.shape).astype(np.float32)
    params = LRNParams(local_size=3, alpha=1e-2, norm_region=region)
    results = []
    for threads in (1, 2, 3):
        layer = LRNLayer(params, backend="numpy", threads=threads)
        results.append((layer.forward(x), layer.backward(top_diff)))
    for top, bottom_diff in results[1:]:
        assert count_differing(top, results[0][0]) == 0
        assert count_differing(bottom_diff, results[0][1]) == 0
