"""NaN, inf and overflow: Caffe's running channel window, reproduced and explained.

Every refs.npz case whose data holds a non-finite value or a square that overflows float32
(or is large enough to swallow k) is checked bit for bit, forward and backward, through
the API and through ``caffe-lrn run`` in one-image chunks. The poisoning rule of the
running window is derived independently and checked against Caffe's own output:

- a NaN entering the window makes every later channel of that pixel NaN (NaN - NaN);
- an infinite square (x = inf, or x*x overflowing) makes scale inf while inside the window
  (top = x * inf^-beta = +-0, NaN at the inf itself), and NaN once it leaves (inf - inf);
- a huge finite square leaving the window takes k and the small squares with it: what
  remains of scale is rounding residue of the huge square's size.
"""
import numpy as np
import pytest

from caffe_lrn import LRNLayer, LRNParams
from caffe_lrn.numerics.ulp import count_differing
from caffe_lrn.io.files import load_npz
from fuzzing import run_cli

FLOAT32_MAX = float(np.finfo(np.float32).max)


def _params(case):
    return LRNParams(local_size=int(case["local_size"]), alpha=float(case["alpha"]),
                     beta=float(case["beta"]), k=float(case["k"]),
                     norm_region=str(case["norm_region"]))


def _extreme(case):
    """Non-finite data, or squares that overflow float32 or dwarf k by 1e30."""
    arrays = [case["x"], case["top"], case["bottom_diff"]]
    if any(not np.isfinite(a).all() for a in arrays):
        return True
    return bool((np.abs(case["x"].astype(np.float64)) ** 2 > 1e30).any())


def extreme_cases(refs):
    return sorted(name for name, case in refs.items() if _extreme(case))


def test_the_extreme_cases_are_found(refs):
    # Chosen by their data, not their names, so a new reference case is never missed.
    assert extreme_cases(refs) == sorted([
        "across_allhuge", "across_huge", "across_huge1e20", "across_inf", "across_nan",
        "within_allhuge", "within_huge", "within_huge1e20", "within_nan"])


def _same(ours, caffe):
    return (count_differing(ours, caffe) == 0
            and np.array_equal(np.isnan(ours), np.isnan(caffe))
            and np.array_equal(np.signbit(ours[~np.isnan(ours)]),
                               np.signbit(caffe[~np.isnan(caffe)])))


def test_every_extreme_case_bit_for_bit_api(refs):
    for name in extreme_cases(refs):
        case = refs[name]
        layer = LRNLayer(_params(case))
        assert _same(layer.forward(case["x"]), case["top"]), name
        assert _same(layer.backward(case["top_diff"]), case["bottom_diff"]), name


def test_every_extreme_case_bit_for_bit_cli_chunked(refs, tmp_path):
    for name in extreme_cases(refs):
        case = refs[name]
        np.save(tmp_path / f"{name}_x.npy", case["x"])
        np.save(tmp_path / f"{name}_dy.npy", case["top_diff"])
        p = _params(case)
        text = (f"local_size: {p.local_size} alpha: {p.alpha!r} beta: {p.beta!r} k: {p.k!r} "
                f"norm_region: {p.norm_region}")
        out = tmp_path / f"{name}.npz"
        code, _, err = run_cli(["run", "--lrn-param", text, "--input",
                                str(tmp_path / f"{name}_x.npy"), "--top-diff",
                                str(tmp_path / f"{name}_dy.npy"), "-o", str(out),
                                "--chunk", "1"])
        assert (code, err) == (0, ""), name
        got = load_npz(out)
        assert _same(got["top"], case["top"]), name
        assert _same(got["bottom_diff"], case["bottom_diff"]), name


