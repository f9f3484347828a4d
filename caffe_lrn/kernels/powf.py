"""glibc's ``powf`` as numba code: the FMA build (``__powf_fma``) operation for operation.

The algorithm, tables and special cases are those of :mod:`caffe_lrn.numerics.powf` (which documents
them, and whose tables this module imports): the two are deliberate mirrors, the NumPy
reference and its compiled twin, function for function (``log2_inline``, ``exp2_inline``,
the special cases), kept side by side so that the tests can hold them to the same bits; here every ``a*b + c`` that GCC contracted in the FMA build is a hardware fused
multiply-add, so no near-midpoint recomputation is needed: each element's double result is
the FMA build's, rounded once to float.

:func:`powf_main` is the common path (``x`` a positive normal float, no over- or underflow),
written without branches so that LLVM vectorises loops calling it; it also says whether the
element needs :func:`powf_scalar`, the complete function with every special case, which the
loops call afterwards for those few elements.
"""
import numpy as np
from numba import njit

# glibc's tables and constants have one home, the NumPy reference (numerics/powf.py, which
# documents them); this module mirrors its functions in numba, operation for operation,
# so that the reference stays readable NumPy and the tests can compare the two bit for bit.
# numba compiles module globals in as constants: the arrays are copied into contiguous
# arrays of the types the kernels index (EXP2_TAB as its int64 bits).
from caffe_lrn.numerics.powf import (
    A0, A1, A2, A3, A4, C0, C1, C2, EXP2_TAB as _EXP2_TAB, LOG2_INVC as _LOG2_INVC,
    LOG2_LOGC as _LOG2_LOGC, MAY_UFLOW_BOUND, OFF, OFLOW_BOUND, SHIFT, SIGN_BIAS,
    TOP16_126 as _TOP16_126, UFLOW_BOUND,
)
from caffe_lrn.kernels.intrinsics import (f32_bits, f32_from_bits, f64_bits, f64_from_bits,
                                         fma32, fma64)

LOG2_INVC = _LOG2_INVC.copy()
LOG2_LOGC = _LOG2_LOGC.copy()
EXP2_TAB = _EXP2_TAB.view(np.int64).copy()
TOP16_126 = int(_TOP16_126)
_M32 = 0xFFFFFFFF


@njit(inline="always", error_model="numpy")
def _u32(value):
    """The low 32 bits of an integer as a non-negative int64 (C's uint32_t wrap-around)."""
    return value & _M32


@njit(inline="always", error_model="numpy")
def _as_u32(x):
    return np.int64(f32_bits(x)) & _M32


@njit(inline="always", error_model="numpy")
def _from_u32(bits):
    return f32_from_bits(np.int32(((bits & _M32) ^ 0x80000000) - 0x80000000))


@njit(inline="always", error_model="numpy")
def log2_inline(ix):
    """log2 of the float with bits ``ix`` (int64 holding a uint32; subnormals normalised)."""
    tmp = _u32(ix - OFF)
    i = (tmp >> 19) & 15
    top = tmp & 0xFF800000
    iz = _u32(ix - top)
    k = ((top ^ 0x80000000) - 0x80000000) >> 23  # (int32_t) top >> 23
    invc = LOG2_INVC[i]
    logc = LOG2_LOGC[i]
    z = np.float64(_from_u32(iz))
    r = fma64(z, invc, -1.0)
    y0 = logc + np.float64(k)
    r2 = r * r
    y = fma64(A0, r, A1)
    p = fma64(A2, r, A3)
    r4 = r2 * r2
    q = fma64(A4, r, y0)
    q = fma64(p, r2, q)
    return fma64(y, r4, q)


@njit(inline="always", error_model="numpy")
def exp2_inline(xd, sign_bias):
    """2^xd, negated when ``sign_bias`` is SIGN_BIAS, in double."""
    kd = xd + SHIFT
    ki = f64_bits(kd)
    kd = kd - SHIFT
    r = xd - kd
    t = EXP2_TAB[ki & 31]
    ski = ki + sign_bias
    t = t + (ski << 47)
    s = f64_from_bits(t)
    z = fma64(C0, r, C1)
    r2 = r * r
    y = fma64(C2, r, 1.0)
    y = fma64(z, r2, y)
    return y * s


@njit(inline="always", error_model="numpy")
def powf_main(x, y64):
    """``(powf(x, y), needs_scalar)`` along the common path, branch-free.

    Valid when ``x`` is a positive normal float and ``y`` (as ``y64``) is finite and
    non-zero; otherwise ``needs_scalar`` is true and the value is to be ignored.
    """
    ix = _as_u32(x)
    logx = log2_inline(ix)
    ylogx = y64 * logx
    special = (_u32(ix - 0x00800000) >= 0x7F800000 - 0x00800000) | (ylogx > OFLOW_BOUND) \
        | (ylogx < MAY_UFLOW_BOUND)
    return np.float32(exp2_inline(ylogx, 0)), special


@njit(inline="always", error_model="numpy")
def _zeroinfnan(i):
    return _u32(2 * i - 1) >= 2 * 0x7F800000 - 1


@njit(inline="always", error_model="numpy")
def _issignaling(i):
    return _u32(2 * (i ^ 0x00400000)) > 2 * 0x7FC00000


