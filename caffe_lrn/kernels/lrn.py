"""The LRN layer on the numba kernels: constants as Caffe computes them, tiles, threads.

Called by :class:`caffe_lrn.layers.lrn.LRNLayer` when the numba backend is selected and the
blob is float32. The constants are the NumPy engine's, in the same precision
(``alpha_over_size``, ``cache_ratio_value`` computed in double then cast, the Power layer's
``diff_scale``). Work is cut into tiles of images (or of pixels / channel planes when there
are fewer images than threads, :func:`caffe_lrn.parallel.tiles`) that run on a thread pool;
tiles never interact, so every tiling and thread count gives the same bits.
"""
import numpy as np

from caffe_lrn.kernels import across, within
from caffe_lrn.kernels.compiling import prepare
from caffe_lrn.kernels.libm import powx  # noqa: F401  (the NumPy engine's compiled power)
from caffe_lrn.kernels.fastpow import FAST_EXPONENT
from caffe_lrn.numerics.profiles import DEFAULT_PROFILE
from caffe_lrn.parallel import run_pieces, tiles


def supports(params, dtype):
    """True when the kernels cover this layer and blob dtype (float32; in WITHIN_CHANNEL
    every Power layer case but ``beta = -2``, whose backward is a square's)."""
    if np.dtype(dtype) != np.float32:
        return False
    return not (params.within and -np.float32(params.beta) == 2)


def _fast_power(params, fast):
    return bool(fast) and np.float32(params.beta) == -FAST_EXPONENT


def _across_constants(params):
    f32 = np.float32
    size = params.local_size
    # Caffe casts these in C++: an out-of-range value becomes inf there and here, silently.
    with np.errstate(over="ignore"):
        aos = f32(params.alpha) / f32(size)
        crv = f32(2.0 * float(f32(params.alpha)) * float(f32(params.beta)) / size)
    return aos, f32(params.k), size, params.pre_pad, -f32(params.beta), crv


def _within_constants(params):
    f32 = np.float32
    alpha = f32(params.alpha)
    y = f32(-params.beta)  # the Power layer's power, as a float32
    with np.errstate(over="ignore"):  # inf in Caffe too
        diff_scale = y * alpha
    mode = 1 if diff_scale == 0 else (2 if y == 1 else 0)
    return params.local_size, params.pre_pad, alpha, y, mode, diff_scale


def _flat(blob):
    """A C-ordered float32 (N, C, H, W) blob as (N, C, H*W): the kernels' layout."""
    num, channels, height, width = blob.shape
    return np.ascontiguousarray(blob).reshape(num, channels, height * width)


def _on_tiles(kernel, before, after, inner, num, threads, chunk_images=None):
    """``kernel(*before, n0, n1, i0, i1, *after)`` for every tile of ``num`` images by an
    inner axis of length ``inner`` (pixels ACROSS_CHANNELS, channel planes WITHIN_CHANNEL),
    on up to ``threads`` threads. The kernel is compiled first, in this thread
    (:func:`~caffe_lrn.kernels.compiling.prepare`), so the threads find it ready."""
    pieces = list(tiles(num, inner, threads, chunk_images))
    if pieces:
        prepare(kernel, *before, *pieces[0], *after)

    def work(tile):
        kernel(*before, *tile, *after)
    run_pieces(work, pieces, threads)


def _fused_end(profile, height, width):
    """Plane positions below this are rounded once by the profile's saxpy (one call per
    channel plane of ``height * width`` elements)."""
    return profile.fused_count(height * width, np.float32)


def forward(bottom, params, fast=False, threads=1, chunk_images=None,
            profile=DEFAULT_PROFILE):
    """``top`` for a float32 (N, C, H, W) ``bottom``; ``profile``: the Caffe build's axpy."""
    num, channels, height, width = bottom.shape
    x3 = _flat(bottom)
    top3 = np.empty(x3.shape, np.float32)
    fast = _fast_power(params, fast)
    if params.within:
        size, pad, alpha, y, mode, _ = _within_constants(params)
        _on_tiles(within.forward_fast if fast else within.forward_exact,
                  (x3, top3, height, width), (size, pad, alpha, y, mode), channels, num,
                  threads, chunk_images)
    else:
        aos, k, size, pre_pad, y, _ = _across_constants(params)
        _on_tiles(across.FORWARD[profile.code], (x3, top3),
                  (aos, k, size, pre_pad, y, fast, _fused_end(profile, height, width)),
                  height * width, num, threads, chunk_images)
    return top3.reshape(bottom.shape)


