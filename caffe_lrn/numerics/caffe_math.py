"""Caffe's math primitives, with the rounding of the Caffe build being reproduced.

Bit-for-bit agreement with Caffe's layers rests on two primitives:

- ``caffe_axpy`` is BLAS ``saxpy`` / ``daxpy``, ``y <- a*x + y``, and how it rounds depends
  on the BLAS library Caffe was linked against: one rounding (a fused multiply-add) or two
  (``a*x`` then ``+ y``), per element as the build profile says
  (:mod:`caffe_lrn.numerics.profiles`; the default, OpenBLAS's AVX-512 kernels, fuses every
  element). :func:`fma32` and :func:`fma64` emulate the single rounding exactly. Two
  roundings where Caffe's build fused leave from 0.6% to 13% of LRN outputs different.
- ``caffe_powx`` is libm's ``powf`` / ``pow`` element by element: :func:`caffe_lrn.numerics.powf.powf`
  repeats glibc's ``powf``; for double, :func:`pow64` calls the C library's ``pow`` (glibc's
  on Linux), because NumPy's float64 power is another implementation.

Everything else Caffe's LRN uses (``caffe_mul``, ``caffe_div``, ``caffe_sqr``, ``caffe_add``,
``caffe_add_scalar``, ``caffe_scal``) is one IEEE operation per element, which NumPy's
arithmetic performs with the same rounding, in every build.

NaN bits: when both operands of an x86 operation are NaN, the result is the first operand's
NaN (quieted). A compiler may swap the operands of a commutative operation (``a*b``,
``a + b``) differently in a vectorised loop and in its scalar remainder, so NumPy's (and
LLVM's) choice of NaN depended on array lengths and strides, that is on chunking.
:func:`keep_first_nan` applies the rule after an operation, naming the operand Caffe's code
puts first: ``y`` in ``axpy`` (``y <- a*x + y`` as OpenBLAS's fused ``vfmadd231``), ``a`` in
``caffe_mul(a, b)`` and ``caffe_div(a, b)``. Finite operands make no NaN, so the layer
applies the rule only to chunks where an operand holds an inf or NaN.
"""
import math
from fractions import Fraction

import numpy as np

from caffe_lrn.errors import BlobError
from caffe_lrn.numerics.powf import powf, two_sum
from caffe_lrn.numerics.profiles import get_profile

__all__ = ["fma32", "fma64", "axpy", "axpby", "powx", "pow64", "fast_powx", "check_dtype",
           "SUPPORTED_DTYPES", "keep_first_nan", "axpy_keep_y_nan", "binary_op"]

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

_LOW29 = np.int64((1 << 29) - 1)
_MID = np.int64(1 << 28)
_FLT_MIN = np.float32(2.0 ** -126)


def check_dtype(array, what="bottom"):
    """Refuse blobs Caffe has no layer instantiation for (only float and double exist)."""
    dtype = np.asarray(array).dtype
    if dtype not in SUPPORTED_DTYPES:
        raise BlobError(
            f"{what} must be float32 or float64 (Caffe's float and double), got dtype {dtype}")
    return dtype


def fma32(a, x, y):
    """``RN32(a*x + y)`` with a single rounding, elementwise, as a new float32 array.

    ``a`` is a float32 scalar, ``x`` and ``y`` float32 arrays (broadcast together).

    Method: in float64 the product ``p = a*x`` is exact (24-bit by 24-bit significands,
    exponents well inside double range). ``s = RN64(p + y)`` rounded to float32 is the
    correctly rounded sum except when double rounding bites, which needs ``s`` to sit
    exactly on a float32 midpoint (low 29 mantissa bits ``0x10000000``) while ``p + y != s``,
    or ``s`` in float32's subnormal range (a coarser grid). Only those elements get the
    exact error from TwoSum and are rounded to odd (a sticky last bit) before the cast;
    rounding to odd at 53 bits then to nearest at 24 bits is a single correct rounding.
    inf and NaN propagate as in a hardware fma; a sum beyond float32's range becomes inf
    when cast, as the fma's result does; signed zeros follow IEEE addition in both.
    """
    a64 = np.float64(np.float32(a))
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN are results, as in fma
        s = x.astype(np.float64)
        s *= a64
        # C order, so that out.reshape(-1) below is a view: for a Fortran-ordered or
        # otherwise non-C layout it is a copy, and the corrections written to it were lost.
        s = np.ascontiguousarray(s + y)  # broadcasts; float32 y is widened exactly
        out = s.astype(np.float32)
    bits = s.view(np.int64)
    doubt = (bits & _LOW29) == _MID
    doubt |= np.abs(out) < _FLT_MIN
    if doubt.any():
        idx = np.flatnonzero(doubt)
        xb, yb = np.broadcast_arrays(x, y)
        p = xb.reshape(-1)[idx].astype(np.float64) * a64
        sv = s.reshape(-1)[idx]
        yv = yb.reshape(-1)[idx].astype(np.float64)
        with np.errstate(invalid="ignore"):
            _, err = two_sum(p, yv)
        fix = np.isfinite(sv) & (err != 0)
        if fix.any():
            sbits = sv.view(np.int64).copy()
            even = fix & ((sbits & 1) == 0)
            away = (err > 0) == (sv > 0)
            sbits[even] += np.where(away[even], 1, -1)
            out.reshape(-1)[idx] = sbits.view(np.float64).astype(np.float32)
    return out


