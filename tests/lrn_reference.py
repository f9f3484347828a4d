"""Independent loop references for the layer tests (float64, textbook formulas).

Written from the formulas, element by element, not from the engine's code: they share no
code with caffe_lrn.layers and sum windows from scratch (no running window).
"""
import numpy as np


def lrn_across_reference(x, size, alpha, beta, k):
    """top and scale of ACROSS_CHANNELS, as Caffe's test_lrn_layer.cpp ReferenceLRNForward."""
    x = np.asarray(x, dtype=np.float64)
    num, channels, height, width = x.shape
    pre_pad = (size - 1) // 2
    top = np.empty_like(x)
    scale = np.empty_like(x)
    for n in range(num):
        for c in range(channels):
            for h in range(height):
                for w in range(width):
                    lo, hi = max(0, c - pre_pad), min(channels, c + size - pre_pad)
                    total = 0.0
                    for cc in range(lo, hi):
                        total += x[n, cc, h, w] ** 2
                    scale[n, c, h, w] = k + total * alpha / size
                    top[n, c, h, w] = x[n, c, h, w] * scale[n, c, h, w] ** -beta
    return top, scale


def lrn_across_backward_reference(x, top_diff, size, alpha, beta, k):
    """bottom_diff of ACROSS_CHANNELS from the derivative of the formula."""
    x = np.asarray(x, dtype=np.float64)
    top_diff = np.asarray(top_diff, dtype=np.float64)
    top, scale = lrn_across_reference(x, size, alpha, beta, k)
    num, channels, height, width = x.shape
    pre_pad = (size - 1) // 2
    bottom_diff = np.empty_like(x)
    for n in range(num):
        for c in range(channels):
            for h in range(height):
                for w in range(width):
                    total = 0.0
                    # channels c2 whose window contains c
                    for c2 in range(channels):
                        if c2 - pre_pad <= c < c2 + size - pre_pad:
                            total += (top_diff[n, c2, h, w] * top[n, c2, h, w]
                                      / scale[n, c2, h, w])
                    bottom_diff[n, c, h, w] = (
                        top_diff[n, c, h, w] * scale[n, c, h, w] ** -beta
                        - 2.0 * alpha * beta / size * x[n, c, h, w] * total)
    return bottom_diff


def lrn_within_reference(x, size, alpha, beta):
    """top of WITHIN_CHANNEL, as Caffe's reference: (1 + alpha/n^2 * boxsum x^2)^-beta."""
    x = np.asarray(x, dtype=np.float64)
    num, channels, height, width = x.shape
    pre_pad = (size - 1) // 2
    top = np.empty_like(x)
    for n in range(num):
        for c in range(channels):
            for h in range(height):
                for w in range(width):
                    total = 0.0
                    for hh in range(max(0, h - pre_pad), min(height, h + size - pre_pad)):
                        for ww in range(max(0, w - pre_pad), min(width, w + size - pre_pad)):
                            total += x[n, c, hh, ww] ** 2
                    scale = 1.0 + total * alpha / (size * size)
                    top[n, c, h, w] = x[n, c, h, w] * scale ** -beta
    return top


def lrn_within_backward_reference(x, top_diff, size, alpha, beta):
    """bottom_diff of WITHIN_CHANNEL from the derivative of the formula."""
    x = np.asarray(x, dtype=np.float64)
    top_diff = np.asarray(top_diff, dtype=np.float64)
    num, channels, height, width = x.shape
    pre_pad = (size - 1) // 2

    def window(h, w):
        return (range(max(0, h - pre_pad), min(height, h + size - pre_pad)),
                range(max(0, w - pre_pad), min(width, w + size - pre_pad)))

    scale = np.empty_like(x)
    for n in range(num):
        for c in range(channels):
            for h in range(height):
                for w in range(width):
                    rows, cols = window(h, w)
                    total = sum(x[n, c, hh, ww] ** 2 for hh in rows for ww in cols)
                    scale[n, c, h, w] = 1.0 + total * alpha / (size * size)
    bottom_diff = np.empty_like(x)
    for n in range(num):
        for c in range(channels):
            for h in range(height):
                for w in range(width):
                    # pixels (h2, w2) whose window contains (h, w): the window is symmetric
                    # in the sense h in window(h2) <=> h2 - pre_pad <= h < h2 + size - pre_pad
                    total = 0.0
                    for h2 in range(height):
                        for w2 in range(width):
                            if (h2 - pre_pad <= h < h2 + size - pre_pad
                                    and w2 - pre_pad <= w < w2 + size - pre_pad):
                                total += (top_diff[n, c, h2, w2] * x[n, c, h2, w2]
                                          * scale[n, c, h2, w2] ** (-beta - 1))
                    bottom_diff[n, c, h, w] = (
                        top_diff[n, c, h, w] * scale[n, c, h, w] ** -beta
                        - 2.0 * alpha * beta / (size * size) * x[n, c, h, w] * total)
    return bottom_diff


def numeric_jacobian(forward, x, step):
    """d top / d bottom by central differences: shape (top.size, x.size)."""
    x = np.array(x, copy=True)
    flat = x.reshape(-1)
    columns = []
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + step
        plus = np.asarray(forward(x), dtype=np.float64).reshape(-1)
        flat[i] = saved - step
        minus = np.asarray(forward(x), dtype=np.float64).reshape(-1)
        flat[i] = saved
        columns.append((plus - minus) / (2 * step))
    return np.stack(columns, axis=1)


def analytic_jacobian(layer, x):
    """d top / d bottom from the layer's backward with one-hot top diffs."""
    top = layer.forward(x)
    rows = []
    for j in range(top.size):
        top_diff = np.zeros(top.size, dtype=top.dtype)
        top_diff[j] = 1
        rows.append(np.asarray(layer.backward(top_diff.reshape(top.shape)),
                               dtype=np.float64).reshape(-1))
    return np.stack(rows, axis=0)


def check_gradient(layer, x, step=1e-2, threshold=1e-2):
    """Caffe's GradientChecker, exhaustive: every top element against every bottom element.

    Caffe's rule: |computed - estimated| <= threshold * max(|computed|, |estimated|, 1).
    Returns the worst ratio of error to allowed error (<= 1 passes).
    """
    computed = analytic_jacobian(layer, x)
    estimated = numeric_jacobian(layer.forward, x, step)
    allowed = threshold * np.maximum(np.maximum(np.abs(computed), np.abs(estimated)), 1.0)
    return float(np.max(np.abs(computed - estimated) / allowed))
