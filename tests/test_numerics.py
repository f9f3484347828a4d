"""The float32 primitives against exact references.

fma32 and fma64 are checked against exact rational arithmetic (fractions.Fraction, rounded
to nearest-even by hand); powf against glibc's own powf through ctypes where the platform's
libm is glibc, and against recorded glibc results everywhere.
"""
import ctypes
import ctypes.util
import math
import platform
from fractions import Fraction

import numpy as np
import pytest

from caffe_lrn.numerics import powf as powf_module
from caffe_lrn.errors import BlobError
from caffe_lrn.numerics.caffe_math import axpby, axpy, check_dtype, fma32, powx
from caffe_lrn.numerics.powf import fma64, powf


def bits32(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32)


def same_bits(a, b):
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    return (bits32(a) == bits32(b)) | (np.isnan(a) & np.isnan(b))


def round_to_float32(q):
    """Round an exact rational to the nearest float32 (ties to even), as a Python float."""
    if q == 0:
        return 0.0
    sign = -1 if q < 0 else 1
    q = abs(q)
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1
    # 2^e <= q < 2^(e+1); float32 keeps 24 bits, subnormals a fixed 2^-149 grid.
    lsb_exp = max(e - 23, -149)
    scaled = q / Fraction(2) ** lsb_exp
    m = scaled.numerator // scaled.denominator
    rest = scaled - m
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and m % 2 == 1):
        m += 1
    value = m * Fraction(2) ** lsb_exp
    if value >= Fraction(2) ** 128:
        return sign * math.inf
    return sign * float(value)


def exact_fma32(a, x, y):
    a, x, y = float(a), float(x), float(y)
    if not all(math.isfinite(v) for v in (a, x, y)):
        return float(np.float32(np.float64(a) * np.float64(x) + np.float64(y)))
    q = Fraction(a) * Fraction(x) + Fraction(y)
    if q == 0:
        # IEEE: an exact zero sum is +0 unless both addends are -0.
        product_negative = math.copysign(1, a) * math.copysign(1, x) < 0
        if (a == 0 or x == 0) and product_negative and math.copysign(1, y) < 0:
            return -0.0
        return 0.0
    return round_to_float32(q)


def random_bits32(rng, n):
    return rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)


# ------------------------------------------------------------------------------ fma32
def check_fma32_exact(a, x, y):
    got = fma32(a, x, y)
    want = np.array([exact_fma32(a, xi, yi) for xi, yi in zip(x, y)], dtype=np.float32)
    bad = ~same_bits(got, want)
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} differ, e.g. a={a!r} x={x[bad][:3]} y={y[bad][:3]} "
        f"got={got[bad][:3]} want={want[bad][:3]}")


def test_fma32_random_values_match_exact_rounding():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(3000) * 10).astype(np.float32)
    y = rng.uniform(-5, 5, 3000).astype(np.float32)
    for a in (np.float32(1e-4 / 5), np.float32(-0.3), np.float32(7.25)):
        check_fma32_exact(a, x, y)


def test_fma32_random_bit_patterns_match_exact_rounding():
    rng = np.random.default_rng(2)
    x = random_bits32(rng, 3000)
    y = random_bits32(rng, 3000)
    finite = np.isfinite(x) & np.isfinite(y)
    for a in random_bits32(rng, 3):
        if np.isfinite(a):
            with np.errstate(all="ignore"):
                check_fma32_exact(a, x[finite], y[finite])


def test_fma32_double_rounding_ties_are_rounded_once():
    # a*x = (1 + 2^-23)(1 - 2^-23) = 1 - 2^-46 exactly; with y = 2^24 + 2 the exact sum
    # 2^24 + 3 - 2^-46 lies just below the float32 midpoint 2^24 + 3. Rounding to double
    # first lands on the midpoint, and the tie then goes to the even 2^24 + 4: wrong.
    a = np.float32(1 + 2 ** -23)
    scale = np.float32(2.0) ** np.arange(-20, 21, 5).astype(np.float32)
    x = np.concatenate([scale, -scale]) * np.float32(1 - 2 ** -23)
    y = np.concatenate([scale, -scale]) * np.float32(2 ** 24 + 2)
    naive = (np.float64(a) * x.astype(np.float64) + y).astype(np.float32)
    check_fma32_exact(a, x, y)
    got = fma32(a, x, y)
    np.testing.assert_array_equal(got, y)  # 2^24 + 2 (scaled), not 2^24 + 4
    assert (~same_bits(naive, got)).sum() == x.size