# float64 fma: the product's exact error (Veltkamp/Dekker) needs it above 2^-969 and the
# split below 2^995; the rounding to odd needs a result far from the subnormals. Elements
# outside (and inf or NaN) are computed exactly with rationals instead.
_SPLITTER = 134217729.0  # 2^27 + 1
_TINY64 = 2.0 ** -960
_HUGE64 = 2.0 ** 995


def _split(v):
    c = v * _SPLITTER
    high = c - (c - v)
    return high, v - high


def _fma64_exact(a, x, y):
    """``RN64(a*x + y)`` for Python floats, from the exact rational value (scalar)."""
    if not (math.isfinite(a) and math.isfinite(x) and math.isfinite(y)):
        return a * x + y  # inf and NaN propagate as in a hardware fma
    exact = Fraction(a) * Fraction(x) + Fraction(y)
    if exact == 0:
        return a * x + y  # IEEE's sign of an exact zero sum (the product rounds to its zero)
    try:
        return float(exact)  # int / int: correctly rounded, subnormals included
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def fma64(a, x, y):
    """``RN64(a*x + y)`` with a single rounding, elementwise, as a new float64 array.

    ``a`` is a scalar, ``x`` and ``y`` float64 arrays (broadcast together). Method (Boldo and
    Melquiond, emulated FMA by rounding to odd): the exact product ``uh + ul = a*x``
    (Veltkamp split, Dekker product), ``th + tl = y + uh`` (TwoSum, exact), ``v`` =
    ``tl + ul`` rounded to odd (TwoSum, then a sticky last bit when inexact), and
    ``RN(th + v)`` is the correctly rounded ``a*x + y``. The proof needs no underflow or
    overflow: elements with a product below 2^-969, an operand or a result near the top of
    the range, a result near the subnormals, or inf and NaN, are computed exactly with
    rational arithmetic (never silently with two roundings).
    """
    a = float(a)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        x, y = np.broadcast_arrays(x, y)
        uh = a * x
        a_high, a_low = _split(a)
        x_high, x_low = _split(x)
        ul = ((a_high * x_high - uh) + a_high * x_low + a_low * x_high) + a_low * x_low
        th, tl = two_sum(y, uh)
        v, err = two_sum(tl, ul)
        inexact = (err != 0) & ((v.view(np.int64) & 1) == 0)
        if inexact.any():
            bits = v.view(np.int64).copy()
            away = (err > 0) == (v > 0)
            bits[inexact] += np.where(away[inexact], 1, -1)
            v = bits.view(np.float64)
        out = th + v
        zero = out == 0
        if zero.any():  # an exact zero sum: IEEE's sign for uh + y
            out[zero] = (uh + y)[zero]
        magnitude = np.abs(uh)
        doubt = ~np.isfinite(out) | ~np.isfinite(x)
        doubt |= (magnitude < 2.0 ** -969) & (x != 0) & (a != 0)
        doubt |= (np.abs(x) > _HUGE64) | (abs(a) > _HUGE64) | (np.abs(y) > _HUGE64)
        doubt |= (np.abs(out) < _TINY64) & ~zero
    if doubt.any():
        for index in zip(*np.nonzero(doubt)):
            out[index] = _fma64_exact(a, float(x[index]), float(y[index]))
    return out


def _fused(y, profile, plane_size, plane_start):
    """True (every element), False (none) or a boolean mask over ``y``'s last two axes:
    which elements of the axpy call the profile rounds once."""
    if y.ndim < 2:
        rows_width = y.size
    else:
        rows_width = y.shape[-2] * y.shape[-1]
    if plane_size is None:
        plane_size = rows_width
    fused = profile.fused_count(plane_size, y.dtype) - plane_start
    if fused >= rows_width:
        return True
    if fused <= 0:
        return False
    mask = np.arange(rows_width) < fused
    return mask.reshape(y.shape[-2:]) if y.ndim >= 2 else mask