def keeps(params, fast):
    """True when the fast mode's forward keeps the Power layer's input and output for
    backward (WITHIN_CHANNEL with the fast power, mode 0): see :func:`forward_keep`."""
    return (params.within and _fast_power(params, fast)
            and _within_constants(params)[4] == 0)


def forward_keep(bottom, params, threads=1, chunk_images=None, reuse=None):
    """``(top, kept)`` of the fast mode's WITHIN_CHANNEL forward (:func:`keeps`): ``kept``
    holds two float32 blobs of the bottom's shape (the Power layer's input
    ``1 + alpha/n^2 * boxsum(bottom^2)`` and its output), so :func:`backward_kept` needs no
    square, pool or power again. The same ``top`` as :func:`forward`. ``reuse``: an
    earlier ``kept`` to overwrite when its blobs have the shape (no fresh pages to fault
    in on every call)."""
    num, channels, height, width = bottom.shape
    x3 = _flat(bottom)
    top3 = np.empty(x3.shape, np.float32)
    if reuse is not None and reuse[0].shape == x3.shape:
        power, base = reuse
    else:
        power = np.empty(x3.shape, np.float32)
        base = np.empty(x3.shape, np.float32)
    size, pad, alpha, y, _, _ = _within_constants(params)
    _on_tiles(within.forward_keep, (x3, top3, power, base, height, width),
              (size, pad, alpha, y), channels, num, threads, chunk_images)
    return top3.reshape(bottom.shape), (power, base)


def backward_kept(bottom, top_diff, params, kept, threads=1, chunk_images=None):
    """``bottom_diff`` from ``kept`` of :func:`forward_keep` on the same ``bottom``: the same
    bits as :func:`backward` in the fast mode."""
    num, channels, height, width = bottom.shape
    x3, dy3 = _flat(bottom), _flat(top_diff)
    bd3 = np.empty(x3.shape, np.float32)
    power, base = kept
    size, pad, _, _, _, diff_scale = _within_constants(params)
    _on_tiles(within.backward_kept, (x3, dy3, power, base, bd3, height, width),
              (size, pad, diff_scale), channels, num, threads, chunk_images)
    return bd3.reshape(bottom.shape)


def backward(bottom, top_diff, params, fast=False, threads=1, chunk_images=None,
             profile=DEFAULT_PROFILE):
    """``bottom_diff`` for float32 ``bottom`` and ``top_diff`` of one shape."""
    num, channels, height, width = bottom.shape
    x3, dy3 = _flat(bottom), _flat(top_diff)
    bd3 = np.empty(x3.shape, np.float32)
    fast = _fast_power(params, fast)
    if params.within:
        size, pad, alpha, y, mode, diff_scale = _within_constants(params)
        _on_tiles(within.backward_fast if fast else within.backward_exact,
                  (x3, dy3, bd3, height, width), (size, pad, alpha, y, mode, diff_scale),
                  channels, num, threads, chunk_images)
    else:
        aos, k, size, pre_pad, y, crv = _across_constants(params)
        _on_tiles(across.BACKWARD[profile.code], (x3, dy3, bd3),
                  (aos, k, size, pre_pad, y, crv, fast, _fused_end(profile, height, width)),
                  height * width, num, threads, chunk_images)
    return bd3.reshape(bottom.shape)


def scale(bottom, params, threads=1, profile=DEFAULT_PROFILE):
    """Caffe's ``scale_`` blob of ACROSS_CHANNELS for a float32 ``bottom``."""
    num, channels, height, width = bottom.shape
    x3 = _flat(bottom)
    out3 = np.empty(x3.shape, np.float32)
    aos, k, size, pre_pad, _, _ = _across_constants(params)
    _on_tiles(across.SCALE[profile.code], (x3, out3),
              (aos, k, size, pre_pad, _fused_end(profile, height, width)), height * width,
              num, threads)
    return out3.reshape(bottom.shape)
