"""ACROSS_CHANNELS forward and backward as fused numba kernels, in Caffe's order.

Each kernel handles a tile: images ``n0:n1`` and pixels ``q0:q1`` of the flattened H*W axis
of a C-contiguous (N, C, H*W) float32 blob. The channel window couples channels only, so
tiles are independent and any tiling gives the same bits. Along the channels the kernels
run Caffe's recurrence (``scale`` filled with ``k``, channel 0 from ``n`` axpy calls over
zero-padded squares, then ``+ head`` and ``- tail`` per channel, each axpy a single-rounding
fused multiply-add, padding channels read as rows of zeros as in Caffe's padded buffer);
every channel's row is finished (power, product, ratio) in the same pass while it is in
cache, so no ``scale`` blob is stored. The inner loops run over contiguous pixels and are
branch-free so that LLVM vectorises them; elements whose power leaves the common path
(zero, subnormal, inf or NaN scales, over- and underflow) are redone by glibc's scalar
``powf`` right after their row.

``fast`` selects the fast mode's power (:mod:`caffe_lrn.kernels.fastpow`, ``beta = 0.75``
only) instead of glibc's; everything else is shared.

Every axpy is the build profile's (:mod:`caffe_lrn.kernels.axpy`): each entry point exists
once per profile (``FORWARD[code]``, ``BACKWARD[code]``, ``SCALE[code]``, ``code`` from
:class:`caffe_lrn.numerics.profiles.Profile`), compiled on first use, and takes
``fused_end``: the plane positions ``0 .. fused_end - 1`` of each channel plane (Caffe's
axpy call of H*W elements) are rounded once under ``openblas-avx2``; a tile's pixel ``q``
sits at plane position ``q0 + q``.
"""
import numpy as np
from numba import njit

from caffe_lrn.kernels.axpy import axpy_blocks, axpy_fused, axpy_twice
from caffe_lrn.kernels.fastpow import pow_075_main
from caffe_lrn.kernels.jit import JIT
from caffe_lrn.kernels.powf import powf_main, powf_scalar

_INLINE = dict(inline="always", error_model="numpy")

#: Pixels per block in the backward pass (the length of its ratio buffer's rows).
BLOCK = 1024


@njit(**_INLINE)
def _row(x, zeros, n, c, pre_pad, q0, q1):
    """Pixels ``q0:q1`` of row ``c`` of Caffe's zero-padded buffer (``pre_pad`` rows in
    front). Rows are sliced before the loops: indexing with ``q0 + q`` would make numba
    check for negative indices per element and LLVM would gather instead of load."""
    real = c - pre_pad
    if 0 <= real < x.shape[1]:
        return x[n, real, q0:q1]
    return zeros


@njit(**_INLINE)
def _first_channel(x, zeros, n, scale, q0, q1, aos, k, size, pre_pad, axpy, fused_end):
    """``scale`` of channel 0: ``k``, then ``n`` axpy calls over the padded squares."""
    for q in range(scale.size):
        scale[q] = k
    if aos == 0:  # OpenBLAS axpy with alpha 0 returns at once
        return
    fused = fused_end - q0
    for c in range(size):
        row = _row(x, zeros, n, c, pre_pad, q0, q1)
        for q in range(scale.size):
            v = row[q]
            scale[q] = axpy(aos, v * v, scale[q], q < fused)


@njit(**_INLINE)
def _window_run(head, tail, scale, row, out, flags, aos, y64, main, axpy, fused):
    """A run of pixels of a channel: ``scale += aos*head^2 - aos*tail^2`` (two axpy
    elements), then ``out = scale^y * row``; returns whether ``main`` flagged any. (Runs
    are passed as slices: a loop from a variable start did not vectorise.)"""
    neg = -aos
    special = False
    for q in range(scale.size):
        h = head[q]
        t = tail[q]
        s = axpy(neg, t * t, axpy(aos, h * h, scale[q], fused), fused)
        scale[q] = s
        value, odd = main(s, y64)
        out[q] = value * row[q]
        flags[q] = odd
        special |= odd
    return special


@njit(**_INLINE)
def _forward_channel(x, zeros, n, c, scale, flags, q0, q1, aos, k, size, pre_pad, y, y64,
                     out, main, axpy, fused_end):
    """Advance ``scale`` to channel ``c`` and write its top row ``scale^y * x`` to ``out``,
    all in one vectorised loop; ``main`` is the power's common path (a compile-time
    choice, so the loop has no branch). Elements ``main`` flags are redone with glibc's
    scalar ``powf`` after the loop."""
    row = x[n, c, q0:q1]
    length = scale.size
    special = False
    if c > 0 and aos != 0:
        head = _row(x, zeros, n, c + size - 1, pre_pad, q0, q1)
        tail = _row(x, zeros, n, c - 1, pre_pad, q0, q1)
        # The fused run of the plane, then the rest, each with a constant ``fused`` so that
        # neither loop picks between two roundings per element (one is empty unless the
        # profile is openblas-avx2).
        m = min(max(fused_end - q0, 0), length)
        special = _window_run(head[:m], tail[:m], scale[:m], row[:m], out[:m], flags[:m],
                              aos, y64, main, axpy, True)
        special |= _window_run(head[m:], tail[m:], scale[m:], row[m:], out[m:], flags[m:],
                               aos, y64, main, axpy, False)
    else:
        if c == 0:
            _first_channel(x, zeros, n, scale, q0, q1, aos, k, size, pre_pad, axpy,
                           fused_end)
        for q in range(length):
            value, odd = main(scale[q], y64)
            out[q] = value * row[q]
            flags[q] = odd
            special |= odd
    if special:
        for q in range(length):
            if flags[q]:
                out[q] = powf_scalar(scale[q], y) * row[q]