def axpy(a, x, y, profile=None, plane_size=None, plane_start=0):
    """Caffe's ``caffe_axpy``: ``y <- a*x + y`` in place on ``y`` (also returned).

    The rounding is the build ``profile``'s (:mod:`caffe_lrn.numerics.profiles`; None: the
    default, OpenBLAS with AVX-512, one rounding everywhere): fused elements are
    ``RN(a*x + y)`` (:func:`fma32`, :func:`fma64`), the others ``RN(RN(a*x) + y)``.
    Which elements are fused depends on their place in Caffe's call: ``y``'s last two axes
    (rows, width) are the elements ``plane_start ..`` of one call of ``plane_size`` elements
    (default: exactly those two axes, i.e. one channel plane); its leading axes are separate
    calls (one per image). A 1-D ``y`` is one call. As in OpenBLAS, ``a == 0`` returns at
    once and leaves ``y`` untouched, even where ``x`` holds inf or NaN.
    """
    if a == 0:
        return y
    a = y.dtype.type(a)
    if a == 1:  # 1*x is exact: one addition in every build
        np.add(y, x, out=y)
        return y
    if a == -1:
        np.subtract(y, x, out=y)
        return y
    if abs(math.frexp(float(a))[0]) == 0.5 and abs(a) >= 1:
        # a*x is exact (a power of two, no underflow): one rounding either way, unless the
        # product overflows where the sum might not.
        with np.errstate(over="ignore", invalid="ignore"):
            product = a * x
        if not (np.isinf(product) & np.isfinite(x)).any():
            y += product
            return y
    fused = _fused(y, get_profile(profile), plane_size, plane_start)
    if fused is False:
        y += a * x
        return y
    fma = fma32 if y.dtype == np.float32 else fma64
    if fused is True:
        y[...] = fma(a, x, y)
    else:
        np.copyto(y, fma(a, x, y), where=fused)
        np.add(y, a * x, out=y, where=~fused)
    return y


_QUIET_BIT = {np.dtype(np.float32): (np.uint32, 1 << 22),
              np.dtype(np.float64): (np.uint64, 1 << 51)}


def _quieted(values):
    kind, bit = _QUIET_BIT[values.dtype]
    return (values.view(kind) | kind(bit)).view(values.dtype)


def keep_first_nan(result, first, nan=None, kept=None):
    """Where ``first`` (the operation's first operand, same shape as ``result``) is NaN,
    ``result`` takes that NaN, quieted: x86's rule for NaN operands, whatever order the loop
    that computed ``result`` used. ``nan`` and ``kept`` give the mask and values when
    ``first`` has since been overwritten (in-place operations). Returns ``result``."""
    if nan is None:
        nan = np.isnan(first)
        kept = first[nan] if nan.any() else None
    if kept is not None and kept.size:
        result[nan] = _quieted(kept)
    return result


def binary_op(ufunc, a, b, out=None, nan_rule=False):
    """``ufunc(a, b, out=out)`` (``caffe_mul``, ``caffe_div``, ``caffe_add``...); with
    ``nan_rule``, a NaN in ``a`` wins as on x86 (:func:`keep_first_nan`), even in place."""
    if not nan_rule:
        return ufunc(a, b, out=out)
    nan = np.isnan(a)
    kept = a[nan] if nan.any() else None
    return keep_first_nan(ufunc(a, b, out=out), None, nan, kept)


def axpy_keep_y_nan(a, x, y, *placement, **options):
    """:func:`axpy` (same arguments) with x86's NaN rule for its fused multiply-add: a NaN
    in ``y`` wins."""
    nan = np.isnan(y)
    kept = y[nan] if nan.any() else None
    axpy(a, x, y, *placement, **options)
    return keep_first_nan(y, None, nan, kept)


def axpby(alpha, x, beta, y):
    """Caffe's ``caffe_cpu_axpby`` outside MKL: ``scal(beta, y)`` then ``axpy(alpha, x, y)``.

    OpenBLAS 0.3.21's ``scal`` by 0 writes zeros (NaN and inf in ``y`` do not survive).
    Caffe's LRN uses it only with ``beta = 0`` (``RN(alpha*x + 0)``, one rounding in every
    build), so the default profile's axpy serves all of them.
    """
    if beta == 0:
        y[...] = 0
    elif beta != 1:
        y *= y.dtype.type(beta)
    return axpy(alpha, x, y)


