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

The fast mode's :func:`forward_keep` also stores each element's Power layer input and
output; :func:`backward_kept` then runs only the backward formulas (two sweeps per plane:
the product and power diffs into the pooling's shares, then the 3 x 3 spread, the square's
backward and Split's sum), the same bits as :func:`backward`, which recomputes the forward.

``mode`` is the Power layer's case: 0 the general ``(1 + alpha*pool)^-beta``; 1 a constant
1 (``diff_scale = -beta*alpha`` is 0); 2 no power (``beta = -1``). ``beta = -2`` (a square
in the backward pass) is left to the NumPy engine.
"""
import numpy as np
from numba import njit

from caffe_lrn.kernels.fastpow import pow_075_main
from caffe_lrn.kernels.intrinsics import fma32
from caffe_lrn.kernels.jit import JIT
from caffe_lrn.kernels.powf import powf_main, powf_scalar, square_main

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
def _column_masks(height, width, size, pad):
    """``masks[b, h*W + w]``: column ``w + b - pad`` of a window lies inside the image."""
    masks = np.empty((size, height * width), np.bool_)
    for b in range(size):
        for h in range(height):
            for w in range(width):
                masks[b, h * width + w] = 0 <= w + b - pad < width
    return masks


@njit(**_INLINE)
def _box3_at(t0, t1, t2, q, left, right):
    """The 3 x 3 window sum at ``q`` in Caffe's row-major order, from 0; a column outside
    the image (``left``/``right`` False) adds +0, which changes no sum."""
    acc = _ZERO + (t0[q] if left else _ZERO)
    acc += t0[q + 1]
    acc += t0[q + 2] if right else _ZERO
    acc += t1[q] if left else _ZERO
    acc += t1[q + 1]
    acc += t1[q + 2] if right else _ZERO
    acc += t2[q] if left else _ZERO
    acc += t2[q + 1]
    acc += t2[q + 2] if right else _ZERO
    return acc


@njit(**_INLINE)
def _box_sum(padded, out, masks, area, width, size):
    """``out[h*W + w] = sum_{a, b < size} P[h + a - pad, w + b - pad]`` over a plane, the
    terms added in row-major (a, b) order from +0, where P is the plane stored in
    ``padded`` after ``pad`` zero rows and a slack of ``pad`` elements; terms whose column
    leaves the image (``masks``) add +0.

    This is Caffe's average pooling sum (the window's pixels in row-major order, skipping
    those outside the image: adding +0 changes no sum, which is never -0) and, on shares,
    its backward spread (pixel ``(h, w)`` receives ``share[h + pad - i, w + pad - j]`` in
    increasing output order, i.e. decreasing ``i`` then ``j``: the same sum). Each term is
    one pass over the whole plane.
    """
    zero = np.float32(0.0)
    if size == 3:  # cifar10's window: all nine terms in registers, one pass
        m0, m2 = masks[0], masks[2]
        t0 = padded[0:area + 2]
        t1 = padded[width:width + area + 2]
        t2 = padded[2 * width:2 * width + area + 2]
        for q in range(area):
            out[q] = _box3_at(t0, t1, t2, q, m0[q], m2[q])
        return
    for a in range(size):
        for b in range(size):
            term = padded[a * width + b:a * width + b + area]
            mask = masks[b]
            if a == 0 and b == 0:
                for q in range(area):
                    out[q] = zero + (term[q] if mask[q] else zero)
            else:
                for q in range(area):
                    out[q] += term[q] if mask[q] else zero


@njit(**_INLINE)
def _pool(x, square, flags, padded, pool, masks, area, width, size, pad):
    """``pool`` = the box sum of ``powf(x, 2)`` over a plane (not yet divided)."""
    _square(x, padded[pad + pad * width:pad + pad * width + area], flags)
    _box_sum(padded, pool, masks, area, width, size)


@njit(**_INLINE)
def _forward_plane(x, out, pool, flags, divisor, alpha, y, y64, mode, main):
    """Pool division, the Power layer (``(pool*alpha + 1)^y`` by ``mode``) and the product
    with ``x``, in one loop over the plane."""
    area = x.size
    if mode == 1:
        for q in range(area):
            out[q] = x[q] * _ONE
        return
    if mode == 2:
        for q in range(area):
            out[q] = x[q] * ((pool[q] / divisor) * alpha + _ONE)
        return
    special = False
    for q in range(area):
        base = (pool[q] / divisor) * alpha + _ONE
        value, odd = main(base, y64)
        out[q] = x[q] * value
        flags[q] = odd
        special |= odd
    if special:
        for q in range(area):
            if flags[q]:
                out[q] = x[q] * powf_scalar((pool[q] / divisor) * alpha + _ONE, y)


@njit(**_INLINE)
def _forward_plane_keep(x, out, pool, base, power, divisor, alpha, y, y64, main):
    """:func:`_forward_plane` in mode 0 that also stores, per element, the Power layer's
    input ``base = pool/divisor*alpha + 1`` and output ``power``. No per-element flags:
    a base the fast power cannot take is rare enough to look for again."""
    area = x.size
    special = False
    for q in range(area):
        b = (pool[q] / divisor) * alpha + _ONE
        value, odd = main(b, y64)
        base[q] = b
        power[q] = value
        out[q] = x[q] * value
        special |= odd
    if special:  # rare (a base that is not a positive finite float): find them again
        for q in range(area):
            if main(base[q], y64)[1]:
                value = powf_scalar(base[q], y)
                power[q] = value
                out[q] = x[q] * value


@njit(**_INLINE)
def _backward_plane(x, diff, out, share, pool, flags, divisor, alpha, y, y64, mode,
                    diff_scale, main):
    """Per element of a plane: the Power layer's output ``p``; Eltwise PROD's diffs
    (``out = p * diff`` for the product input, ``x * diff`` for the power output); the
    Power layer's backward and the pooling's share ``pool_diff / divisor``."""
    area = x.size
    if mode == 1:
        for q in range(area):
            out[q] = _ONE * diff[q]
            share[q] = diff_scale / divisor
        return
    if mode == 2:
        for q in range(area):
            out[q] = ((pool[q] / divisor) * alpha + _ONE) * diff[q]
            share[q] = ((x[q] * diff[q]) * diff_scale) / divisor
        return
    special = False
    for q in range(area):
        base = (pool[q] / divisor) * alpha + _ONE
        p, odd = main(base, y64)
        d = diff[q]
        out[q] = p * d
        share[q] = ((x[q] * d) * ((p / base) * diff_scale)) / divisor
        flags[q] = odd
        special |= odd
    if special:
        for q in range(area):
            if flags[q]:
                base = (pool[q] / divisor) * alpha + _ONE
                p = powf_scalar(base, y)
                d = diff[q]
                out[q] = p * d
                share[q] = ((x[q] * d) * ((p / base) * diff_scale)) / divisor


@njit(**_INLINE)
def _buffers(height, width, size, pad):
    area = height * width
    # The plane after pad zero rows, then pad zero rows and a slack of 2*pad elements.
    padded = np.zeros((height + 2 * pad) * width + 2 * pad, np.float32)
    return (np.empty(area, np.float32), np.empty(area, np.bool_), padded,
            np.empty(area, np.float32), _column_masks(height, width, size, pad))


@njit(**_INLINE)
def _forward_tile(x, top, height, width, n0, n1, c0, c1, size, pad, alpha, y, mode, main):
    area = height * width
    square, flags, padded, pool, masks = _buffers(height, width, size, pad)
    divisor = np.float32(size * size)
    y64 = np.float64(y)
    for n in range(n0, n1):
        for c in range(c0, c1):
            plane = x[n, c]
            _pool(plane, square, flags, padded, pool, masks, area, width, size, pad)
            _forward_plane(plane, top[n, c], pool, flags, divisor, alpha, y, y64, mode, main)


@njit(**JIT)
def forward_keep(x, top, power_out, base_out, height, width, n0, n1, c0, c1, size, pad,
                 alpha, y):
    """The fast mode's forward (mode 0, the fast power) keeping, per element, the Power
    layer's input ``base_out = pool/n^2 * alpha + 1`` and output ``power_out``: with ``x``
    and the top's diff, all :func:`backward_kept` needs. The same ``top`` bits as
    :func:`forward` with ``fast``."""
    area = height * width
    square, flags, padded, pool, masks = _buffers(height, width, size, pad)
    divisor = np.float32(size * size)
    y64 = np.float64(y)
    for n in range(n0, n1):
        for c in range(c0, c1):
            plane = x[n, c]
            _pool(plane, square, flags, padded, pool, masks, area, width, size, pad)
            _forward_plane_keep(plane, top[n, c], pool, base_out[n, c], power_out[n, c],
                                divisor, alpha, y, y64, pow_075_main)


# Each pass is two kernels, one per power, rather than one with a ``fast`` flag: numba
# compiles a kernel whole, so a flag would make every first use compile both powers.
@njit(**JIT)
def forward_exact(x, top, height, width, n0, n1, c0, c1, size, pad, alpha, y, mode):
    """``top = x * (1 + alpha * avepool(powf(x, 2)))^y`` (``y = -beta``) for the tile."""
    _forward_tile(x, top, height, width, n0, n1, c0, c1, size, pad, alpha, y, mode,
                  powf_main)


@njit(**JIT)
def forward_fast(x, top, height, width, n0, n1, c0, c1, size, pad, alpha, y, mode):
    """:func:`forward_exact` with the fast mode's power."""
    _forward_tile(x, top, height, width, n0, n1, c0, c1, size, pad, alpha, y, mode,
                  pow_075_main)


