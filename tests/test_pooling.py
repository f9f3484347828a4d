"""Pooling (AVE) against a loop reference written as Caffe's C loops, bit for bit."""
import math

import numpy as np
import pytest

from caffe_lrn.errors import BlobError, LayerStateError, ParameterError
from caffe_lrn.layers import PoolingLayer
from caffe_lrn.layers.pooling import pooled_size
from lrn_reference import numeric_jacobian


def bits(a):
    return np.asarray(a).view(np.uint32 if np.asarray(a).dtype == np.float32 else np.uint64)


def caffe_pooled(size, kernel, stride, pad):
    pooled = int(math.ceil((size + 2 * pad - kernel) / stride)) + 1
    if pad and (pooled - 1) * stride >= size + pad:
        pooled -= 1
    assert (pooled - 1) * stride < size + pad
    return pooled


def loop_forward(x, kh, kw, sh, sw, ph_, pw_):
    num, channels, height, width = x.shape
    out_h, out_w = caffe_pooled(height, kh, sh, ph_), caffe_pooled(width, kw, sw, pw_)
    top = np.zeros((num, channels, out_h, out_w), x.dtype)
    for n in range(num):
        for c in range(channels):
            for ph in range(out_h):
                for pw in range(out_w):
                    hstart, wstart = ph * sh - ph_, pw * sw - pw_
                    hend = min(hstart + kh, height + ph_)
                    wend = min(wstart + kw, width + pw_)
                    pool_size = (hend - hstart) * (wend - wstart)
                    hstart, wstart = max(hstart, 0), max(wstart, 0)
                    hend, wend = min(hend, height), min(wend, width)
                    acc = x.dtype.type(0)
                    for h in range(hstart, hend):
                        for w in range(wstart, wend):
                            acc = acc + x[n, c, h, w]
                    top[n, c, ph, pw] = acc / x.dtype.type(pool_size)
    return top


def loop_backward(top_diff, shape, kh, kw, sh, sw, ph_, pw_):
    num, channels, height, width = shape
    bottom_diff = np.zeros(shape, top_diff.dtype)
    out_h, out_w = top_diff.shape[2:]
    for n in range(num):
        for c in range(channels):
            for ph in range(out_h):
                for pw in range(out_w):
                    hstart, wstart = ph * sh - ph_, pw * sw - pw_
                    hend = min(hstart + kh, height + ph_)
                    wend = min(wstart + kw, width + pw_)
                    pool_size = (hend - hstart) * (wend - wstart)
                    hstart, wstart = max(hstart, 0), max(wstart, 0)
                    hend, wend = min(hend, height), min(wend, width)
                    for h in range(hstart, hend):
                        for w in range(wstart, wend):
                            bottom_diff[n, c, h, w] += (top_diff[n, c, ph, pw]
                                                        / top_diff.dtype.type(pool_size))
    return bottom_diff


CONFIGS = {  # (shape, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w)
    "lrn_within_3": ((2, 3, 5, 4), 3, 3, 1, 1, 1, 1),
    "lrn_within_5_window_gt_image": ((1, 2, 3, 4), 5, 5, 1, 1, 2, 2),
    "stride2_pad1_clipped": ((2, 3, 7, 6), 3, 3, 2, 2, 1, 1),
    "last_window_dropped": ((1, 2, 5, 5), 2, 2, 2, 2, 1, 1),
    "no_pad_stride2": ((3, 2, 6, 5), 2, 2, 2, 2, 0, 0),
    "rectangular": ((2, 3, 6, 7), 3, 2, 1, 2, 1, 0),
    "kernel1": ((2, 3, 4, 5), 1, 1, 1, 1, 0, 0),
}


def make_layer(kh, kw, sh, sw, ph_, pw_):
    return PoolingLayer(kernel_h=kh, kernel_w=kw, stride_h=sh, stride_w=sw, pad_h=ph_, pad_w=pw_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_forward_and_backward_against_caffes_loops(name, dtype):
    shape, *geometry = CONFIGS[name]
    rng = np.random.default_rng(len(name))
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    layer = make_layer(*geometry)
    top = layer.forward(x)
    want = loop_forward(x, *geometry)
    assert top.shape == want.shape == layer.output_shape(shape)
    assert (bits(top) == bits(want)).all()
    top_diff = (rng.standard_normal(top.shape) * 10).astype(dtype)
    got = layer.backward(top_diff)
    assert (bits(got) == bits(loop_backward(top_diff, shape, *geometry))).all()


def test_backward_is_the_transpose_of_forward():
    shape, *geometry = CONFIGS["stride2_pad1_clipped"]
    x = np.random.default_rng(0).standard_normal(shape)
    layer = make_layer(*geometry)
    top = layer.forward(x)
    jacobian = numeric_jacobian(layer.forward, x, 1e-3)  # pooling is linear: exact-ish
    rows = []
    for j in range(top.size):
        one_hot = np.zeros(top.size)
        one_hot[j] = 1
        rows.append(layer.backward(one_hot.reshape(top.shape)).reshape(-1))
    np.testing.assert_allclose(np.array(rows), jacobian, atol=1e-9)


def test_average_counts_padding_in_the_divisor():
    x = np.ones((1, 1, 2, 2), np.float32)
    top = PoolingLayer(kernel_size=3, pad=1).forward(x)
    np.testing.assert_array_equal(top, np.full((1, 1, 2, 2), 4 / 9, np.float32))


def test_pooled_size_rule():
    assert pooled_size(5, 2, 2, 1) == 3  # ceil(5/2) + 1 = 4, last window starts in padding
    assert pooled_size(6, 3, 2, 0) == 3  # ceil(3/2) + 1, no padding: kept
    assert pooled_size(7, 3, 2, 1) == 4
    assert pooled_size(3, 5, 1, 2) == 3


def test_parameter_checks():
    with pytest.raises(ParameterError, match="pad"):
        PoolingLayer(kernel_size=3, pad=3)
    with pytest.raises(ParameterError, match="positive"):
        PoolingLayer(kernel_size=0)
    with pytest.raises(ParameterError, match="stride"):
        PoolingLayer(kernel_size=2, stride=0)
    with pytest.raises(ParameterError, match="AVE"):
        PoolingLayer(kernel_size=2, pool="MAX")
    with pytest.raises(ParameterError, match="kernel"):
        PoolingLayer()
    with pytest.raises(ParameterError, match="not both"):
        PoolingLayer(kernel_size=2, kernel_h=2, kernel_w=2)


def test_blob_checks():
    layer = PoolingLayer(kernel_size=3, pad=1)
    with pytest.raises(BlobError, match=r"Input must have 4 axes.*\(2, 7, 3\)"):
        layer.forward(np.zeros((2, 7, 3), np.float32))
    with pytest.raises(LayerStateError):
        layer.backward(np.zeros((1, 1, 2, 2), np.float32))
    layer.forward(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(BlobError, match="shape"):
        layer.backward(np.zeros((1, 1, 3, 2), np.float32))