@njit(**_INLINE)
def _forward_tile(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, main, axpy, fused_end):
    length = q1 - q0
    scale = np.empty(length, np.float32)
    flags = np.empty(length, np.bool_)
    zeros = np.zeros(length, np.float32)
    y64 = np.float64(y)
    for n in range(n0, n1):
        for c in range(x.shape[1]):
            _forward_channel(x, zeros, n, c, scale, flags, q0, q1, aos, k, size, pre_pad, y,
                             y64, top[n, c, q0:q1], main, axpy, fused_end)


@njit(**_INLINE)
def _forward(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, fast, axpy, fused_end):
    """``top = scale^y * x`` (``y = -beta``) for the tile."""
    if fast:
        _forward_tile(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, pow_075_main, axpy,
                      fused_end)
    else:
        _forward_tile(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, powf_main, axpy,
                      fused_end)


@njit(**_INLINE)
def _backward_channel(x, top_diff, bottom_diff, zeros, n, c, scale, flags, ratio_row, q0, q1,
                      aos, k, size, pre_pad, y, y64, main, axpy, fused_end):
    """Advance ``scale`` to channel ``c``; write ``bottom_diff = top_diff * scale^y`` and
    the ratio ``top_diff * (scale^y * x) / scale`` of its row, in one loop (as
    :func:`_forward_channel`)."""
    row = x[n, c, q0:q1]
    diff = top_diff[n, c, q0:q1]
    out = bottom_diff[n, c, q0:q1]
    length = scale.size
    special = False
    if c > 0 and aos != 0:
        head = _row(x, zeros, n, c + size - 1, pre_pad, q0, q1)
        tail = _row(x, zeros, n, c - 1, pre_pad, q0, q1)
        neg = -aos
        fused = fused_end - q0
        for q in range(length):
            h = head[q]
            t = tail[q]
            f = q < fused
            s = axpy(neg, t * t, axpy(aos, h * h, scale[q], f), f)
            scale[q] = s
            p, odd = main(s, y64)
            d = diff[q]
            out[q] = d * p
            ratio_row[q] = d * (p * row[q]) / s
            flags[q] = odd
            special |= odd
    else:
        if c == 0:
            _first_channel(x, zeros, n, scale, q0, q1, aos, k, size, pre_pad, axpy,
                           fused_end)
        for q in range(length):
            s = scale[q]
            p, odd = main(s, y64)
            d = diff[q]
            out[q] = d * p
            ratio_row[q] = d * (p * row[q]) / s
            flags[q] = odd
            special |= odd
    if special:
        for q in range(length):
            if flags[q]:
                s = scale[q]
                p = powf_scalar(s, y)
                d = diff[q]
                out[q] = d * p
                ratio_row[q] = d * (p * row[q]) / s


@njit(**_INLINE)
def _backward_block(x, top_diff, bottom_diff, n, q0, q1, scale, flags, zeros, ratio, accum,
                    aos, k, size, pre_pad, y, y64, cache_ratio_value, main, axpy, fused_end):
    channels = x.shape[1]
    length = q1 - q0
    neg_crv = -cache_ratio_value
    started = False
    for c in range(channels + pre_pad):
        if c < channels:
            _backward_channel(x, top_diff, bottom_diff, zeros, n, c, scale, flags,
                              ratio[c + pre_pad, :length], q0, q1, aos, k, size, pre_pad, y,
                              y64, main, axpy, fused_end)
        # Channel j's window ends at padded ratio row c + pre_pad: finish it now, while its
        # rows are in cache (the same additions in the same order as a second pass).
        j = c - pre_pad
        if j < 0 or cache_ratio_value == 0:  # axpy with alpha 0 returns at once
            continue
        if not started:
            for q in range(length):
                accum[q] = 0.0
            for i in range(size - 1):
                r = ratio[i, :length]
                for q in range(length):
                    accum[q] += r[q]
            started = True
        head = ratio[j + size - 1, :length]
        tail = ratio[j, :length]
        row = x[n, j, q0:q1]
        out = bottom_diff[n, j, q0:q1]
        fused = fused_end - q0
        for q in range(length):
            a = accum[q] + head[q]
            out[q] = axpy(neg_crv, row[q] * a, out[q], q < fused)
            accum[q] = a - tail[q]