def predicted_across_pattern(x, local_size):
    """Per element: 'finite', 'zero' (scale is inf), or 'nan', from the running window alone.

    For each pixel, the first channel whose square is NaN or inf poisons the running sum:
    a NaN from the moment it enters the window, an inf square as inf while it is inside
    (NaN at an infinite x itself: inf * 0) and as NaN (inf - inf) once it has left.
    """
    pre_pad = (local_size - 1) // 2
    with np.errstate(over="ignore", invalid="ignore"):
        squares = np.square(x)
    pattern = np.full(x.shape, "finite", dtype=object)
    num, channels, height, width = x.shape
    for n, h, w in np.ndindex(num, height, width):
        bad = [c for c in range(channels) if not np.isfinite(squares[n, c, h, w])]
        if not bad:
            continue
        first = bad[0]
        for c in range(channels):
            if c < first - pre_pad:
                continue
            if np.isnan(squares[n, first, h, w]) or c > first + pre_pad:
                pattern[n, c, h, w] = "nan"
            elif not np.isfinite(x[n, c, h, w]):
                pattern[n, c, h, w] = "nan"  # inf * inf^-beta = inf * 0
            else:
                pattern[n, c, h, w] = "zero"
    return pattern


@pytest.mark.parametrize("name", ["across_huge1e20", "across_nan", "across_inf"])
def test_caffe_follows_the_window_poisoning_rule(refs, name):
    case = refs[name]
    pattern = predicted_across_pattern(case["x"], int(case["local_size"]))
    top = case["top"]
    assert np.array_equal(np.isnan(top), pattern == "nan")
    assert (top[pattern == "zero"] == 0).all()
    assert np.isfinite(top[pattern == "finite"]).all()
    # The textbook formula would give finite values where the running window gives NaN.
    later = (pattern == "nan") & np.isfinite(case["x"])
    assert later.any()


def test_nan_stays_in_its_channel_within_channel(refs):
    case = refs["within_nan"]
    nan_at = np.argwhere(np.isnan(case["x"]))
    assert len(nan_at) == 1
    n, c, _, _ = nan_at[0]
    nan_top = np.isnan(case["top"])
    # WITHIN_CHANNEL has no running sum: the NaN reaches the n x n box around it in its
    # own channel (here the whole 2 x 2 plane), nothing else.
    assert nan_top[n, c].all() and nan_top.sum() == nan_top[n, c].size


def test_huge_finite_value_leaving_the_window_wipes_out_k(refs):
    case = refs["across_huge"]
    x = case["x"].astype(np.float64)
    p = _params(case)
    huge = np.argwhere(np.abs(case["x"]) >= 1e19)
    n, c, h, w = huge[0]
    after = c + p.pre_pad + 1  # the first channel whose window no longer holds it
    assert after < x.shape[1]
    layer = LRNLayer(p)
    top = layer.forward(case["x"])
    assert count_differing(top, case["top"]) == 0
    # Textbook: scale = k + alpha/n * (small squares), about 1. Caffe: the residue left by
    # adding and then subtracting alpha/n * 1e38 in float32, some 1e29: k is gone.
    window = x[n, after - p.pre_pad:after + p.pre_pad + 1, h, w]
    textbook_scale = p.k + p.alpha / p.local_size * float((window ** 2).sum())
    assert textbook_scale < 10
    assert layer.scale[n, after, h, w] > 1e20
    assert abs(case["top"][n, after, h, w]) < 1e-15 * abs(
        x[n, after, h, w] * textbook_scale ** -p.beta)


def test_readme_example():
    layer = LRNLayer(LRNParams(local_size=5, alpha=1.0, beta=0.75))
    x = np.array([0.5, 1.0, 1e20, -0.2, 0.3, -1.5, 0.25], np.float32).reshape(1, 7, 1, 1)
    top = layer.forward(x).ravel()
    assert (top[:5] == 0).all() and np.isnan(top[5:]).all()
    x[0, 2] = 1e19
    top = layer.forward(x).ravel()
    assert np.isfinite(top).all() and np.abs(top[5:]).max() < 1e-20
    assert layer.scale.ravel()[5] > 1e28
