"""Caffe's Pooling layer, AVE method (the one LRN's WITHIN_CHANNEL pipeline uses).

Output size (``pooling_layer.cpp``): ``pooled = ceil((size + 2*pad - kernel) / stride) + 1``,
and with padding the last window must start inside the image or padding-before-the-end
(``(pooled - 1) * stride < size + pad``), else it is dropped.

Forward: for each output ``(ph, pw)`` the window is ``hstart = ph*stride - pad``,
``hend = min(hstart + kernel, height + pad)``; the divisor ``pool_size`` is its area counted
*with* padding; the sum runs over the window clipped to the image, in row-major order,
starting from 0, and is then divided by ``pool_size``:

    top[ph, pw] = (sum_{h, w in window, inside the image} bottom[h, w]) / pool_size

Backward: ``bottom_diff`` starts at 0 and every output adds ``top_diff[ph, pw] / pool_size``
to each pixel of its clipped window, outputs taken in row-major ``(ph, pw)`` order.

Both are vectorised over N, C and the output grid, one kernel offset at a time, ordered so
that every element receives its terms in exactly Caffe's order (skipping pixels outside the
image is the same as adding Caffe's nothing: the running sum starts at +0 and never is -0).
"""
import math

import numpy as np

from caffe_lrn.errors import LayerStateError, ParameterError
from caffe_lrn.layers.checks import check_blob, check_diff
from caffe_lrn.params import INT_MAX


def pooled_size(size, kernel, stride, pad):
    """Caffe's pooled output length along one axis."""
    pooled = int(math.ceil(float(size + 2 * pad - kernel) / stride)) + 1
    if pad and (pooled - 1) * stride >= size + pad:
        pooled -= 1
    return pooled


def _divisors(size, pooled, kernel, stride, pad):
    start = np.arange(pooled) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    return end - start


