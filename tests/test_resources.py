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


# -- .npz members: read when used, a run of images at a time ---------------------------------

NPZ_NET = """name: "small"
layer { name: "data" type: "Input" top: "data"
        input_param { shape { dim: 9 dim: 5 dim: 6 dim: 7 } } }
layer { name: "norm" type: "LRN" bottom: "data" top: "norm" lrn_param { local_size: 3 } }
"""


def _reference(tmp_path, compressed, shape=(9, 5, 6, 7), extra=None):
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    arrays = {"data": x, "norm": LRNLayer.from_text("local_size: 3").forward(x)}
    path = tmp_path / "ref.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays, **(extra or {}))
    net = tmp_path / "net.prototxt"
    net.write_text(NPZ_NET.replace("dim: 9", f"dim: {shape[0]}"))
    return str(net), path


def _break_member(path, member):
    """Overwrite the data of ``member`` past its .npy header with garbage (CRC and zlib
    stream broken): any attempt to read it fails."""
    import zipfile
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    raw = bytearray(path.read_bytes())
    # Past the first 8 KiB: the header is read (checked) when the archive is opened.
    start = info.header_offset + 30 + len(info.filename.encode()) + 8192
    raw[start:start + 64] = b"\xff" * 64
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("compressed", [False, True])
def test_verify_never_reads_an_unused_member(tmp_path, capsys, compressed):
    unused = np.random.default_rng(1).standard_normal((100, 200)).astype(np.float32)
    net, path = _reference(tmp_path, compressed, extra={"unused": unused})
    _break_member(path, "unused.npy")
    assert main(["verify", net, "--blobs", str(path)]) == 0, capsys.readouterr().err
    # The member is broken: reading it (as every member was read before) fails.
    from caffe_lrn.io.files import load_npz
    from caffe_lrn.errors import InputFileError
    with pytest.raises(InputFileError):
        load_npz(path)


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_member_is_read_in_runs_of_images(tmp_path, compressed):
    """Runs in any order give the member's bits; at most one run is in memory at a time."""
    import tracemalloc
    from caffe_lrn.io.lazy import open_npz
    from caffe_lrn.io.stream import read_images

    net, path = _reference(tmp_path, compressed, shape=(256, 8, 32, 32))  # 8 MB a blob
    with np.load(path) as whole:
        expected = whole["data"]
    blob = open_npz(path)["data"]
    assert (blob.shape, blob.dtype, blob.ndim) == ((256, 8, 32, 32), np.float32, 4)
    tracemalloc.start()
    try:
        for start, stop in [(0, 3), (3, 10), (200, 224), (5, 6)]:  # backwards restarts too
            assert np.array_equal(read_images(blob, start, stop), expected[start:stop])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        blob.close()
    assert peak < 4 * 2**20  # two copies of the longest run and a skip buffer, never 8 MB


def test_npz_member_data_offset_points_at_the_data(tmp_path):
    from caffe_lrn.io.lazy import open_npz
    _, path = _reference(tmp_path, compressed=False, shape=(3, 5, 6, 7))
    blob = open_npz(path)["norm"]
    with np.load(path) as whole:
        expected = whole["norm"]
    data = np.fromfile(path, dtype=np.float32, count=expected.size, offset=blob.data_offset)
    assert np.array_equal(data.reshape(expected.shape), expected)
