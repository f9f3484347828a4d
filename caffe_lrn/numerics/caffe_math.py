"""Caffe's math primitives, with the rounding of the reference build.

Bit-for-bit agreement with Caffe's float32 layers rests on two primitives:

- ``caffe_axpy`` is OpenBLAS ``saxpy``, which on the reference CPU computes ``y <- a*x + y``
  as a fused multiply-add: one rounding. Two float32 roundings (``a*x`` then ``+ y``) leave
  from 0.6% to 13% of LRN outputs different. :func:`fma32` emulates the single rounding.
- ``caffe_powx`` is libm's ``powf`` element by element; :func:`caffe_lrn.numerics.powf.powf` repeats
  glibc's algorithm.

Everything else Caffe's LRN uses (``caffe_mul``, ``caffe_div``, ``caffe_sqr``, ``caffe_add``,
``caffe_add_scalar``, ``caffe_scal``) is one IEEE operation per element, which NumPy's float32
arithmetic performs with the same rounding.

NaN bits: when both operands of an x86 operation are NaN, the result is the first operand's
NaN (quieted). A compiler may swap the operands of a commutative operation (``a*b``,
``a + b``) differently in a vectorised loop and in its scalar remainder, so NumPy's (and
LLVM's) choice of NaN depended on array lengths and strides, that is on chunking.
:func:`keep_first_nan` applies the rule after an operation, naming the operand Caffe's code
puts first: ``y`` in ``axpy`` (``y <- a*x + y`` as OpenBLAS's fused ``vfmadd231``), ``a`` in
``caffe_mul(a, b)`` and ``caffe_div(a, b)``. Finite operands make no NaN, so the layer
applies the rule only to chunks where an operand holds an inf or NaN.

Caffe's double instantiation uses the same code in double; there :func:`axpy` computes
``a*x + y`` with two roundings (``daxpy`` fuses them, so float64 results may differ from
Caffe's in the last bits) and :func:`powx` is NumPy's double power.
"""
import numpy as np

from caffe_lrn.errors import BlobError
from caffe_lrn.numerics.powf import powf, two_sum

__all__ = ["fma32", "axpy", "axpby", "powx", "fast_powx", "check_dtype", "SUPPORTED_DTYPES",
           "keep_first_nan", "axpy_keep_y_nan", "binary_op"]

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


def axpy(a, x, y):
    """Caffe's ``caffe_axpy``: ``y <- a*x + y`` in place on ``y`` (also returned).

    float32: one rounding (OpenBLAS ``saxpy`` as a fused multiply-add). float64: ``a*x + y``
    with two roundings. As in OpenBLAS, ``a == 0`` returns at once and leaves ``y``
    untouched, even where ``x`` holds inf or NaN.
    """
    if a == 0:
        return y
    if y.dtype == np.float32:
        a = np.float32(a)
        if a == 1:  # 1*x is exact, so the fma is one float32 addition
            np.add(y, x, out=y)
        elif a == -1:
            np.subtract(y, x, out=y)
        else:
            y[...] = fma32(a, x, y)
        return y
    y += np.float64(a) * x
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


def axpy_keep_y_nan(a, x, y):
    """:func:`axpy` with x86's NaN rule for its fused multiply-add: a NaN in ``y`` wins."""
    nan = np.isnan(y)
    kept = y[nan] if nan.any() else None
    axpy(a, x, y)
    return keep_first_nan(y, None, nan, kept)


def axpby(alpha, x, beta, y):
    """Caffe's ``caffe_cpu_axpby`` outside MKL: ``scal(beta, y)`` then ``axpy(alpha, x, y)``.

    OpenBLAS 0.3.21's ``scal`` by 0 writes zeros (NaN and inf in ``y`` do not survive).
    """
    if beta == 0:
        y[...] = 0
    elif beta != 1:
        y *= y.dtype.type(beta)
    return axpy(alpha, x, y)


def powx(x, p):
    """Caffe's ``caffe_powx``: ``x ** p`` elementwise with a scalar exponent ``p``.

    float32: glibc's ``powf`` bit for bit. float64: NumPy's double power (libm's ``pow``
    on most builds; within an ulp of it everywhere).
    """
    x = np.asarray(x)
    if x.dtype == np.float32:
        return powf(x, np.float32(p))
    with np.errstate(all="ignore"):
        return np.power(x, np.float64(p))


def fast_powx(x, p):
    """The fast mode's ``x ** p`` on NumPy: NumPy's own power in the blob's precision.

    float32: not glibc's ``powf`` bits (NumPy's SIMD power differs from it by one ulp on
    about one input in five), but several times cheaper than :func:`powx`'s emulation.
    The square (``p == 2``, WITHIN_CHANNEL's first Power layer) stays glibc's exactly, via
    :func:`square_powf`: a plain ``x*x`` there can move the pooled sum of an isolated pixel
    by enough to break the fast mode's 2-ulp bound on top. float64: the same as :func:`powx`.
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