@njit(**_INLINE)
def _backward_tile(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
                   cache_ratio_value, main, axpy, fused_end):
    block = max(1, min(q1 - q0, BLOCK))
    scale = np.empty(block, np.float32)
    flags = np.empty(block, np.bool_)
    zeros = np.zeros(block, np.float32)
    ratio = np.zeros((x.shape[1] + size - 1, block), np.float32)
    accum = np.empty(block, np.float32)
    y64 = np.float64(y)
    for n in range(n0, n1):
        for b0 in range(q0, q1, block):
            b1 = min(q1, b0 + block)
            length = b1 - b0
            _backward_block(x, top_diff, bottom_diff, n, b0, b1, scale[:length],
                            flags[:length], zeros[:length], ratio, accum[:length], aos, k,
                            size, pre_pad, y, y64, cache_ratio_value, main, axpy, fused_end)


@njit(**_INLINE)
def _backward(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
              cache_ratio_value, fast, axpy, fused_end):
    """``bottom_diff`` for the tile, ``scale`` recomputed from ``x`` channel by channel.

    Per channel: ``scale_power = scale^y``, ``top = scale_power * x``, ``bottom_diff =
    top_diff * scale_power`` and ``ratio = top_diff * top / scale`` (into a zero-padded
    buffer of C + n - 1 rows); then Caffe's running sum of the ratio over the window and
    ``bottom_diff = axpy(-cache_ratio_value, x * accum, bottom_diff)``, each channel
    finished as soon as its window's last ratio row exists. Pixels go in blocks of
    ``BLOCK``.
    """
    if fast:
        _backward_tile(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
                       cache_ratio_value, pow_075_main, axpy, fused_end)
    else:
        _backward_tile(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
                       cache_ratio_value, powf_main, axpy, fused_end)


@njit(**_INLINE)
def _scale_blob(x, scale_out, n0, n1, q0, q1, aos, k, size, pre_pad, axpy, fused_end):
    """Caffe's ``scale_`` blob for the tile (what Caffe's forward keeps)."""
    length = q1 - q0
    scale = np.empty(length, np.float32)
    zeros = np.zeros(length, np.float32)
    for n in range(n0, n1):
        for c in range(x.shape[1]):
            if c == 0:
                _first_channel(x, zeros, n, scale, q0, q1, aos, k, size, pre_pad, axpy,
                               fused_end)
            elif aos != 0:
                head = _row(x, zeros, n, c + size - 1, pre_pad, q0, q1)
                tail = _row(x, zeros, n, c - 1, pre_pad, q0, q1)
                fused = fused_end - q0
                for q in range(length):
                    h = head[q]
                    t = tail[q]
                    f = q < fused
                    scale[q] = axpy(-aos, t * t, axpy(aos, h * h, scale[q], f), f)
            out = scale_out[n, c, q0:q1]
            for q in range(length):
                out[q] = scale[q]


# One compiled entry point per profile, indexed by Profile.code: each is compiled on first
# use only (a profile argument would compile all three on the first call), and written out
# plainly because numba's on-disk cache keeps module-level functions, not closures.
@njit(**JIT)
def forward_fused(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, fast, fused_end):
    _forward(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, fast, axpy_fused, fused_end)


@njit(**JIT)
def forward_blocks(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, fast, fused_end):
    _forward(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, fast, axpy_blocks, fused_end)


@njit(**JIT)
def forward_twice(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, fast, fused_end):
    _forward(x, top, n0, n1, q0, q1, aos, k, size, pre_pad, y, fast, axpy_twice, fused_end)


@njit(**JIT)
def backward_fused(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
                   cache_ratio_value, fast, fused_end):
    _backward(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
              cache_ratio_value, fast, axpy_fused, fused_end)


@njit(**JIT)
def backward_blocks(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
                    cache_ratio_value, fast, fused_end):
    _backward(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
              cache_ratio_value, fast, axpy_blocks, fused_end)


@njit(**JIT)
def backward_twice(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
                   cache_ratio_value, fast, fused_end):
    _backward(x, top_diff, bottom_diff, n0, n1, q0, q1, aos, k, size, pre_pad, y,
              cache_ratio_value, fast, axpy_twice, fused_end)


@njit(**JIT)
def scale_fused(x, scale_out, n0, n1, q0, q1, aos, k, size, pre_pad, fused_end):
    _scale_blob(x, scale_out, n0, n1, q0, q1, aos, k, size, pre_pad, axpy_fused, fused_end)


@njit(**JIT)
def scale_blocks(x, scale_out, n0, n1, q0, q1, aos, k, size, pre_pad, fused_end):
    _scale_blob(x, scale_out, n0, n1, q0, q1, aos, k, size, pre_pad, axpy_blocks, fused_end)


@njit(**JIT)
def scale_twice(x, scale_out, n0, n1, q0, q1, aos, k, size, pre_pad, fused_end):
    _scale_blob(x, scale_out, n0, n1, q0, q1, aos, k, size, pre_pad, axpy_twice, fused_end)


FORWARD = (forward_fused, forward_blocks, forward_twice)
BACKWARD = (backward_fused, backward_blocks, backward_twice)
SCALE = (scale_fused, scale_blocks, scale_twice)
