"""TensorFlow's LRN semantics in NumPy, so conversions are checked without TensorFlow.

``tf.nn.local_response_normalization`` (alias ``tf.nn.lrn``) works on NHWC input::

    sqr_sum[a, b, c, d] = sum(input[a, b, c, d - depth_radius : d + depth_radius + 1] ** 2)
    output = input / (bias + alpha * sqr_sum) ** beta

The channel window is clipped at both ends. TF's CPU kernel (``lrn_op.cc``) sums each window
from scratch (no running window as in Caffe), forms ``sqr_sum * alpha + bias`` in the input's
dtype, and then takes one of three branches, followed here with correctly rounded primitives:

* ``beta == 1``:   ``output = input * (1 / t)``
* ``beta == 0.5``: ``output = input * (1 / sqrt(t))``
* otherwise:       ``output = input * exp(-beta * log(t))``

That is why the seed articles print ``0.10000001`` for ``3 / 30`` (the reciprocal is rounded,
then multiplied). TensorFlow 2.21's vectorised reciprocal is itself approximate and lands up
to two float32 ULPs below on some of those values (``0.24999999`` for ``2 / 8``).

Caffe's WITHIN_CHANNEL region has no TF op; :func:`within_channel_composite` is its
TF-semantics equivalent: square, explicit zero padding of ``(n-1)/2`` pixels, a VALID n×n
average pool with stride 1 (so the divisor is always n², padding counted, as in Caffe),
``1 + alpha * pool`` (the shift is the constant 1: Caffe ignores ``k`` here), ``pow(-beta)``,
multiply by the input. TF's own ``avg_pool`` with SAME padding leaves padding out of the count
and is wrong at the borders.
"""
import numpy as np

from caffe_lrn.errors import BlobError, ParameterError


def _check_nhwc(array, what="input"):
    array = np.asarray(array)
    if array.ndim != 4:
        raise BlobError(f"{what} must have 4 axes (batch, height, width, channels), "
                        f"got shape {array.shape}")
    if array.dtype not in (np.float32, np.float64):
        raise BlobError(f"{what} must be float32 or float64, got dtype {array.dtype}")
    return array


def square_sum(x, depth_radius):
    """``sqr_sum``: per channel d, the sum of squares over channels ``d-r .. d+r`` (clipped).

    Summed in channel order in the input's dtype, each window from scratch.
    """
    x = _check_nhwc(x)
    if depth_radius < 0:
        raise ParameterError(f"depth_radius must be >= 0, got {depth_radius}")
    with np.errstate(over="ignore", invalid="ignore"):
        squares = x * x
    channels = x.shape[-1]
    sums = np.empty_like(x)
    for d in range(channels):
        first, last = max(0, d - depth_radius), min(channels - 1, d + depth_radius)
        acc = squares[..., first].copy()
        with np.errstate(over="ignore", invalid="ignore"):
            for j in range(first + 1, last + 1):
                acc += squares[..., j]
        sums[..., d] = acc
    return sums


def _inverse_power(t, beta):
    """``t ** -beta`` rounded once to t's dtype, along TF's three kernel branches."""
    wide = t.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if beta == 1.0:
            result = 1.0 / wide
        elif beta == 0.5:
            result = 1.0 / np.sqrt(wide)
        else:
            result = np.exp(-beta * np.log(wide))
    return result.astype(t.dtype)


def local_response_normalization(x, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5):
    """TF's ``local_response_normalization`` on an NHWC array (TF's defaults).

    >>> x = np.full((1, 1, 1, 3), 2.0, np.float32)
    >>> local_response_normalization(x, 1, 0.0, 1.0, 1.0).ravel().tolist()
    [0.25, 0.1666666716337204, 0.25]
    """
    x = _check_nhwc(x)
    dtype = x.dtype.type
    sums = square_sum(x, depth_radius)
    with np.errstate(over="ignore", invalid="ignore"):
        t = sums * dtype(alpha) + dtype(bias)
        return x * _inverse_power(t, float(dtype(beta)))


def box_average_zero_padded(plane_squares, size):
    """n×n average over an NHWC array after ``(n-1)/2`` zero pixels each side (VALID, stride 1).

    Every window divides by ``n*n``: padding counts, as in Caffe's AVE pooling with that pad.
    The window is summed in row-major order, then divided.
    """
    squares = _check_nhwc(plane_squares)
    if size < 1 or size % 2 != 1:
        raise ParameterError(f"the WITHIN_CHANNEL window must be odd and >= 1, got {size}")
    pad = (size - 1) // 2
    batch, height, width, channels = squares.shape
    padded = np.zeros((batch, height + 2 * pad, width + 2 * pad, channels), squares.dtype)
    padded[:, pad:pad + height, pad:pad + width, :] = squares
    acc = np.zeros_like(squares)
    with np.errstate(over="ignore", invalid="ignore"):
        for dy in range(size):
            for dx in range(size):
                acc += padded[:, dy:dy + height, dx:dx + width, :]
        return acc / squares.dtype.type(size * size)


def within_channel_composite(x, local_size, alpha, beta):
    """Caffe's WITHIN_CHANNEL LRN, NHWC, from TF-expressible steps (``k`` plays no part)::

        top = x * (1 + alpha * avg_pool_nxn(pad(x**2)))**(-beta)
    """
    x = _check_nhwc(x)
    dtype = x.dtype.type
    with np.errstate(over="ignore", invalid="ignore"):
        pool = box_average_zero_padded(x * x, local_size)
        t = pool * dtype(alpha) + dtype(1)
        wide = t.astype(np.float64)
        scale = np.power(wide, -float(dtype(beta))).astype(x.dtype)
        return x * scale


def nchw_to_nhwc(blob):
    """Caffe's NCHW blob in TF's NHWC layout (permutation (0, 2, 3, 1))."""
    return np.ascontiguousarray(np.transpose(blob, (0, 2, 3, 1)))


def nhwc_to_nchw(array):
    """TF's NHWC array back in Caffe's NCHW layout (permutation (0, 3, 1, 2))."""
    return np.ascontiguousarray(np.transpose(array, (0, 3, 1, 2)))
