"""WITHIN_CHANNEL forward and backward as fused numba kernels: Caffe's five-layer pipeline
(Split, Power square, Pooling AVE, Power, Eltwise PROD) plane by plane, in its order.

Each kernel handles a tile: images ``n0:n1``, channels ``c0:c1`` of a C-contiguous
float32 blob viewed as (N, C, H*W) (a plane as one contiguous row: numba's loops over
reshaped sub-arrays do not vectorise). Planes never interact, so any tiling gives the same bits. Per
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
from caffe_lrn.kernels.powf import powf_scalar, square_main

_JIT = dict(nogil=True, error_model="numpy", cache=True)
_INLINE = dict(inline="always", error_model="numpy")
_TWO = np.float32(2.0)
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)


@njit(**_INLINE)
def _square(x, out, flags):
    """``out = powf(x, 2)`` over a run: the exact shortcut of
    :func:`~caffe_lrn.kernels.powf.square_main`, glibc's ``powf`` where it cannot decide
    (about one element in 250: ``flags`` marks them, so the second loop only reads bytes)."""
    special = False
    for q in range(x.size):
        value, needs = square_main(x[q])
        out[q] = value
        flags[q] = needs
        special |= needs
    if special:
        for q in range(x.size):
            if flags[q]:
                out[q] = powf_scalar(x[q], _TWO)


@njit(**_INLINE)
def _box_sum(flat, padded, wide, height, width, size, pad):
    """``wide[h*Wp + w] = sum_{a, b < size} P[h + a, w + b]`` (Wp = width + 2*pad), summed
    in row-major (a, b) order from +0, where P is ``flat`` (height x width) inside a border
    of ``pad`` zeros.

    This is Caffe's average pooling sum (``P[ph + i, pw + j]`` is the window's pixel, and a
    zero where the window leaves the image: adding +0 changes no sum, which is never -0)
    and, on shares, its backward spread (pixel ``(h, w)`` receives ``share[h + pad - i,
    w + pad - j]`` in increasing output order, i.e. decreasing ``i`` then ``j``: the same
    sum). Each term is one pass over the whole padded plane, flattened: the ``2*pad``
    columns past each row are computed and ignored.
    """
    row = width + 2 * pad
    for h in range(height):
        src = flat[h * width:(h + 1) * width]
        dst = padded[(h + pad) * row + pad:(h + pad) * row + pad + width]
        for w in range(width):
            dst[w] = src[w]
    length = height * row
    zero = np.float32(0.0)
    for q in range(length):
        wide[q] = zero + padded[q]
    for a in range(size):
        for b in range(size):
            if a == 0 and b == 0:
                continue
            term = padded[a * row + b:a * row + b + length]
            for q in range(length):
                wide[q] += term[q]


@njit(**_INLINE)
def _power(pool, base, out, alpha, y, mode, fast):
    """The Power layer: ``out = (pool*alpha + 1) ** y`` by ``mode``, over a run
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


@njit(**_INLINE)
def _pool_plane(x, square, flags, padded, wide, pool, base, scaled, height, width, size,
                pad, alpha, y, mode, fast):
    """For one plane: square, average pool, and the Power layer's output ``scaled``."""
    _square(x, square, flags)
    _box_sum(square, padded, wide, height, width, size, pad)
    divisor = np.float32(size * size)
    row = width + 2 * pad
    for h in range(height):
        src = wide[h * row:h * row + width]
        dst = pool[h * width:(h + 1) * width]
        for w in range(width):
            dst[w] = src[w] / divisor
    _power(pool, base, scaled, alpha, y, mode, fast)


@njit(**_JIT)
def forward(x, top, height, width, n0, n1, c0, c1, size, pad, alpha, y, mode, fast):
    """``top = x * (1 + alpha * avepool(powf(x, 2)))^y`` (``y = -beta``) for the tile."""
    area = height * width
    row = width + 2 * pad
    square = np.empty(area, np.float32)
    flags = np.empty(area, np.bool_)
    pool = np.empty(area, np.float32)
    base = np.empty(area, np.float32)
    scaled = np.empty(area, np.float32)
    padded = np.zeros((height + 2 * pad + 1) * row, np.float32)  # border stays zero
    wide = np.empty(height * row, np.float32)
    for n in range(n0, n1):
        for c in range(c0, c1):
            plane = x[n, c]
            _pool_plane(plane, square, flags, padded, wide, pool, base, scaled, height,
                        width, size, pad, alpha, y, mode, fast)
            out = top[n, c]
            for q in range(area):
                out[q] = plane[q] * scaled[q]


@njit(**_JIT)
def backward(x, top_diff, bottom_diff, height, width, n0, n1, c0, c1, size, pad, alpha, y,
             mode, diff_scale, fast):
    """``bottom_diff`` for the tile: the pipeline's forward recomputed per plane, then its
    layers' backward passes in reverse order (``diff_scale = -beta * alpha`` in float32)."""
    area = height * width
    row = width + 2 * pad
    square = np.empty(area, np.float32)
    flags = np.empty(area, np.bool_)
    pool = np.empty(area, np.float32)
    base = np.empty(area, np.float32)
    scaled = np.empty(area, np.float32)
    share = np.empty(area, np.float32)
    padded = np.zeros((height + 2 * pad + 1) * row, np.float32)  # border stays zero
    wide = np.empty(height * row, np.float32)
    divisor = np.float32(size * size)
    for n in range(n0, n1):
        for c in range(c0, c1):
            plane = x[n, c]
            diff = top_diff[n, c]
            out = bottom_diff[n, c]
            _pool_plane(plane, square, flags, padded, wide, pool, base, scaled, height,
                        width, size, pad, alpha, y, mode, fast)
            # Eltwise PROD's diffs (product input's, power output's), the Power layer's
            # backward, and the pooling's share of each output.
            if mode == 1:
                for q in range(area):
                    out[q] = scaled[q] * diff[q]
                    share[q] = diff_scale / divisor
            elif mode == 2:
                for q in range(area):
                    out[q] = scaled[q] * diff[q]
                    share[q] = ((plane[q] * diff[q]) * diff_scale) / divisor
            else:
                for q in range(area):
                    out[q] = scaled[q] * diff[q]
                    share[q] = ((plane[q] * diff[q]) * ((scaled[q] / base[q]) * diff_scale)
                                ) / divisor
            # Pooling backward (the same box sum over the shares), then the square's
            # backward (axpby(2, x, 0) rounds 2x + 0 once), then Split's sum.
            _box_sum(share, padded, wide, height, width, size, pad)
            for h in range(height):
                spread = wide[h * row:h * row + width]
                xs = plane[h * width:(h + 1) * width]
                outs = out[h * width:(h + 1) * width]
                for w in range(width):
                    outs[w] = outs[w] + spread[w] * fma32(_TWO, xs[w], _ZERO)