def test_fma32_subnormal_results_match_exact_rounding():
    rng = np.random.default_rng(3)
    n = 3000
    x = (rng.uniform(-1, 1, n) * 2.0 ** rng.integers(-149, -110, n)).astype(np.float32)
    y = (rng.uniform(-1, 1, n) * 2.0 ** rng.integers(-149, -120, n)).astype(np.float32)
    for a in (np.float32(0.75), np.float32(-3.3), np.float32(1.5)):
        check_fma32_exact(a, x, y)


def test_fma32_overflow_inf_nan_and_signed_zero():
    big = np.float32(3.0e38)
    a = np.float32(2.0)
    x = np.array([big, -big, np.inf, np.nan, 0.0, -0.0, -0.0, 1.0], np.float32)
    y = np.array([0.0, 0.0, -np.inf, 1.0, -0.0, -0.0, 0.0, -2.0], np.float32)
    got = fma32(a, x, y)
    assert got[0] == np.inf and got[1] == -np.inf
    assert np.isnan(got[2]) and np.isnan(got[3])
    assert got[4] == 0 and not np.signbit(got[4])  # +0 + -0 = +0
    assert got[5] == 0 and np.signbit(got[5])  # -0 + -0 = -0
    assert got[6] == 0 and not np.signbit(got[6])
    assert got[7] == 0 and not np.signbit(got[7])  # exact cancellation gives +0


def test_fma32_matches_two_roundings_where_no_rounding_is_lost():
    # Sanity: where a*x is exact in float32, the fma is plain float32 addition.
    x = np.arange(-50, 50, dtype=np.float32)
    y = np.linspace(-3, 3, 100, dtype=np.float32)
    np.testing.assert_array_equal(fma32(np.float32(0.5), x, y), np.float32(0.5) * x + y)


