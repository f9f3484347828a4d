"""The fast mode (``exact=False``): its documented bounds against the exact engine.

Bounds (README, "Speed"): top within 2 float32 ULP of the exact engine's; bottom_diff within
2^-22 of the largest magnitude of the exact bottom_diff (it can be hundreds of ULP off
where its two terms cancel, as the exact engine is against a float64 formula); NaN and inf
exactly where the exact engine has them. Checked on every Caffe reference case and on random
blobs, for the NumPy engine and (marker ``kernels``) the numba kernels.
"""
import numpy as np
import pytest

from caffe_lrn import LRNLayer, LRNParams
from caffe_lrn.numerics.ulp import count_differing, ulp_distance
from test_lrn_layer import CASE_NAMES, params_of_case

TOP_ULP_BOUND = 2
DIFF_REL_BOUND = 2.0 ** -22

BACKENDS = ["numpy", pytest.param("numba", marks=pytest.mark.kernels)]


def run(params, x, top_diff, **kwargs):
    layer = LRNLayer(params, **kwargs)
    return layer.forward(x), layer.backward(top_diff)


def check_bounds(exact, fast):
    """The distances of fast from exact, after asserting the documented bounds."""
    (top, bottom_diff), (fast_top, fast_diff) = exact, fast
    for want, got in ((top, fast_top), (bottom_diff, fast_diff)):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        assert np.array_equal(np.isinf(got), np.isinf(want))
        assert np.array_equal(got[np.isinf(got)], want[np.isinf(want)])
    top_ulp = float(ulp_distance(fast_top, top).max(initial=0))
    assert top_ulp <= TOP_ULP_BOUND
    finite = np.isfinite(bottom_diff)
    magnitude = float(np.abs(bottom_diff[finite]).max(initial=0))
    error = float(np.abs(fast_diff[finite].astype(np.float64) - bottom_diff[finite])
                  .max(initial=0))
    assert error <= DIFF_REL_BOUND * magnitude
    return top_ulp, error / magnitude if magnitude else 0.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_bounds_on_every_reference_case(refs, name, backend):
    case = refs[name]
    params = params_of_case(case)
    exact = run(params, case["x"], case["top_diff"], backend=backend)
    fast = run(params, case["x"], case["top_diff"], backend=backend, exact=False)
    top_ulp, diff_rel = check_bounds(exact, fast)
    print(f"{name} {backend}: top {top_ulp:g} ULP, bottom_diff {diff_rel:.2e} relative")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("region, size, alpha", [("ACROSS_CHANNELS", 5, 1e-4),
                                                 ("WITHIN_CHANNEL", 3, 5e-5)])
@pytest.mark.parametrize("beta", [0.75, 0.6])
def test_bounds_on_random_blobs(backend, region, size, alpha, beta):
    """Post-ReLU activations as in AlexNet and cifar10 (the cases the fast mode is for),
    plus a wide range of magnitudes."""
    rng = np.random.default_rng(7)
    params = LRNParams(local_size=size, alpha=alpha, beta=beta, norm_region=region)
    x = np.maximum(rng.standard_normal((4, 24, 13, 11), dtype=np.float32), 0) * 40
    x[1] = np.exp(rng.uniform(-20, 8, x[1].shape)).astype(np.float32)
    top_diff = rng.standard_normal(x.shape, dtype=np.float32)
    exact = run(params, x, top_diff, backend=backend)
    fast = run(params, x, top_diff, backend=backend, exact=False)
    check_bounds(exact, fast)
    if beta == 0.75:  # the fast power is really another computation
        assert count_differing(fast[0], exact[0]) > 0


def test_fast_mode_wherever_a_layer_is_made():
    text = "local_size: 3 alpha: 0.0001 beta: 0.75"
    for layer in (LRNLayer(LRNParams(local_size=3, alpha=1e-4), exact=False),
                  LRNLayer.from_text(text, exact=False)):
        assert layer.exact is False
        assert "exact=False" in repr(layer)
    assert LRNLayer.from_text(text).exact is True


def test_numpy_fast_mode_uses_numpys_power(refs, monkeypatch):
    """The NumPy fast mode changes only the power: with glibc's power it is exact again."""
    from caffe_lrn.numerics import caffe_math as numerics
    from caffe_lrn.layers import lrn as lrn_module
    from caffe_lrn.layers import power as power_module

    case = refs["within_cifar"]
    params = params_of_case(case)
    fast = run(params, case["x"], case["top_diff"], backend="numpy", exact=False)
    assert count_differing(fast[0], case["top"]) > 0
    monkeypatch.setattr(lrn_module, "fast_powx", numerics.powx)
    monkeypatch.setattr(power_module, "fast_powx", numerics.powx)
    for name in ("within_cifar", "across_alexnet"):
        case = refs[name]
        top, bottom_diff = run(params_of_case(case), case["x"], case["top_diff"],
                               backend="numpy", exact=False)
        assert count_differing(top, case["top"]) == 0
        assert count_differing(bottom_diff, case["bottom_diff"]) == 0


def test_numpy_fast_mode_keeps_bound_on_near_midpoint_squares():
    """Isolated pixels whose squares sit next to float rounding midpoints: a plain x*x in the
    WITHIN_CHANNEL square moved top by 3 ulp here; glibc's square keeps the fast mode within 2."""
    rng = np.random.default_rng(5)
    v = rng.uniform(1, 2 ** 12, 4_000_000).astype(np.float32)
    exact_square = v.astype(np.float64) ** 2
    low = (exact_square.view(np.int64) & ((1 << 29) - 1)) - (1 << 28)
    v = v[np.abs(low) < (1 << 20)][:2 * 9 * 11 * 7]
    x = np.zeros((2, 9, 22, 14), np.float32)
    x[:, :, ::2, ::2] = v.reshape(2, 9, 11, 7)
    for alpha in (1.0, 1e-4):
        params = LRNParams(local_size=3, alpha=alpha, beta=0.75, norm_region="WITHIN_CHANNEL")
        exact = LRNLayer(params, backend="numpy").forward(x)
        fast = LRNLayer(params, backend="numpy", exact=False).forward(x)
        assert ulp_distance(fast, exact).max() <= 2
