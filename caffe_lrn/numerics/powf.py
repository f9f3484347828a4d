"""glibc's ``powf``, bit for bit, in NumPy.

Caffe's float ``caffe_powx`` calls libm's ``powf`` on every element. The reference build
used glibc 2.36 on x86-64, whose ``powf`` is ARM's optimized-routines algorithm
(``sysdeps/ieee754/flt-32/e_powf.c``): ``x^y = exp2(y * log2(x))`` evaluated in double
with a 16-entry table for log2 and a 32-entry table for exp2, then rounded once to float.
NumPy's own float32 ``np.power`` is a different implementation (it differs from glibc's on
about one input in five on AVX-512 machines), and rounding a float64 power to float32
differs on about one input in several thousand, so neither gives Caffe's bits.

This module repeats glibc's algorithm with the same tables, the same double operations in
the same order, and the same special cases. Configuration as on x86-64:
``TOINT_INTRINSICS`` is 0 (so ``POWF_SCALE_BITS`` is 0 and exp2 uses the ``shift_scaled``
rounding trick), ``EXP2F_TABLE_BITS`` 5, ``POWF_LOG2_TABLE_BITS`` 4,
``POWF_LOG2_POLY_ORDER`` 5, ``WANT_ERRNO_UFLOW`` 1.

On a CPU with FMA, glibc selects ``__powf_fma``, the same C source compiled with
``-mfma``, where GCC contracts every ``a*b + c`` into a fused multiply-add. The plain
double evaluation differs from the fused one only in the last bits of the double result,
which can change the float result only when that double lies extremely close to a
midpoint between two floats. Those few elements are recomputed along the fused path with
an exact software fused multiply-add (:func:`fma64`), so the result is the FMA build's on
every element.
"""
import numpy as np

_f = float.fromhex

# __powf_log2_data.tab: (invc, logc) for 16 subintervals of [OFF, 2*OFF].
_LOG2_TAB = (
    ("0x1.661ec79f8f3bep+0", "-0x1.efec65b963019p-2"),
    ("0x1.571ed4aaf883dp+0", "-0x1.b0b6832d4fca4p-2"),
    ("0x1.49539f0f010bp+0", "-0x1.7418b0a1fb77bp-2"),
    ("0x1.3c995b0b80385p+0", "-0x1.39de91a6dcf7bp-2"),
    ("0x1.30d190c8864a5p+0", "-0x1.01d9bf3f2b631p-2"),
    ("0x1.25e227b0b8eap+0", "-0x1.97c1d1b3b7afp-3"),
    ("0x1.1bb4a4a1a343fp+0", "-0x1.2f9e393af3c9fp-3"),
    ("0x1.12358f08ae5bap+0", "-0x1.960cbbf788d5cp-4"),
    ("0x1.0953f419900a7p+0", "-0x1.a6f9db6475fcep-5"),
    ("0x1p+0", "0x0p+0"),
    ("0x1.e608cfd9a47acp-1", "0x1.338ca9f24f53dp-4"),
    ("0x1.ca4b31f026aap-1", "0x1.476a9543891bap-3"),
    ("0x1.b2036576afce6p-1", "0x1.e840b4ac4e4d2p-3"),
    ("0x1.9c2d163a1aa2dp-1", "0x1.40645f0c6651cp-2"),
    ("0x1.886e6037841edp-1", "0x1.88e9c2c1b9ff8p-2"),
    ("0x1.767dcf5534862p-1", "0x1.ce0a44eb17bccp-2"),
)
LOG2_INVC = np.array([_f(invc) for invc, _ in _LOG2_TAB], dtype=np.float64)
LOG2_LOGC = np.array([_f(logc) for _, logc in _LOG2_TAB], dtype=np.float64)
# __powf_log2_data.poly (POWF_SCALE = 1).
A0, A1, A2, A3, A4 = (_f(h) for h in (
    "0x1.27616c9496e0bp-2", "-0x1.71969a075c67ap-2", "0x1.ec70a6ca7baddp-2",
    "-0x1.7154748bef6c8p-1", "0x1.71547652ab82bp0"))

# __exp2f_data.tab[i] = asuint64(2^(i/32)) - (i << 47).
EXP2_TAB = np.array([
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
], dtype=np.uint64)
SHIFT = _f("0x1.8p+52") / 32  # __exp2f_data.shift_scaled
C0, C1, C2 = (_f(h) for h in ("0x1.c6af84b912394p-5", "0x1.ebfce50fac4f3p-3",
                               "0x1.62e42ff0c52d6p-1"))