@pytest.fixture(scope="module")
def libm():
    """glibc's libm through ctypes (a platform condition: elsewhere powf is another code)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("the comparison needs glibc's libm (powf differs between C libraries)")
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    lib.powf.restype = ctypes.c_float
    lib.powf.argtypes = (ctypes.c_float, ctypes.c_float)
    lib.fmaf.restype = ctypes.c_float
    lib.fmaf.argtypes = (ctypes.c_float, ctypes.c_float, ctypes.c_float)
    return lib


def libm_map(fn, *arrays):
    arrays = np.broadcast_arrays(*[np.asarray(a, np.float32) for a in arrays])
    flat = [a.ravel().tolist() for a in arrays]
    return np.array([fn(*args) for args in zip(*flat)], dtype=np.float32).reshape(
        arrays[0].shape)


def test_fma32_against_libm_fmaf(libm):
    rng = np.random.default_rng(4)
    x = random_bits32(rng, 20000)
    y = random_bits32(rng, 20000)
    for a in (np.float32(0.2), np.float32(-1.7e-5), random_bits32(rng, 1)[0]):
        with np.errstate(all="ignore"):
            got = fma32(a, x, y)
        want = libm_map(lambda xi, yi: libm.fmaf(float(a), xi, yi), x, y)
        assert int((~same_bits(got, want)).sum()) == 0


# ------------------------------------------------------------------------------ fma64
def test_fma64_matches_exact_rational_rounding():
    rng = np.random.default_rng(5)
    n = 4000
    a = rng.standard_normal(n) * 2.0 ** rng.integers(-30, 30, n)
    b = rng.standard_normal(n) * 2.0 ** rng.integers(-30, 30, n)
    c = -(a * b) * (1 + rng.choice([0, 2 ** -52, -2 ** -53, 2 ** -40], n))
    c[::3] = rng.standard_normal(n)[::3]
    got = fma64(a, b, c)
    want = np.array([float(Fraction(ai) * Fraction(bi) + Fraction(ci))
                     for ai, bi, ci in zip(a, b, c)])
    np.testing.assert_array_equal(got, want)
    # Where a*b + c cancels, the unfused evaluation loses what the fused one keeps.
    assert (a * b + c != got).sum() > 0


# ------------------------------------------------------------------------------ powf
# glibc 2.36's powf results (x86-64, the FMA build) for inputs where the plain double
# evaluation of its algorithm rounds to the neighbouring float: only the fused path gives
# these bits. Found by searching 60 million inputs; the values are libm's outputs.
GLIBC_FMA_SENSITIVE = [  # (x bits, y bits, powf bits, plain-double bits)
    (0x3F835A00, 0xC437310F, 0x31CC6E1C, 0x31CC6E1D),
    (0x3F7A8AD4, 0x451AD9BD, 0x18FB17A7, 0x18FB17A6),
    (0x3F8388C6, 0x44FC30D4, 0x671B4292, 0x671B4293),
    (0x3F83A5E6, 0x440F75E3, 0x4B19CAD5, 0x4B19CAD6),
    (0x3F7907D0, 0x445F1867, 0x2DB096C8, 0x2DB096C9),
    (0x3F7882CE, 0x450FF522, 0x0E21E01B, 0x0E21E01A),
    (0x3F8392A0, 0x44474885, 0x4F4A356D, 0x4F4A356E),
    (0x3F837E6A, 0x44DC7F1E, 0x61B91891, 0x61B91890),
    (0x3F7AB245, 0x4537C510, 0x13127726, 0x13127727),
    (0x3F7AD234, 0x45095220, 0x1F14D195, 0x1F14D196),
    (0x3F7A9DEA, 0x4528558F, 0x162B5DA4, 0x162B5DA3),
    (0x3F7A7111, 0x4509560A, 0x1CAA2A61, 0x1CAA2A62),
    (0x3F78E446, 0x453019B3, 0x06392B0A, 0x06392B09),
    (0x3F7A6A0C, 0x450E4717, 0x1B3B0BCF, 0x1B3B0BD0),
    (0x3F78ACC4, 0x452A2ABC, 0x067A0C99, 0x067A0C98),
    (0x3F78A1F2, 0x451E7905, 0x0A11195D, 0x0A11195E),
    (0x3F798F5F, 0x44E833C3, 0x1D52D0D8, 0x1D52D0D9),
]


def _sensitive_arrays():
    table = np.array(GLIBC_FMA_SENSITIVE, dtype=np.uint32)
    return [table[:, i].view(np.float32) for i in range(4)]


def test_powf_takes_the_fused_path_where_it_matters():
    x, y, glibc, plain = _sensitive_arrays()
    assert (bits32(powf(x, y)) == bits32(glibc)).all()
    # The unfused evaluation of the same algorithm gives the other neighbour.
    ix = x.view(np.uint32).copy()
    sign_bias = np.zeros(x.shape, np.uint32)
    ylogx = y.astype(np.float64) * powf_module._log2_inline(ix, fused=False)
    unfused = powf_module._finish(ylogx, sign_bias, fused=False)[0]
    assert (bits32(unfused) == bits32(plain)).all()


def test_powf_sensitive_table_is_glibc(libm):
    x, y, glibc, _ = _sensitive_arrays()
    assert (bits32(libm_map(libm.powf, x, y)) == bits32(glibc)).all()


def test_powf_against_libm_on_lrn_like_and_random_inputs(libm):
    """The emulation against the platform's powf: the count of differences must be 0."""
    rng = np.random.default_rng(6)
    scales = np.concatenate([
        rng.uniform(1, 1e6, 12000), 1 + rng.uniform(-1e-3, 1e-3, 12000),
        np.exp(rng.uniform(-80, 80, 12000)), 1 + rng.uniform(0, 10, 12000),
        [1.0, 2.0, 1e-4 / 5 + 1, 0.0, -0.0, np.inf, -np.inf, np.nan, 2.0 ** -149, 3.4e38],
    ]).astype(np.float32)
    differing = 0
    for exponent in (-0.75, -0.5, -1.0, -1.5, 2.0, 0.75, -2.0, 3.0, 0.5, -17.25):
        with np.errstate(all="ignore"):
            got = powf(scales, np.float32(exponent))
        want = libm_map(libm.powf, scales, np.float32(exponent))
        differing += int((~same_bits(got, want)).sum())
    x = random_bits32(rng, 30000)
    y = random_bits32(rng, 30000)
    with np.errstate(all="ignore"):
        differing += int((~same_bits(powf(x, y), libm_map(libm.powf, x, y))).sum())
    assert differing == 0


SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0 ** -149, -2.0 ** -149,
                     2.0 ** -126, 3.4028235e38, -3.4028235e38, 0.5, -0.5, 2.0, -2.0, 1e-40,
                     -1e-40], dtype=np.float32)
EXPONENTS = np.concatenate([SPECIALS, np.array(
    [3, -3, 0.75, -0.75, 127, -127, 128, -128, 149, -149, 150, -150, 1e9, -1e9, 2 ** 24 + 2,
     1.5], dtype=np.float32)])


def test_powf_special_values_follow_annex_f():
    x, y = np.meshgrid(SPECIALS, EXPONENTS)
    with np.errstate(all="ignore"):
        got = powf(x, y)
        # On these inputs the double power is exact (or overflows/underflows far from the
        # float boundary), so rounding it is the correctly rounded answer.
        want = np.power(x.astype(np.float64), y.astype(np.float64)).astype(np.float32)
    assert same_bits(got, want).all()


def test_powf_special_values_match_libm(libm):
    x, y = np.meshgrid(SPECIALS, EXPONENTS)
    with np.errstate(all="ignore"):
        got = powf(x, y)
    assert same_bits(got, libm_map(libm.powf, x, y)).all()


def test_powf_negative_base_and_signalling_nan():
    got = powf(np.array([-2.0, -2.0, -2.0, -0.0], np.float32),
               np.array([3.0, 2.0, 0.5, -3.0], np.float32))
    assert got[0] == -8 and got[1] == 4 and np.isnan(got[2]) and got[3] == -np.inf
    snan = np.array([0x7FA00000], np.uint32).view(np.float32)
    assert np.isnan(powf(snan, np.float32(0.0))[0])  # x + y, not 1
    assert powf(np.float32(np.nan), np.float32(0.0)) == 1  # a quiet NaN to the 0 is 1


def test_powf_is_within_one_ulp_of_the_double_power():
    rng = np.random.default_rng(7)
    x = np.exp(rng.uniform(-20, 20, 50000)).astype(np.float32)  # no over/underflow
    for exponent in (-0.75, 2.0, -3.3):
        got = powf(x, np.float32(exponent)).astype(np.float64)
        want = np.power(x.astype(np.float64), np.float64(np.float32(exponent)))
        assert (np.abs(got - want) <= np.spacing(want.astype(np.float32)).astype(np.float64)).all()


def test_powf_shapes_and_scalars():
    x = np.linspace(0.5, 3, 24, dtype=np.float32).reshape(2, 3, 4)
    got = powf(x, np.float32(-0.75))
    assert got.shape == (2, 3, 4) and got.dtype == np.float32
    assert powf(np.float32(4.0), np.float32(0.5)).shape == ()
    assert float(powf(np.float32(4.0), np.float32(0.5))) == 2.0


# ------------------------------------------------------------------------------ axpy & co
def test_axpy_float32_is_single_rounding_and_in_place():
    rng = np.random.default_rng(8)
    x = rng.standard_normal(500).astype(np.float32)
    y = rng.standard_normal(500).astype(np.float32)
    expected = fma32(np.float32(0.37), x, y)
    result = axpy(np.float32(0.37), x, y)
    assert result is y
    assert same_bits(y, expected).all()


def test_axpy_zero_alpha_leaves_y_untouched_like_openblas():
    y = np.array([1.0, 2.0], np.float32)
    axpy(0.0, np.array([np.nan, np.inf], np.float32), y)
    np.testing.assert_array_equal(y, [1.0, 2.0])
    axpy(-0.0, np.array([np.nan, np.inf], np.float32), y)
    np.testing.assert_array_equal(y, [1.0, 2.0])