@njit(**_INLINE)
def _backward_tile(x, top_diff, bottom_diff, height, width, n0, n1, c0, c1, size, pad, alpha,
                   y, mode, diff_scale, main):
    area = height * width
    square, flags, padded, pool, masks = _buffers(height, width, size, pad)
    share_padded = np.zeros(padded.size, np.float32)
    share = share_padded[pad + pad * width:pad + pad * width + area]
    spread = np.empty(area, np.float32)
    divisor = np.float32(size * size)
    y64 = np.float64(y)
    for n in range(n0, n1):
        for c in range(c0, c1):
            plane = x[n, c]
            out = bottom_diff[n, c]
            _pool(plane, square, flags, padded, pool, masks, area, width, size, pad)
            _backward_plane(plane, top_diff[n, c], out, share, pool, flags, divisor, alpha,
                            y, y64, mode, diff_scale, main)
            # Pooling backward (the same box sum over the shares), the square's backward
            # (axpby(2, x, 0) rounds 2x + 0 once), and Split's sum of the two diffs.
            _box_sum(share_padded, spread, masks, area, width, size)
            for q in range(area):
                out[q] = out[q] + spread[q] * fma32(_TWO, plane[q], _ZERO)


@njit(**JIT)
def backward_exact(x, top_diff, bottom_diff, height, width, n0, n1, c0, c1, size, pad, alpha,
                   y, mode, diff_scale):
    """``bottom_diff`` for the tile: the pipeline's forward recomputed per plane, then its
    layers' backward passes in reverse order (``diff_scale = -beta * alpha`` in float32)."""
    _backward_tile(x, top_diff, bottom_diff, height, width, n0, n1, c0, c1, size, pad,
                   alpha, y, mode, diff_scale, powf_main)


