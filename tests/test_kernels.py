"""The numba backend against the NumPy engine, bit for bit (needs the ``fast`` extra).

Every test compares the compiled kernels with the NumPy reference code on the same inputs:
glibc's powf on random bit patterns and special values, every Caffe reference case, random
non-square blobs with special values sprinkled in, unusual parameters, and every way of
cutting the work (chunks, threads, fewer images than threads).
"""
import numpy as np
import pytest

from caffe_lrn import LRNLayer, LRNParams
from caffe_lrn.numerics.ulp import count_differing, ulp_distance
from caffe_lrn.numerics.powf import powf
from test_lrn_layer import CASE_NAMES, params_of_case

pytestmark = pytest.mark.kernels


def same_bits(a, b):
    """Bitwise equality, NaN equal to NaN (whatever its payload)."""
    return count_differing(a, b) == 0 and np.array_equal(np.isnan(a), np.isnan(b))


def kernel_powf(x, y):
    from caffe_lrn.kernels import powf as numba_powf  # imported only where numba is installed

    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty_like(x)
    numba_powf.powf_array(x, np.float32(y), out)
    return out


# ------------------------------------------------------------------ glibc's powf
EXPONENTS = [-0.75, 2.0, -1.0, 0.5, -17.25, 3.0, -3.0, 1.0, 1e-30, -150.0, 127.5, np.inf,
             -np.inf, np.nan, 0.0, -0.0]


@pytest.mark.parametrize("y", EXPONENTS)
def test_powf_kernel_matches_numpy_powf_on_random_bit_patterns(y):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 2 ** 32, 200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    assert same_bits(kernel_powf(x, y), powf(x, np.float32(y)))


def test_powf_kernel_on_lrn_scales_and_special_values():
    rng = np.random.default_rng(12)
    scales = np.concatenate([1 + rng.random(100_000) * 3, rng.random(1000) * 1e-38,
                             np.exp(rng.uniform(-80, 80, 50_000))]).astype(np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 2.0 ** -149,
                        -(2.0 ** -149), 2.0 ** -126, 3.4e38, -3.4e38, -2.0, -0.5],
                       dtype=np.float32)
    for y in (-0.75, -0.5, 2.0, -2.0, 3.0, -1.0, 0.75, 200.0, -200.0):
        for x in (scales, special):
            assert same_bits(kernel_powf(x, y), powf(x, np.float32(y))), (y, x[:3])
    # A signalling NaN (quiet bit clear) as base or exponent gives x + y, as glibc does.
    snan = np.array([0x7F800001, 0xFF800123], dtype=np.uint32).view(np.float32)
    assert same_bits(kernel_powf(snan, 0.0), powf(snan, np.float32(0.0)))
    assert np.isnan(kernel_powf(np.float32([2.0]), snan[0])).all()


# ------------------------------------------------------------------ whole layers
def run(params, x, top_diff, **kwargs):
    layer = LRNLayer(params, **kwargs)
    top = layer.forward(x)
    return top, layer.backward(top_diff)


def assert_backends_agree(params, x, top_diff, **numba_kwargs):
    want = run(params, x, top_diff, backend="numpy", threads=1)
    got = run(params, x, top_diff, backend="numba", **numba_kwargs)
    assert same_bits(got[0], want[0]), "top"
    assert same_bits(got[1], want[1]), "bottom_diff"
    return got


@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_reference_case_bit_for_bit_with_numpy_and_caffe(refs, name):
    case = refs[name]
    top, bottom_diff = assert_backends_agree(params_of_case(case), case["x"],
                                             case["top_diff"])
    assert count_differing(top, case["top"]) == 0
    assert count_differing(bottom_diff, case["bottom_diff"]) == 0