def test_axpy_unit_alpha_is_addition():
    x = np.array([1.5, -0.0, 1e30], np.float32)
    y = np.array([2.25, -0.0, -1e30], np.float32)
    assert same_bits(axpy(1.0, x, y.copy()), y + x).all()
    assert same_bits(axpy(-1.0, x, y.copy()), y - x).all()


def test_axpy_float64_rounds_as_the_profile_says():
    # a*x = 1 + 2^-29 + 2^-60 exactly: daxpy fused keeps the 2^-60, two roundings lose it.
    x = np.array([1.0 + 2 ** -30], np.float64)
    y = np.array([-1.0], np.float64)
    a = 1.0 + 2 ** -30
    assert axpy(a, x, y.copy())[0] == 2 ** -29 + 2 ** -60
    assert axpy(a, x, y.copy(), profile="atlas")[0] == 2 ** -29 == a * x[0] + y[0]


def test_axpby_scales_then_adds():
    y = np.array([np.nan, 5.0, np.inf], np.float32)
    x = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_array_equal(axpby(np.float32(4.0), x, 0.0, y), [4.0, 8.0, 12.0])
    y = np.array([1.0, 2.0], np.float64)
    np.testing.assert_array_equal(axpby(2.0, np.array([1.0, 1.0]), 3.0, y), [5.0, 8.0])


def test_powx_dispatches_on_dtype():
    x32 = np.array([2.0, 3.0], np.float32)
    assert powx(x32, -0.75).dtype == np.float32
    assert same_bits(powx(x32, -0.75), powf(x32, np.float32(-0.75))).all()
    x64 = np.array([2.0, 3.0])
    np.testing.assert_array_equal(powx(x64, -0.75), np.power(x64, -0.75))


def test_check_dtype_refuses_other_types():
    assert check_dtype(np.zeros(2, np.float32)) == np.float32
    for dtype in (np.float16, np.int32, np.complex64, bool):
        with pytest.raises(BlobError, match=np.dtype(dtype).name):
            check_dtype(np.zeros(2, dtype))


@pytest.mark.slow
def test_powf_against_libm_on_millions(libm):
    """The measurement behind the claim, re-runnable: 3.2 million inputs, 0 differences."""
    rng = np.random.default_rng(2024)
    differing = 0
    for exponent in (-0.75, -0.5, -1.0, -1.5, 2.0, 0.75, -2.0, -17.25):
        x = np.concatenate([rng.uniform(1, 1e6, 100000), 1 + rng.uniform(-1e-3, 1e-3, 100000),
                            np.exp(rng.uniform(-80, 80, 100000)),
                            1 + rng.uniform(0, 10, 100000)]).astype(np.float32)
        got = powf(x, np.float32(exponent))
        want = libm_map(libm.powf, x, np.float32(exponent))
        differing += int((~same_bits(got, want)).sum())
    assert differing == 0


def _same_bits(a, b):
    return (a.view(np.uint32) == b.view(np.uint32)) | (np.isnan(a) & np.isnan(b))


def test_square_powf_is_glibc_powf_of_two():
    """The fast mode's square shortcut gives powf(x, 2)'s bits: random bit patterns over the
    whole float range, and short mantissas whose squares sit on or next to midpoints."""
    from caffe_lrn.numerics.caffe_math import square_powf

    rng = np.random.default_rng(11)
    x = rng.integers(0, 2 ** 32, 1_000_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    m = np.arange(1, 1 << 13, dtype=np.float64)
    short = np.concatenate([(m * 2.0 ** e).astype(np.float32) for e in range(-30, 40, 7)])
    short = np.concatenate([short, np.nextafter(short, np.float32(np.inf)),
                            np.nextafter(short, np.float32(0))])
    for values in (x, short, np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 4097.0],
                                      np.float32)):
        got = square_powf(values)
        want = powf_module.powf(values, np.float32(2.0))
        assert np.count_nonzero(~_same_bits(got, want)) == 0
    # 4097^2 = 16785409 is an exact float32 midpoint: the shortcut must not trust x*x blindly
    assert square_powf(np.float32([4097.0]))[0] == powf_module.powf(np.float32([4097.0]), np.float32(2))[0]
