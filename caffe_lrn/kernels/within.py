"""WITHIN_CHANNEL forward and backward as fused numba kernels: Caffe's five-layer pipeline
(Split, Power square, Pooling AVE, Power, Eltwise PROD) plane by plane, in its order.

Each kernel handles a tile: images ``n0:n1``, channels ``c0:c1`` of a C-contiguous
(N, C, H, W) float32 blob. Planes never interact, so any tiling gives the same bits. Per
plane: the square is ``powf(x, 2)`` (Caffe's Power layer calls ``powx``, which is not always
``x*x``), the n x n average pool (stride 1, pad (n-1)/2, divisor n*n) sums each window in
row-major order from +0 and divides, the Power layer scales by ``alpha``, adds 1 and raises
to ``-beta``, and the product multiplies by ``x``. Backward runs the same steps in reverse
with each layer's own formula (see :mod:`caffe_lrn.layers.power` and friends): the pool's
diff is spread over each window in increasing output order.

``mode`` is the Power layer's case: 0 the general ``(1 + alpha*pool)^-beta``; 1 a constant
1 (``diff_scale = -beta*alpha`` is 0); 2 no power (``beta = -1``). ``beta = -2`` (a square
in the backward pass) is left to the NumPy engine.
"""
import numpy as np
from numba import njit

from caffe_lrn.kernels.fastpow import fix_specials, power_row
from caffe_lrn.kernels.intrinsics import fma32
from caffe_lrn.kernels.powf import powf_main, powf_scalar

_JIT = dict(nogil=True, error_model="numpy", cache=True)
_INLINE = dict(inline="always", error_model="numpy")
_TWO = np.float32(2.0)
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)


@njit(**_INLINE)
def _square(x, out):
    """``out = powf(x, 2)`` over a 1-D run (``powf(-a, 2) = powf(a, 2)``: 2 is even)."""
    special = False
    for q in range(x.size):
        value, odd = powf_main(abs(x[q]), 2.0)
        out[q] = value
        special |= odd
    if special:
        for q in range(x.size):
            if powf_main(abs(x[q]), 2.0)[1]:
                out[q] = powf_scalar(x[q], _TWO)


@njit(**_INLINE)
def _box_average(square, pool, size, pad):
    """``pool = boxsum_{size x size}(square) / size^2``, each window summed row-major."""
    height, width = square.shape
    divisor = np.float32(size * size)
    for ph in range(height):
        acc = pool[ph]
        for q in range(width):
            acc[q] = 0.0
        for i in range(size):
            h = ph - pad + i
            if h < 0 or h >= height:
                continue
            src = square[h]
            for j in range(size):
                lo = max(0, pad - j)
                hi = min(width, width + pad - j)
                shift = j - pad
                for pw in range(lo, hi):
                    acc[pw] += src[pw + shift]
        for q in range(width):
            acc[q] = acc[q] / divisor


@njit(**_INLINE)
def _power(pool, base, out, alpha, y, mode, fast):
    """The Power layer: ``out = (pool*alpha + 1) ** y`` by ``mode``, over a row
    (``base`` is scratch space for ``pool*alpha + 1``)."""
    length = pool.size
    if mode == 1:
        for q in range(length):
            out[q] = _ONE
        return
    for q in range(length):
        base[q] = pool[q] * alpha + _ONE
    if mode == 2:
        for q in range(length):
            out[q] = base[q]
        return
    y64 = np.float64(y)
    if power_row(base, out, y64, fast):
        fix_specials(base, out, y, y64, fast)


@njit(**_JIT)
def forward(x, top, n0, n1, c0, c1, size, pad, alpha, y, mode, fast):
    """``top = x * (1 + alpha * avepool(powf(x, 2)))^y`` (``y = -beta``) for the tile."""
    height, width = x.shape[2], x.shape[3]
    square = np.empty((height, width), np.float32)
    pool = np.empty((height, width), np.float32)
    scaled = np.empty(width, np.float32)
    base = np.empty(width, np.float32)
    for n in range(n0, n1):
        for c in range(c0, c1):
            plane = x[n, c]
            for h in range(height):
                _square(plane[h], square[h])
            _box_average(square, pool, size, pad)
            for h in range(height):
                _power(pool[h], base, scaled, alpha, y, mode, fast)
                row = plane[h]
                out = top[n, c, h]
                for q in range(width):
                    out[q] = row[q] * scaled[q]


@njit(**_JIT)
def backward(x, top_diff, bottom_diff, n0, n1, c0, c1, size, pad, alpha, y, mode,
             diff_scale, fast):
    """``bottom_diff`` for the tile: the pipeline's forward recomputed per plane, then its
    layers' backward passes in reverse order (``diff_scale = -beta * alpha`` in float32)."""
    height, width = x.shape[2], x.shape[3]
    square = np.empty((height, width), np.float32)
    pool = np.empty((height, width), np.float32)
    share = np.empty((height, width), np.float32)
    spread = np.empty((height, width), np.float32)
    scaled = np.empty(width, np.float32)
    base = np.empty(width, np.float32)
    divisor = np.float32(size * size)
    for n in range(n0, n1):
        for c in range(c0, c1):
            plane = x[n, c]
            diff = top_diff[n, c]
            for h in range(height):
                _square(plane[h], square[h])
            _box_average(square, pool, size, pad)
            for h in range(height):
                _power(pool[h], base, scaled, alpha, y, mode, fast)
                row = plane[h]
                d = diff[h]
                s = share[h]
                out = bottom_diff[n, c, h]
                for q in range(width):
                    # Eltwise PROD: the product input's diff, then the power output's.
                    out[q] = scaled[q] * d[q]
                    power_diff = row[q] * d[q]
                    # Power backward, then the pooling's share of each output.
                    if mode == 1:
                        pool_diff = diff_scale
                    elif mode == 2:
                        pool_diff = power_diff * diff_scale
                    else:
                        pool_diff = power_diff * ((scaled[q] / base[q]) * diff_scale)
                    s[q] = pool_diff / divisor
            # Pooling backward: each pixel receives its windows' shares in increasing
            # output order (ph, then pw: j runs backwards).
            for h in range(height):
                for q in range(width):
                    spread[h, q] = 0.0
            for ph in range(height):
                src = share[ph]
                for i in range(size):
                    h = ph - pad + i
                    if h < 0 or h >= height:
                        continue
                    dst = spread[h]
                    for j in range(size - 1, -1, -1):
                        lo = max(0, pad - j)
                        hi = min(width, width + pad - j)
                        shift = j - pad
                        for pw in range(lo, hi):
                            dst[pw + shift] += src[pw]
            # Power (square) backward: axpby(2, x, 0) rounds 2x + 0 once; then Split.
            for h in range(height):
                row = plane[h]
                spr = spread[h]
                out = bottom_diff[n, c, h]
                for q in range(width):
                    out[q] = out[q] + spr[q] * fma32(_TWO, row[q], _ZERO)