@njit(**JIT)
def backward_fast(x, top_diff, bottom_diff, height, width, n0, n1, c0, c1, size, pad, alpha,
                  y, mode, diff_scale):
    """:func:`backward_exact` with the fast mode's power."""
    _backward_tile(x, top_diff, bottom_diff, height, width, n0, n1, c0, c1, size, pad,
                   alpha, y, mode, diff_scale, pow_075_main)


@njit(**_INLINE)
def _kept_plane(x, diff, out, share, base, power, divisor, diff_scale):
    """:func:`_backward_plane` (mode 0) from the kept Power layer input and output."""
    for q in range(x.size):
        p = power[q]
        d = diff[q]
        out[q] = p * d
        share[q] = ((x[q] * d) * ((p / base[q]) * diff_scale)) / divisor


@njit(**_INLINE)
def _spread3(share_padded, out, x, masks, area, width):
    """Pooling backward over the shares, the square's backward and Split's sum (as in
    :func:`backward`) for the 3 x 3 window, in one loop."""
    m0, m2 = masks[0], masks[2]
    t0 = share_padded[0:area + 2]
    t1 = share_padded[width:width + area + 2]
    t2 = share_padded[2 * width:2 * width + area + 2]
    for q in range(area):
        acc = _box3_at(t0, t1, t2, q, m0[q], m2[q])
        out[q] = out[q] + acc * fma32(_TWO, x[q], _ZERO)


@njit(**JIT)
def backward_kept(x, top_diff, power, base, bottom_diff, height, width, n0, n1, c0, c1, size,
                  pad, diff_scale):
    """``bottom_diff`` for the tile from what :func:`forward_keep` kept: no square, pool or
    power recomputed, two sweeps per plane (Eltwise PROD and Power backward into the
    shares; pooling, square and Split backward). The same formulas in the same order as
    :func:`backward`, so the same bits as its fast mode."""
    area = height * width
    masks = _column_masks(height, width, size, pad)
    share_padded = np.zeros((height + 2 * pad) * width + 2 * pad, np.float32)
    share = share_padded[pad + pad * width:pad + pad * width + area]
    spread = np.empty(area, np.float32)
    divisor = np.float32(size * size)
    for n in range(n0, n1):
        for c in range(c0, c1):
            plane = x[n, c]
            out = bottom_diff[n, c]
            _kept_plane(plane, top_diff[n, c], out, share, base[n, c], power[n, c], divisor,
                        diff_scale)
            if size == 3:
                _spread3(share_padded, out, plane, masks, area, width)
            else:
                _box_sum(share_padded, spread, masks, area, width, size)
                for q in range(area):
                    out[q] = out[q] + spread[q] * fma32(_TWO, plane[q], _ZERO)
