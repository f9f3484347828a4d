"""NaN bits: the same for every backend, thread count and chunking, Caffe's where the
reference shows them, and reported by verify when they differ from a reference."""
import json

import numpy as np
import pytest

from caffe_lrn.cli import main
from caffe_lrn.layers.lrn import LRNLayer
from caffe_lrn.params import LRNParams
from caffe_lrn.verify.comparison import compare_blobs

from conftest import REFERENCE

# The reproduction: +NaN in the input meets x86's default NaN (-NaN, from inf * 0) in the
# running window; local_size 3 makes the two meet in an addition whose operands NumPy's
# vectorised and scalar loops ordered differently (0xffc00000 vs 0x7fc00000).
X = np.array([0.2, 0.189, np.inf, -0.80, 0.57, -np.inf, -0.76, np.nan, -0.45, 1e20],
             np.float32).reshape(2, 5, 1, 1)
SPECIALS = np.array([np.nan, -np.nan, np.inf, -np.inf, 0, -0.0, 1, -1, 1e20, 1e-40],
                    np.float32)
PARAMS = ["local_size: 3", "local_size: 5", "local_size: 1", "local_size: 3 beta: -1",
          "local_size: 5 alpha: 2 beta: 0.5 k: 0", "local_size: 3 norm_region: WITHIN_CHANNEL"]


def _bits(text, top_diff, **options):
    layer = LRNLayer.from_text(text, **options)
    top = layer.forward(X.copy())
    return top.view(np.uint32).copy(), layer.backward(top_diff).view(np.uint32).copy()


def _split_bits(text, top_diff, backend):
    """Each image through its own forward and backward call (``run --chunk 1``)."""
    layer = LRNLayer.from_text(text, backend=backend)
    tops, diffs = [], []
    for n in range(X.shape[0]):
        tops.append(layer.forward(X[n:n + 1].copy()))
        diffs.append(layer.backward(top_diff[n:n + 1]))
    return (np.concatenate(tops).view(np.uint32), np.concatenate(diffs).view(np.uint32))


@pytest.mark.parametrize("text", PARAMS)
def test_numpy_nan_bits_do_not_depend_on_chunks_or_threads(text):
    rng = np.random.default_rng(11)
    for top_diff in (np.ones_like(X), rng.choice(SPECIALS, X.shape)):
        whole = _bits(text, top_diff, backend="numpy", threads=1)
        for options in (dict(chunk_images=1, threads=2), dict(chunk_images=2, threads=1)):
            got = _bits(text, top_diff, backend="numpy", **options)
            assert np.array_equal(got[0], whole[0]) and np.array_equal(got[1], whole[1])
        got = _split_bits(text, top_diff, "numpy")
        assert np.array_equal(got[0], whole[0]) and np.array_equal(got[1], whole[1])


def test_cli_chunk_1_and_2_give_the_same_nan_bits(tmp_path, capsys):
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "dy.npy", np.ones_like(X))
    outputs = []
    for chunk in ("1", "2"):
        out = tmp_path / f"out{chunk}.npz"
        assert main(["run", "--lrn-param", "local_size: 3", "--backend", "numpy",
                     "--chunk", chunk, "--input", str(tmp_path / "x.npy"),
                     "--top-diff", str(tmp_path / "dy.npy"), "-o", str(out)]) == 0
        with np.load(out) as z:
            outputs.append(z["bottom_diff"].view(np.uint32).copy())
    assert np.array_equal(outputs[0], outputs[1])


@pytest.mark.kernels
@pytest.mark.parametrize("text", PARAMS)
def test_numba_nan_bits_equal_numpy(text):
    rng = np.random.default_rng(12)
    for top_diff in (np.ones_like(X), rng.choice(SPECIALS, X.shape)):
        expected = _bits(text, top_diff, backend="numpy")
        for options in (dict(), dict(chunk_images=1, threads=2)):
            got = _bits(text, top_diff, backend="numba", **options)
            assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
        got = _split_bits(text, top_diff, "numba")
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


def test_nan_bits_match_caffe_on_every_reference_nan():
    """Every NaN element of Caffe's reference tops and bottom diffs, bit for bit."""
    compared = 0
    with np.load(REFERENCE / "refs.npz") as z:
        for name in (str(n) for n in z["case_names"]):
            field = lambda key: z[f"{name}__{key}"]  # noqa: E731
            if not (np.isnan(field("top")).any() or np.isnan(field("bottom_diff")).any()):
                continue
            region = str(field("norm_region"))
            params = LRNParams(local_size=int(field("local_size")), alpha=float(field("alpha")),
                               beta=float(field("beta")), k=float(field("k")),
                               norm_region=int(region) if region.isdigit() else region)
            for chunk in (None, 1):
                layer = LRNLayer(params, backend="numpy", chunk_images=chunk)
                top = layer.forward(field("x"))
                diff = layer.backward(field("top_diff"))
                for ours, caffe in ((top, field("top")), (diff, field("bottom_diff"))):
                    nan = np.isnan(caffe)
                    assert np.array_equal(ours.view(np.uint32)[nan], caffe.view(np.uint32)[nan])
                    compared += int(nan.sum())
    assert compared >= 2 * 36


def test_comparison_counts_nan_payloads_apart():
    reference = np.full((1, 2, 1, 3), np.nan, np.float32)
    ours = reference.copy()
    ours.view(np.uint32)[0, 1, 0, :2] ^= 0x80000000  # -NaN where the reference has +NaN
    c = compare_blobs(ours, reference)
    assert (c.nan_payload_differing, c.differing, c.nan_mismatch) == (2, 0, 0)
    assert c.passes()  # the policy: reported, not a failure


def test_verify_reports_nan_payloads(tmp_path, capsys):
    params = "local_size: 3"
    top = LRNLayer.from_text(params, backend="numpy").forward(X)
    flipped = top.copy()
    nan = np.isnan(flipped)
    flipped.view(np.uint32)[nan] ^= 0x80000000
    np.savez(tmp_path / "ref.npz", data=X, norm=flipped)
    net = tmp_path / "net.prototxt"
    net.write_text('layer { name: "norm" type: "LRN" bottom: "data" top: "norm" '
                   'lrn_param { local_size: 3 } }')
    assert main(["verify", str(net), "--blobs", str(tmp_path / "ref.npz"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["runs"][0]["layers"][0]["metrics"]
    assert metrics["nan_payload_differing"] == int(nan.sum()) > 0
    assert main(["verify", str(net), "--blobs", str(tmp_path / "ref.npz")]) == 0
    assert f"{int(nan.sum())} NaN elements have other NaN bits" in capsys.readouterr().out