def sprinkled_blob(rng, shape, scale=10.0):
    """Gaussian values with zeros, subnormals, huge values, inf and NaN sprinkled in."""
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=max(1, flat.size // 50), replace=False)
    specials = np.array([0.0, -0.0, 1e-40, -1e-42, 1e19, -3e20, np.inf, -np.inf, np.nan],
                        dtype=np.float32)
    flat[picks] = specials[rng.integers(0, specials.size, picks.size)]
    return x


PARAMS = [
    dict(local_size=5, alpha=1e-4, beta=0.75, k=1.0),
    dict(local_size=3, alpha=2.0, beta=0.75, k=2.0),
    dict(local_size=1, alpha=0.3, beta=1.5, k=0.5),
    dict(local_size=9, alpha=1e-2, beta=0.6, k=1.0),  # window larger than C below
    dict(local_size=5, alpha=0.0, beta=0.75, k=1.0),  # axpy with alpha 0 is skipped
    dict(local_size=3, alpha=1e-3, beta=0.0, k=1.0),
    dict(local_size=3, alpha=-1e-3, beta=-1.0, k=3.0),
    dict(local_size=3, alpha=1e-3, beta=0.75, k=0.0),
    dict(local_size=3, alpha=5e-5, beta=0.75, norm_region="WITHIN_CHANNEL"),
    dict(local_size=5, alpha=1e-1, beta=0.6, norm_region="WITHIN_CHANNEL"),
    dict(local_size=7, alpha=1.0, beta=1.0, norm_region="WITHIN_CHANNEL"),  # window > image
    dict(local_size=1, alpha=2.0, beta=0.5, norm_region="WITHIN_CHANNEL"),
    dict(local_size=3, alpha=0.0, beta=0.75, norm_region="WITHIN_CHANNEL"),  # constant 1
    dict(local_size=3, alpha=1e-2, beta=-1.0, norm_region="WITHIN_CHANNEL"),  # no power
]


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("index", range(len(PARAMS)),
                         ids=["-".join(f"{v}" for v in p.values()) for p in PARAMS])
def test_random_blobs_with_special_values(index, exact):
    param = PARAMS[index]
    rng = np.random.default_rng(100 + index)
    params = LRNParams(**param)
    x = sprinkled_blob(rng, (3, 7, 6, 5))
    top_diff = sprinkled_blob(rng, x.shape, scale=1.0)
    if exact:
        assert_backends_agree(params, x, top_diff)
    else:
        # The fast modes of the two engines differ (NumPy's power is not the kernels'), so
        # each is held to the exact engine here; tests/test_fast_mode.py has the bounds.
        top, _ = run(params, x, top_diff, backend="numba", exact=False)
        want, _ = run(params, x, top_diff, backend="numpy")
        assert ulp_distance(top, want).max() <= 2
        assert np.array_equal(np.isnan(top), np.isnan(want))
        assert np.array_equal(np.isinf(top), np.isinf(want))


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
@pytest.mark.parametrize("exact", [True, False])
def test_threads_and_chunks_give_the_same_bits(region, exact):
    rng = np.random.default_rng(21)
    params = LRNParams(local_size=5, alpha=1e-3, beta=0.75, norm_region=region)
    x = sprinkled_blob(rng, (5, 6, 7, 9))
    top_diff = sprinkled_blob(rng, x.shape, scale=1.0)
    want = run(params, x, top_diff, backend="numba", threads=1, exact=exact)
    for kwargs in (dict(threads=2), dict(threads=3), dict(threads=8), dict(chunk_images=1),
                   dict(chunk_images=2, threads=2), dict(chunk_images=5, threads=3)):
        got = run(params, x, top_diff, backend="numba", exact=exact, **kwargs)
        assert same_bits(got[0], want[0]) and same_bits(got[1], want[1]), kwargs
    # Fewer images than threads: pixels (ACROSS) or channel planes (WITHIN) are split.
    one = run(params, x[:1], top_diff[:1], backend="numba", threads=1, exact=exact)
    split = run(params, x[:1], top_diff[:1], backend="numba", threads=4, exact=exact)
    assert same_bits(split[0], one[0]) and same_bits(split[1], one[1])
    assert same_bits(one[0], want[0][:1])


def test_strided_read_only_and_big_endian_inputs(refs):
    case = refs["across_k2"]
    params = params_of_case(case)
    x, top_diff = case["x"], case["top_diff"]
    strided = np.repeat(x, 2, axis=3)[..., ::2]
    strided.flags.writeable = False
    for variant in (strided, np.asfortranarray(x), x.astype(">f4")):
        top, bottom_diff = run(params, variant, np.asfortranarray(top_diff), backend="numba")
        assert count_differing(top, case["top"]) == 0
        assert count_differing(bottom_diff, case["bottom_diff"]) == 0


def test_scale_blob_matches_numpy(refs):
    case = refs["across_alexnet"]
    scales = []
    for backend in ("numpy", "numba"):
        layer = LRNLayer(params_of_case(case), backend=backend)
        layer.forward(case["x"])
        scales.append(layer.scale)
    assert scales[0].shape == case["x"].shape
    assert same_bits(scales[1], scales[0])


def test_float64_and_beta_minus_two_run_on_numpy():
    """What the kernels do not cover goes to the NumPy engine, with its results."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 5))
    for params, blob in ((LRNParams(local_size=3, alpha=1e-2), x),
                         (LRNParams(local_size=3, alpha=1e-2, beta=-2.0,
                                    norm_region="WITHIN_CHANNEL"), x.astype(np.float32))):
        got = run(params, blob, np.ones_like(blob), backend="numba")
        want = run(params, blob, np.ones_like(blob), backend="numpy")
        assert same_bits(got[0], want[0]) and same_bits(got[1], want[1])
        assert got[0].dtype == blob.dtype


def test_square_shortcut_on_a_sample_of_floats():
    """powf(x, 2) through the shortcut equals glibc's algorithm (a sample; the slow test
    below checks every float in the shortcut's range)."""
    from numba import njit

    from caffe_lrn.kernels.powf import square_main

    @njit(error_model="numpy")
    def squares(x, out):
        for i in range(x.size):
            value, needs = square_main(x[i])
            out[i] = value
            if needs:
                out[i] = np.float32(np.nan)  # left to powf: not compared

    rng = np.random.default_rng(31)
    x = rng.integers(0, 2 ** 32, 2_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    out = np.empty_like(x)
    squares(x, out)
    decided = ~np.isnan(out)
    assert decided.mean() > 0.25  # the shortcut decides most of them (and every zero)
    assert same_bits(out[decided], powf(x[decided], np.float32(2)))


@pytest.mark.slow
def test_square_shortcut_on_every_float_in_its_range():
    """Every float32 in [2^-50, 2^60] (about 9 * 10^8): where the shortcut decides, it gives
    glibc's powf(x, 2) bits, compared with the kernel's full algorithm (itself checked
    against the NumPy emulation and libm). About 5 s."""
    from numba import njit

    from caffe_lrn.kernels.intrinsics import f32_from_bits
    from caffe_lrn.kernels.powf import SQUARE_HI, SQUARE_LO, powf_main, square_main

    @njit(nogil=True, error_model="numpy")
    def mismatches(start, stop):
        bad = 0
        decided = 0
        for bits in range(start, stop):
            x = f32_from_bits(np.int32(bits))  # positive floats: bits < 2^31
            value, needs = square_main(x)
            if not needs:
                decided += 1
                full, special = powf_main(x, 2.0)
                if special or full != value:
                    bad += 1
        return bad, decided

    lo = int(np.float32(SQUARE_LO).view(np.uint32))
    hi = int(np.float32(SQUARE_HI).view(np.uint32)) + 1
    bad, decided = mismatches(lo, hi)
    assert bad == 0
    assert decided > 0.99 * (hi - lo)


# ------------------------------------------------------------------ fast mode's kept blobs
@pytest.mark.parametrize("size", [3, 5, 1])
def test_kept_backward_matches_recomputing_backward(size):
    """WITHIN_CHANNEL's fast mode keeps the Power layer's input and output from forward;
    backward from them gives the bits of the kernel that recomputes the whole pipeline."""
    from caffe_lrn.kernels import lrn as kernels

    rng = np.random.default_rng(40 + size)
    params = LRNParams(local_size=size, alpha=2e-2, beta=0.75, norm_region="WITHIN_CHANNEL")
    assert kernels.keeps(params, True) and not kernels.keeps(params, False)
    x = sprinkled_blob(rng, (4, 6, 9, 7))
    top_diff = sprinkled_blob(rng, x.shape, scale=1.0)
    top, kept = kernels.forward_keep(x, params, threads=1)
    assert same_bits(top, kernels.forward(x, params, fast=True))
    power, base = kept
    assert power.shape == base.shape == (4, 6, 63) and power.dtype == np.float32
    want = kernels.backward(x, top_diff, params, fast=True)
    for kwargs in (dict(threads=1), dict(threads=3), dict(chunk_images=1, threads=2)):
        got = kernels.backward_kept(x, top_diff, params, kept, **kwargs)
        assert same_bits(got, want), kwargs


def test_layer_keeps_blobs_only_in_the_fast_within_mode():
    rng = np.random.default_rng(44)
    x = np.maximum(rng.standard_normal((3, 5, 8, 6), dtype=np.float32), 0) * 10
    x2 = x[::-1].copy()
    top_diff = rng.standard_normal(x.shape, dtype=np.float32)
    within = dict(local_size=3, alpha=5e-5, beta=0.75, norm_region="WITHIN_CHANNEL")
    layer = LRNLayer(LRNParams(**within), exact=False, backend="numba")
    layer.forward(x)
    assert layer._kept is not None and layer._kept[0].nbytes == x.nbytes
    # A later forward replaces what was kept: backward follows the last bottom.
    layer.forward(x2)
    fresh = LRNLayer(LRNParams(**within), exact=False, backend="numba")
    fresh.forward(x2)
    assert same_bits(layer.backward(top_diff), fresh.backward(top_diff))
    # Another shape: new blobs; back to the first: the right bits again.
    small = x[:2, :, :5].copy()
    layer.forward(small)
    assert layer._kept[0].shape == (2, 5, 30)
    assert same_bits(layer.backward(top_diff[:2, :, :5].copy()),
                     run(LRNParams(**within), small, top_diff[:2, :, :5].copy(),
                         backend="numba", exact=False)[1])
    layer.forward(x)
    assert same_bits(layer.backward(top_diff),
                     run(LRNParams(**within), x, top_diff, backend="numba", exact=False)[1])
    for params, exact in ((LRNParams(**within), True),
                          (LRNParams(**dict(within, beta=0.6)), False),
                          (LRNParams(local_size=5, alpha=1e-4, beta=0.75), False)):
        other = LRNLayer(params, exact=exact, backend="numba")
        other.forward(x)
        assert other._kept is None