OFF = 0x3F330000
SIGN_BIAS = 1 << 16  # 1 << (EXP2F_TABLE_BITS + 11)
OFLOW_BOUND = _f("0x1.fffffffd1d571p+6")  # above: |x^y| > 0x1.ffffffp127
UFLOW_BOUND = -150.0
MAY_UFLOW_BOUND = -149.0
TOP16_126 = np.uint64(0x405F800000000000 >> 47)  # asuint64(126.0) >> 47

_U32 = np.uint32
_U64 = np.uint64

BLOCK = 1 << 15  # elements per block of a large powf call

# The plain double evaluation and the fused one differ in the last bits of the result
# (measured at most 88 double ulps for y = -0.75, 328 for y = -17.25, about 1000 for
# |y| near 1000); a result within this window of a float midpoint is recomputed on the
# fused path, about 0.4% of elements. The window widens with |y|, which scales the error
# of log2(x) into the result.
_HARD_ULPS_BASE = 1 << 20  # in double ulps of the result: 2^-32 relative
_MID = np.uint64(1 << 28)
_LOW29 = np.uint64((1 << 29) - 1)


# ---------------------------------------------------------------- exact double arithmetic
def two_sum(a, b):
    """``(s, err)`` with ``s = RN(a + b)`` and ``s + err == a + b`` exactly (Knuth's TwoSum)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


_SPLITTER = 134217729.0  # 2^27 + 1


def _split(a):
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def _two_prod(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, err


def _round_to_odd(s, err):
    """Move ``s`` (= RN(exact)) to the odd neighbour when ``exact != s``.

    Rounding to odd at 53 bits and then to nearest at fewer bits equals rounding the exact
    value to nearest once: the sticky last bit keeps the information the first rounding lost.
    """
    bits = np.ascontiguousarray(s, dtype=np.float64).view(np.int64).copy()
    inexact = (err != 0) & ((bits & 1) == 0)
    if np.any(inexact):
        away = (err > 0) == (s > 0)  # s != 0 whenever err != 0
        bits[inexact] += np.where(away[inexact], 1, -1)
    return bits.view(np.float64)


def fma64(a, b, c):
    """Exact double fused multiply-add ``RN(a*b + c)``, elementwise.

    Boldo and Melquiond's emulation: ``(uh, ul) = a*b`` exactly (Dekker), ``(th, tl) =
    c + uh`` exactly (Knuth's TwoSum), then ``RN(th + RO(tl + ul))`` with RO rounding to
    odd. Exact for finite inputs whose product neither overflows nor loses bits to
    underflow (true for every value powf's polynomials meet).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    uh, ul = _two_prod(a, b)
    th, tl = two_sum(c, uh)
    v, verr = two_sum(tl, ul)
    return th + _round_to_odd(v, verr)


# ---------------------------------------------------------------- glibc's algorithm
def _log2_inline(ix, fused):
    """log2 of the float with bits ``ix`` (subnormals pre-normalised), in double."""
    tmp = (ix - _U32(OFF)).astype(_U32)
    i = ((tmp >> _U32(19)) % _U32(16)).astype(np.intp)
    top = tmp & _U32(0xFF800000)
    iz = (ix - top).astype(_U32)
    k = (top.view(np.int32) >> 23).astype(np.float64)  # arithmetic shift
    invc = LOG2_INVC[i]
    logc = LOG2_LOGC[i]
    z = iz.view(np.float32).astype(np.float64)
    y0 = logc + k
    if fused:
        r = fma64(z, invc, -1.0)
        r2 = r * r
        y = fma64(A0, r, A1)
        p = fma64(A2, r, A3)
        r4 = r2 * r2
        q = fma64(A4, r, y0)
        q = fma64(p, r2, q)
        return fma64(y, r4, q)
    r = z * invc - 1.0
    r2 = r * r
    y = A0 * r + A1
    p = A2 * r + A3
    r4 = r2 * r2
    q = A4 * r + y0
    q = p * r2 + q
    return y * r4 + q


def _exp2_inline(xd, sign_bias, fused):
    """2^xd times the sign in ``sign_bias`` (0 or SIGN_BIAS), in double."""
    kd = xd + SHIFT
    ki = kd.view(_U64)
    kd = kd - SHIFT
    r = xd - kd
    t = EXP2_TAB[(ki % _U64(32)).astype(np.intp)]
    ski = ki + sign_bias.astype(_U64)
    t = t + (ski << _U64(47))
    s = t.view(np.float64)
    if fused:
        z = fma64(C0, r, C1)
        r2 = r * r
        y = fma64(C2, r, 1.0)
        y = fma64(z, r2, y)
    else:
        z = C0 * r + C1
        r2 = r * r
        y = C2 * r + 1.0
        y = z * r2 + y
    return y * s


def _checkint(iy):
    """0: not an integer, 1: odd integer, 2: even integer (iy: finite non-zero bits)."""
    e = ((iy >> _U32(23)) & _U32(0xFF)).astype(np.int64)
    shift = np.clip(0x7F + 23 - e, 0, 31).astype(_U32)
    frac = iy.astype(np.int64) & ((np.int64(1) << shift.astype(np.int64)) - 1)
    odd = (iy.astype(np.int64) >> shift.astype(np.int64)) & 1
    result = np.where(odd == 1, 1, 2)
    result = np.where(frac != 0, 0, result)
    result = np.where(e > 0x7F + 23, 2, result)
    return np.where(e < 0x7F, 0, result)


def _zeroinfnan(i):
    return (_U32(2) * i - _U32(1)) >= _U32(2 * 0x7F800000 - 1)


def _issignaling(i):
    """x86 convention: a NaN whose quiet bit (0x00400000) is clear."""
    return (_U32(2) * (i ^ _U32(0x00400000))) > _U32(2 * 0x7FC00000)


_NAN_INVALID = np.array([0xFFC00000], dtype=_U32).view(np.float32)[0]  # x86 default NaN


def _finish(ylogx, sign_bias, fused):
    """The tail of ``__powf`` from ``ylogx`` on: over/underflow, exp2, rounding to float.

    Returns the float results and the double values they were rounded from (0 where an
    over- or underflow returned early).
    """
    negative = sign_bias != 0
    big = ((ylogx.view(_U64) >> _U64(47)) & _U64(0xFFFF)) >= TOP16_126
    oflow = big & (ylogx > OFLOW_BOUND)
    uflow = big & ~oflow & (ylogx <= UFLOW_BOUND)
    may_uflow = big & ~oflow & ~uflow & (ylogx < MAY_UFLOW_BOUND)
    special = oflow | uflow | may_uflow
    if not special.any():
        result = _exp2_inline(ylogx, sign_bias, fused)
        return result.astype(np.float32), result
    normal = ~special
    result = np.zeros(ylogx.shape, dtype=np.float64)
    result[normal] = _exp2_inline(ylogx[normal], sign_bias[normal], fused)
    out = result.astype(np.float32)
    # __math_oflowf: 0x1p97f * 0x1p97f = inf; __math_uflowf: 0x1p-95f^2 = 0;
    # __math_may_uflowf: 0x1.4p-75f^2 rounds to the smallest subnormal.
    out[oflow] = np.inf
    out[uflow] = 0.0
    out[may_uflow] = np.float32(2.0 ** -149)
    flip = special & negative
    out[flip] = -out[flip]
    return out, result


def _in_doubt(result, y):
    """Elements whose plain-double result may round to a different float than the fused one.

    A float midpoint has its low 29 double mantissa bits equal to 0x10000000; results
    within the window of one, and results in the float subnormal range (coarser grid),
    are in doubt.
    """
    bits = np.abs(result).view(_U64)
    distance = np.abs((bits & _LOW29).astype(np.int64) - np.int64(_MID))
    window = np.maximum(np.abs(y).astype(np.float64) * (_HARD_ULPS_BASE / 256.0),
                        float(_HARD_ULPS_BASE))
    tiny = (result != 0) & (np.abs(result) < 2.0 ** -125)
    return (distance <= window) | tiny


def _powf_core(ix, y, sign_bias):
    """``__powf`` after its special cases: ix are positive (or normalised) float bits."""
    y64 = y.astype(np.float64)
    ylogx = y64 * _log2_inline(ix, fused=False)  # cannot overflow: y is a float
    out, result = _finish(ylogx, sign_bias, fused=False)
    hard = _in_doubt(result, y)
    if hard.any():
        ylogx_fused = y64[hard] * _log2_inline(ix[hard], fused=True)
        out[hard] = _finish(ylogx_fused, sign_bias[hard], fused=True)[0]
    return out


def powf(x, y):
    """Elementwise ``powf(x, y)`` exactly as glibc 2.36 computes it on x86-64 with FMA.

    ``x`` and ``y`` are float32 (or convertible) and broadcast together; the result is a
    new float32 array (a 0-d array for scalar inputs). Special cases follow C99 Annex F as
    glibc implements them: ``powf(x, 0) = 1`` (also for NaN x), ``powf(1, y) = 1``,
    negative finite ``x`` with a non-integer ``y`` gives NaN, ``powf(0, y<0) = inf``,
    ``powf(-0, odd y<0) = -inf``, overflow to ``inf`` and underflow to 0 as glibc rounds.
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    with np.errstate(all="ignore"):  # inf, 0 and NaN are results, not accidents
        if x.size <= BLOCK or y.size != 1:
            return _powf(x, y)
        # Large blobs go block by block: the double temporaries stay a few megabytes.
        out = np.empty(x.shape, dtype=np.float32)
        flat_out = out.reshape(-1)
        flat_x = x.reshape(-1)  # a copy only if x is not contiguous
        for start in range(0, flat_x.size, BLOCK):
            stop = min(flat_x.size, start + BLOCK)
            flat_out[start:stop] = _powf(flat_x[start:stop], y.reshape(()))
        return out


def _powf(x, y):
    shape = np.broadcast_shapes(x.shape, y.shape)
    xf = np.broadcast_to(x, shape).ravel()
    yf = np.broadcast_to(y, shape).ravel()
    ix = xf.view(_U32).copy()
    iy = yf.view(_U32)
    sign_bias = np.zeros(xf.shape, dtype=_U32)

    x_special = (ix - _U32(0x00800000)) >= _U32(0x7F800000 - 0x00800000)
    y_zin = _zeroinfnan(iy)
    if not (x_special | y_zin).any():
        return _powf_core(ix, yf, sign_bias).reshape(shape)
    out = np.empty(xf.shape, dtype=np.float32)
    done = np.zeros(xf.shape, dtype=bool)
    _special_cases(xf, yf, ix, iy, y_zin, out, sign_bias, done)
    todo = ~done
    if todo.any():
        out[todo] = _powf_core(ix[todo], yf[todo], sign_bias[todo])
    return out.reshape(shape)


def _special_cases(xf, yf, ix, iy, y_zin, out, sign_bias, done):
    """The early returns and argument reductions of ``__powf`` (masks updated in place)."""
    with np.errstate(all="ignore"):
        # y is 0, inf or NaN.
        sel = y_zin.copy()
        # powf(x, +-0) = 1 and powf(1, y) = 1, even for a quiet NaN; a signalling NaN
        # gives x + y (quietened).
        y_zero = sel & ((_U32(2) * iy) == 0)
        out[y_zero] = np.where(_issignaling(ix[y_zero]), xf[y_zero] + yf[y_zero], 1.0)
        sel &= ~y_zero
        x_one = sel & (ix == _U32(0x3F800000))
        out[x_one] = np.where(_issignaling(iy[x_one]), xf[x_one] + yf[x_one], 1.0)
        sel &= ~x_one
        any_nan = sel & (((_U32(2) * ix) > _U32(2 * 0x7F800000))
                         | ((_U32(2) * iy) > _U32(2 * 0x7F800000)))
        out[any_nan] = xf[any_nan] + yf[any_nan]
        sel &= ~any_nan
        x_pm1 = sel & ((_U32(2) * ix) == _U32(2 * 0x3F800000))
        out[x_pm1] = 1.0
        sel &= ~x_pm1
        # y is +-inf here: |x| < 1 with +inf, or |x| > 1 with -inf, gives 0.
        to_zero = sel & (((_U32(2) * ix) < _U32(2 * 0x3F800000))
                         == ((iy & _U32(0x80000000)) == 0))
        out[to_zero] = 0.0
        sel &= ~to_zero
        out[sel] = yf[sel] * yf[sel]
        done |= y_zin

        # x is 0, inf or NaN (y finite non-zero).
        x_zin = ~done & _zeroinfnan(ix)
        if x_zin.any():
            x2 = xf[x_zin] * xf[x_zin]
            odd_y = _checkint(iy[x_zin]) == 1
            negate = ((ix[x_zin] & _U32(0x80000000)) != 0) & odd_y
            x2 = np.where(negate, -x2, x2).astype(np.float32)
            neg_y = (iy[x_zin] & _U32(0x80000000)) != 0
            out[x_zin] = np.where(neg_y, np.float32(1.0) / x2, x2)
            done |= x_zin

        # Finite negative x: only integer y has a real power.
        neg_x = ~done & ((ix & _U32(0x80000000)) != 0)
        if neg_x.any():
            yint = _checkint(iy[neg_x])
            idx = np.flatnonzero(neg_x)
            invalid = idx[yint == 0]
            out[invalid] = _NAN_INVALID
            done[invalid] = True
            sign_bias[idx[yint == 1]] = SIGN_BIAS
            ix[idx[yint != 0]] &= _U32(0x7FFFFFFF)

        # Subnormal x: normalise so the exponent field becomes negative.
        sub = ~done & (ix < _U32(0x00800000))
        if sub.any():
            scaled = ix[sub].view(np.float32) * np.float32(2.0 ** 23)
            ix[sub] = (scaled.view(_U32) & _U32(0x7FFFFFFF)) - _U32(23 << 23)