def _odd_integer(value):
    return math.isfinite(value) and value == int(value) and int(value) % 2 == 1


def _libm_pow(base, exponent):
    """C's ``pow(base, exponent)``: Python's math.pow calls it, but raises where C returns
    inf or NaN (C99 Annex F gives those values)."""
    try:
        return math.pow(base, exponent)
    except OverflowError:  # |result| beyond double: inf, negative for (-x)^odd
        return -math.inf if base < 0 and _odd_integer(exponent) else math.inf
    except ValueError:  # pow(+-0, y < 0) is a pole; a negative base to a fraction is NaN
        if base == 0:
            return math.copysign(math.inf, base) if _odd_integer(exponent) else math.inf
        return -math.nan  # x86-64 glibc's NaN here is the default NaN, sign bit set


_LIBM_POW = np.frompyfunc(_libm_pow, 2, 1)


def pow64(x, p):
    """The C library's double ``pow(x, p)`` elementwise (glibc's on Linux, as in Caffe's
    double build), for a float64 array ``x`` and a scalar ``p``.

    NumPy's float64 power is another implementation (SIMD on AVX-512 machines): it differs
    from glibc's ``pow`` in the last bit on about 5% of inputs for ``p = -0.75``, and in
    some special values (``(-0.0) ** 0.5`` is -0.0 in NumPy, +0.0 in C). So every element
    goes through libm's ``pow``, one at a time (about 0.15 us each).
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):  # inf and NaN are results, as in C
        return np.asarray(_LIBM_POW(x, float(p)), dtype=np.float64)


def powx(x, p):
    """Caffe's ``caffe_powx``: ``x ** p`` elementwise with a scalar exponent ``p``.

    float32: glibc's ``powf`` bit for bit. float64: libm's ``pow`` (:func:`pow64`).
    """
    x = np.asarray(x)
    if x.dtype == np.float32:
        return powf(x, np.float32(p))
    return pow64(x, p)


def fast_powx(x, p):
    """The fast mode's ``x ** p`` on NumPy: NumPy's own power in the blob's precision.

    float32: not glibc's ``powf`` bits (NumPy's SIMD power differs from it by one ulp on
    about one input in five), but several times cheaper than :func:`powx`'s emulation.
    The square (``p == 2``, WITHIN_CHANNEL's first Power layer) stays glibc's exactly, via
    :func:`square_powf`: a plain ``x*x`` there can move the pooled sum of an isolated pixel
    by enough to break the fast mode's 2-ulp bound on top. float64: NumPy's double power.
    """
    x = np.asarray(x)
    if x.dtype == np.float32 and p == 2:
        return square_powf(x)
    with np.errstate(all="ignore"):
        return np.power(x, x.dtype.type(p))


# glibc's powf(x, 2) evaluates exp2(2*log2|x|) in double with an error below 2^-9 float ulp
# of x^2 and rounds once, so it is the correctly rounded square RN(x^2) unless x^2 lies that
# close to a float rounding midpoint, or |x| is outside [2^-50, 2^60] (subnormal or
# overflowing squares, inf, NaN). The exact square in double tells the distance: its low 29
# mantissa bits are what float rounding discards, and 2^28 there is the midpoint. Flag
# within 2^-8 ulp (twice the error bound) and let the full emulation decide those.
_SQUARE_LOW_BITS = np.int64((1 << 29) - 1)
_SQUARE_NEAR = np.int64(1 << 21)
_SQUARE_LO = np.float32(2.0 ** -50)
_SQUARE_HI = np.float32(2.0 ** 60)


def square_powf(x):
    """glibc's ``powf(x, 2)`` for float32 ``x``, bit for bit, at a fraction of :func:`powf`'s cost.

    ``RN(x*x)`` everywhere except the ~1% of squares near a rounding midpoint and the
    squares outside glibc's plain range, which go through the full :func:`powf` emulation.
    """
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(all="ignore"):
        square = np.multiply(x, x)
        exact = x.astype(np.float64)
        exact *= exact
        low = exact.view(np.int64) & _SQUARE_LOW_BITS
        low -= np.int64(1 << 28)
        hard = np.abs(low) < _SQUARE_NEAR
        magnitude = np.abs(x)
        hard |= ~((magnitude >= _SQUARE_LO) & (magnitude <= _SQUARE_HI))
        hard &= x != 0
    index = np.flatnonzero(hard)
    if index.size:
        square.flat[index] = powf(x.flat[index], np.float32(2.0))
    return square
