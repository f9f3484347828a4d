"""Chunked runs (caffe_lrn.io.stream, ``caffe-lrn run --max-memory``): the same bits as one run."""
import numpy as np
import pytest

from caffe_lrn import LRNLayer
from caffe_lrn.io.stream import (FIXED_OVERHEAD, WORK_PER_ELEMENT, images_per_chunk, parse_size,
                              run_npy)
from caffe_lrn.numerics.ulp import count_differing
from caffe_lrn.errors import BlobError, OutputExistsError, ParameterError
from caffe_lrn.io.files import load_npy, load_npz
from caffe_lrn.params import LRNParams
from fuzzing import run_cli

SHAPE = (7, 6, 5, 4)
PARAMS = {
    "across": LRNParams(local_size=3, alpha=2.0, beta=0.75, k=1.5),
    "within": LRNParams(local_size=3, alpha=3.0, beta=0.5, norm_region="WITHIN_CHANNEL"),
}


def _blobs(dtype=np.float32, shape=SHAPE, seed=3):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape).astype(dtype) * 3,
            rng.standard_normal(shape).astype(dtype))


def _whole(params, x, dy):
    layer = LRNLayer(params)
    top = layer.forward(np.ascontiguousarray(x))
    return top, layer.backward(np.ascontiguousarray(dy))


@pytest.mark.parametrize("region", sorted(PARAMS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, None])
def test_chunked_npz_equals_one_run(tmp_path, region, dtype, chunk):
    x, dy = _blobs(dtype)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "dy.npy", dy)
    summary = run_npy(PARAMS[region], tmp_path / "x.npy", tmp_path / "out.npz",
                      top_diff_path=tmp_path / "dy.npy", chunk_images=chunk)
    got = load_npz(tmp_path / "out.npz")
    top, bottom_diff = _whole(PARAMS[region], x, dy)
    assert sorted(got) == ["bottom_diff", "top"]
    assert got["top"].dtype == dtype and got["top"].shape == SHAPE
    assert count_differing(got["top"], top) == 0
    assert count_differing(got["bottom_diff"], bottom_diff) == 0
    assert summary["images_per_chunk"] == (chunk or 7)


@pytest.mark.parametrize("region", sorted(PARAMS))
def test_npy_output_is_top_memory_mappable(tmp_path, region):
    x, dy = _blobs()
    np.save(tmp_path / "x.npy", x)
    run_npy(PARAMS[region], tmp_path / "x.npy", tmp_path / "top.npy", chunk_images=2)
    top = load_npy(tmp_path / "top.npy", mmap=True)
    assert count_differing(top, _whole(PARAMS[region], x, dy)[0]) == 0


@pytest.mark.parametrize("layout", ["fortran", "big-endian"])
def test_odd_layouts_on_disk(tmp_path, layout):
    x, dy = _blobs()
    stored = np.asfortranarray(x) if layout == "fortran" else x.astype(">f4")
    np.save(tmp_path / "x.npy", stored)
    np.save(tmp_path / "dy.npy", dy.astype(">f4") if layout == "big-endian" else dy)
    run_npy(PARAMS["across"], tmp_path / "x.npy", tmp_path / "out.npz",
            top_diff_path=tmp_path / "dy.npy", chunk_images=3)
    got = load_npz(tmp_path / "out.npz")
    top, bottom_diff = _whole(PARAMS["across"], x, dy)
    assert got["top"].dtype == np.float32 and got["top"].dtype.isnative
    assert count_differing(got["top"], top) == 0
    assert count_differing(got["bottom_diff"], bottom_diff) == 0


@pytest.mark.parametrize("shape", [(0, 3, 5, 4), (2, 0, 5, 4), (2, 3, 0, 4), (2, 3, 5, 0)])
def test_empty_blobs_give_empty_outputs(tmp_path, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape, np.float32))
    np.save(tmp_path / "dy.npy", np.zeros(shape, np.float32))
    run_npy(PARAMS["within"], tmp_path / "x.npy", tmp_path / "out.npz",
            top_diff_path=tmp_path / "dy.npy")
    got = load_npz(tmp_path / "out.npz")
    assert got["top"].shape == shape and got["bottom_diff"].shape == shape


def test_memory_budget_sets_the_chunk():
    shape = (64, 96, 300, 300)
    per_image = 96 * 300 * 300 * 4 * WORK_PER_ELEMENT
    assert images_per_chunk(shape, 4, 512 * 2**20) == (512 * 2**20 - FIXED_OVERHEAD) // per_image
    assert images_per_chunk(shape, 4, 1) == 1  # an image over budget still runs, alone
    assert images_per_chunk(shape, 8, 2**40) == 64
    assert images_per_chunk((5, 0, 3, 3), 4, 1) == 5


@pytest.mark.parametrize("text,size", [("512M", 512 * 2**20), ("1G", 2**30), ("1.5g", 3 * 2**29),
                                       ("300MB", 300 * 2**20), ("64MiB", 64 * 2**20),
                                       ("4096", 4096), ("2k", 2048)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "M", "-1G", "0", "12Q", "1e9", "lots"])
def test_parse_size_refuses(text):
    with pytest.raises(ParameterError, match="memory size"):
        parse_size(text)


def test_refusals_leave_nothing_behind(tmp_path):
    x, dy = _blobs()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "dy.npy", dy[:, :3])
    with pytest.raises(BlobError, match=r"top_diff shape \(7, 3, 5, 4\) differs"):
        run_npy(PARAMS["across"], tmp_path / "x.npy", tmp_path / "out.npz",
                top_diff_path=tmp_path / "dy.npy")
    with pytest.raises(ParameterError, match="an .npy output holds top only"):
        run_npy(PARAMS["across"], tmp_path / "x.npy", tmp_path / "out.npy",
                top_diff_path=tmp_path / "dy.npy")
    (tmp_path / "out.npy").write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        run_npy(PARAMS["across"], tmp_path / "x.npy", tmp_path / "out.npy")
    assert (tmp_path / "out.npy").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dy.npy", "out.npy", "x.npy"]


def test_cli_max_memory_and_npy_output(tmp_path):
    x, dy = _blobs()
    np.save(tmp_path / "x.npy", x)
    code, out, err = run_cli(["run", "--lrn-param", "local_size: 3 alpha: 2 k: 1.5",
                              "--input", str(tmp_path / "x.npy"), "-o",
                              str(tmp_path / "top.npy"), "--max-memory", "1M"])
    assert (code, err) == (0, "")
    assert "top of lrn_param" in out
    assert count_differing(np.load(tmp_path / "top.npy"),
                           _whole(PARAMS["across"], x, dy)[0]) == 0
    code, out, err = run_cli(["run", "--lrn-param", "local_size: 3", "--input",
                              str(tmp_path / "x.npy"), "-o", str(tmp_path / "t.npz"),
                              "--max-memory", "lots"])
    assert code == 1 and err.startswith("caffe-lrn: error: a memory size looks like")
    code, out, err = run_cli(["run", "--lrn-param", "local_size: 3", "--input",
                              str(tmp_path / "x.npy"), "--top-diff", str(tmp_path / "x.npy"),
                              "-o", str(tmp_path / "t.npy")])
    assert code == 2 and "an .npy output holds top only" in err