@njit(inline="always", error_model="numpy")
def _checkint(iy):
    e = (iy >> 23) & 0xFF
    if e < 0x7F:
        return 0
    if e > 0x7F + 23:
        return 2
    if iy & ((1 << (0x7F + 23 - e)) - 1):
        return 0
    if iy & (1 << (0x7F + 23 - e)):
        return 1
    return 2


@njit(error_model="numpy")
def powf_scalar(x, y):
    """``powf(x, y)`` for float32 scalars, every special case as glibc 2.36 (``__powf``)."""
    sign_bias = 0
    ix = _as_u32(x)
    iy = _as_u32(y)
    if _u32(ix - 0x00800000) >= 0x7F800000 - 0x00800000 or _zeroinfnan(iy):
        if _zeroinfnan(iy):
            if _u32(2 * iy) == 0:
                return x + y if _issignaling(ix) else np.float32(1.0)
            if ix == 0x3F800000:
                return x + y if _issignaling(iy) else np.float32(1.0)
            if _u32(2 * ix) > 2 * 0x7F800000 or _u32(2 * iy) > 2 * 0x7F800000:
                return x + y
            if _u32(2 * ix) == 2 * 0x3F800000:
                return np.float32(1.0)
            if (_u32(2 * ix) < 2 * 0x3F800000) == ((iy & 0x80000000) == 0):
                return np.float32(0.0)
            return y * y
        if _zeroinfnan(ix):
            x2 = x * x
            if (ix & 0x80000000) and _checkint(iy) == 1:
                x2 = -x2
            if iy & 0x80000000:
                return np.float32(1.0) / x2
            return x2
        if ix & 0x80000000:
            yint = _checkint(iy)
            if yint == 0:
                return _from_u32(0xFFC00000)  # __math_invalidf: x86's default NaN
            if yint == 1:
                sign_bias = SIGN_BIAS
            ix &= 0x7FFFFFFF
        if ix < 0x00800000:
            ix = _as_u32(_from_u32(ix) * np.float32(8388608.0))  # x * 0x1p23f
            ix &= 0x7FFFFFFF
            ix -= 23 << 23
    logx = log2_inline(ix)
    ylogx = np.float64(y) * logx
    if ((f64_bits(ylogx) >> 47) & 0xFFFF) >= TOP16_126:
        negative = sign_bias != 0
        if ylogx > OFLOW_BOUND:
            return np.float32(-np.inf) if negative else np.float32(np.inf)
        if ylogx <= UFLOW_BOUND:
            return np.float32(-0.0) if negative else np.float32(0.0)
        if ylogx < MAY_UFLOW_BOUND:
            tiny = np.float32(2.0 ** -149)
            return -tiny if negative else tiny
    return np.float32(exp2_inline(ylogx, sign_bias))


@njit(nogil=True, error_model="numpy")
def powf_array(x, y, out):
    """``out[i] = powf(x[i], y)`` over 1-D float32 arrays, ``y`` a float32 scalar."""
    y64 = np.float64(y)
    if _zeroinfnan(_as_u32(y)):
        for i in range(x.size):
            out[i] = powf_scalar(x[i], y)
        return
    any_special = False
    for i in range(x.size):
        value, special = powf_main(x[i], y64)
        out[i] = value
        any_special |= special
    if any_special:
        for i in range(x.size):
            if powf_main(x[i], y64)[1]:
                out[i] = powf_scalar(x[i], y)


# ---------------------------------------------------------------- powf(x, 2)
#: Range of |x| whose square is decided by the shortcut: neither subnormal (nor close, so
#: that ``NEAR * x^2`` below is a normal float's exact multiple) nor near overflow.
SQUARE_LO = np.float32(2.0 ** -50)
SQUARE_HI = np.float32(2.0 ** 60)
#: ``NEAR * RN(x^2)`` is at least 2^-9 float32 ulp of ``x^2``: wider than glibc's error
#: for ``powf(x, 2)``, at most 0.87 * 2^-9 ulp (907181 double ulps, measured on every
#: float in the range).
NEAR = np.float32(2.0 ** -32)


@njit(inline="always", error_model="numpy")
def square_main(x):
    """``(powf(x, 2), needs_powf)`` without glibc's log and exp, branch-free, in float32.

    glibc evaluates ``exp2(2*log2|x|)`` in double with an error below 2^-9 float ulp of
    ``x^2`` and rounds that once to float, so its result is the correctly rounded square
    ``h = RN(x^2)`` unless ``x^2`` lies within that error of a float midpoint. Two fused
    multiply-adds tell: ``RN(x^2 - e)`` and ``RN(x^2 + e)`` (``e = NEAR * h``, at least
    2^-9 ulp) differ exactly when a midpoint lies within ``e`` of ``x^2``. Those squares
    (about 0.5%), and ``|x|`` outside [2^-50, 2^60] (0 excepted, inf, NaN), need glibc's
    full ``powf``. The shortcut is checked against the full algorithm on every float in
    that range (tests/test_kernels.py, marked slow).
    """
    m = abs(x)
    h = m * m
    e = h * NEAR
    near = fma32(m, m, e) != fma32(m, m, -e)
    outside = (m < SQUARE_LO) | (m > SQUARE_HI) | (m != m)
    return h, (m != np.float32(0.0)) & (near | outside)