def _offset_range(size, pooled, stride, pad, offset):
    """Outputs ``p`` whose window row ``offset`` falls inside the image, as a slice pair."""
    # h = p*stride - pad + offset must satisfy 0 <= h < size.
    lo = max(0, -((offset - pad) // stride))  # ceil((pad - offset) / stride)
    hi = min(pooled - 1, (size - 1 + pad - offset) // stride)
    if hi < lo:
        return None
    h_lo = lo * stride - pad + offset
    h_hi = hi * stride - pad + offset
    return slice(lo, hi + 1), slice(h_lo, h_hi + 1, stride)


def _offsets(size, pooled, kernel, stride, pad):
    """Kernel offsets ``i`` whose row ``p*stride - pad + i`` is inside the image for some
    output ``p``; the others only ever see padding. Bounded by the image, not the kernel."""
    return range(max(0, pad - (pooled - 1) * stride), min(kernel, size + pad))


def _pool_sizes(shape, kernel, stride, pad, dtype):
    height, width = shape[-2:]
    ph_n = pooled_size(height, kernel[0], stride[0], pad[0])
    pw_n = pooled_size(width, kernel[1], stride[1], pad[1])
    rows = _divisors(height, ph_n, kernel[0], stride[0], pad[0])
    cols = _divisors(width, pw_n, kernel[1], stride[1], pad[1])
    return ph_n, pw_n, np.multiply.outer(rows, cols).astype(dtype)


def ave_pool_forward(bottom, kernel, stride=(1, 1), pad=(0, 0)):
    """AVE pooling of an (N, C, H, W) blob with Caffe's window sums and divisors."""
    height, width = bottom.shape[-2:]
    ph_n, pw_n, pool_size = _pool_sizes(bottom.shape, kernel, stride, pad, bottom.dtype)
    top = np.zeros(bottom.shape[:-2] + (ph_n, pw_n), dtype=bottom.dtype)
    for i in _offsets(height, ph_n, kernel[0], stride[0], pad[0]):
        rows = _offset_range(height, ph_n, stride[0], pad[0], i)
        if rows is None:
            continue
        for j in _offsets(width, pw_n, kernel[1], stride[1], pad[1]):
            cols = _offset_range(width, pw_n, stride[1], pad[1], j)
            if cols is None:
                continue
            top[..., rows[0], cols[0]] += bottom[..., rows[1], cols[1]]
    top /= pool_size
    return top


def ave_pool_backward(top_diff, bottom_shape, kernel, stride=(1, 1), pad=(0, 0)):
    """``bottom_diff`` of AVE pooling, accumulated in Caffe's (ph, pw) order."""
    height, width = bottom_shape[-2:]
    ph_n, pw_n, pool_size = _pool_sizes(bottom_shape, kernel, stride, pad, top_diff.dtype)
    share = top_diff / pool_size
    bottom_diff = np.zeros(bottom_shape, dtype=top_diff.dtype)
    # For one pixel, ph = (h + pad - i) / stride grows as the kernel row i shrinks: walking
    # the kernel offsets backwards visits the outputs in increasing (ph, pw) order.
    for i in reversed(_offsets(height, ph_n, kernel[0], stride[0], pad[0])):
        rows = _offset_range(height, ph_n, stride[0], pad[0], i)
        if rows is None:
            continue
        for j in reversed(_offsets(width, pw_n, kernel[1], stride[1], pad[1])):
            cols = _offset_range(width, pw_n, stride[1], pad[1], j)
            if cols is None:
                continue
            bottom_diff[..., rows[1], cols[1]] += share[..., rows[0], cols[0]]
    return bottom_diff


def _pair(name, value, value_h, value_w, default):
    if value is not None and (value_h is not None or value_w is not None):
        raise ParameterError(f"{name} is specified once or by its _h and _w forms, not both")
    if value is not None:
        return int(value), int(value)
    if (value_h is None) != (value_w is None):
        raise ParameterError(f"{name}_h and {name}_w are specified together")
    if value_h is None:
        return default, default
    return int(value_h), int(value_w)


def check_pooling(kernel, stride, pad):
    """Caffe's ``LayerSetUp`` checks of a pooling geometry, each an (h, w) pair: a positive
    kernel and stride, padding smaller than the kernel, a kernel area that fits an int."""
    if min(kernel) <= 0:
        raise ParameterError(f"Filter dimensions must be positive, got {kernel}")
    if min(stride) <= 0:
        raise ParameterError(f"stride must be positive, got {stride}")
    if min(pad) < 0 or pad[0] >= kernel[0] or pad[1] >= kernel[1]:
        raise ParameterError(f"pad must be at least 0 and less than the kernel, got pad "
                             f"{pad} with kernel {kernel}")
    if kernel[0] * kernel[1] > INT_MAX:
        # Caffe computes the divisor pool_size = kernel_h * kernel_w in an int: beyond
        # this it overflows (undefined behaviour), so there is no Caffe result to match.
        raise ParameterError(
            f"kernel {kernel[0]}x{kernel[1]} has an area beyond Caffe's int "
            f"({INT_MAX}): its pooling divisor overflows (WITHIN_CHANNEL local_size "
            f"must be at most 46339)")


class PoolingLayer:
    """Pooling layer, AVE method, built from Caffe's PoolingParameter fields.

    Checks of Caffe's ``LayerSetUp``: a kernel size is given and positive, stride positive,
    padding smaller than the kernel. ``forward(bottom)`` needs an (N, C, H, W) blob.
    """

    def __init__(self, kernel_size=None, stride=None, pad=None, pool="AVE", kernel_h=None,
                 kernel_w=None, stride_h=None, stride_w=None, pad_h=None, pad_w=None):
        if pool != "AVE":
            raise ParameterError(f"only AVE pooling is implemented, got pool {pool!r}")
        if kernel_size is None and kernel_h is None:
            raise ParameterError("Filter size is kernel_size OR kernel_h and kernel_w; "
                                 "neither given")
        self.kernel = _pair("kernel", kernel_size, kernel_h, kernel_w, None)
        self.stride = _pair("stride", stride, stride_h, stride_w, 1)
        self.pad = _pair("pad", pad, pad_h, pad_w, 0)
        check_pooling(self.kernel, self.stride, self.pad)
        self._bottom_shape = self._top = None

    def output_shape(self, bottom_shape):
        n, c, height, width = bottom_shape
        return (n, c, pooled_size(height, self.kernel[0], self.stride[0], self.pad[0]),
                pooled_size(width, self.kernel[1], self.stride[1], self.pad[1]))

    def forward(self, bottom):
        bottom = check_blob(bottom, "Pooling")
        top = ave_pool_forward(bottom, self.kernel, self.stride, self.pad)
        self._bottom_shape, self._top = bottom.shape, top
        return top

    def backward(self, top_diff):
        if self._top is None:
            raise LayerStateError("Pooling backward called before forward")
        top_diff = check_diff(top_diff, self._top)
        return ave_pool_backward(top_diff, self._bottom_shape, self.kernel, self.stride,
                                 self.pad)
