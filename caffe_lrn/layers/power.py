"""Caffe's Power layer: ``top = (shift + scale * bottom) ^ power``.

Order of operations (``power_layer.cpp``), all in the blob's precision: copy, ``scal(scale)``
if ``scale != 1``, ``add_scalar(shift)`` if ``shift != 0``, ``powx(power)`` if ``power != 1``.
With ``diff_scale = power * scale == 0`` the input is ignored and every top element is
``pow(shift, power)`` (1 when ``power == 0``).

Backward: ``dtop/dbottom = diff_scale * (shift + scale*x)^(power-1)``, computed as Caffe does
in one of three ways, then multiplied by ``top_diff``:

- ``power == 2``: ``axpby(diff_scale*scale, x, 0)`` then ``+ diff_scale*shift`` if ``shift != 0``
  (the axpy rounds once in float32);
- ``shift == 0``: ``top / x * power``;
- otherwise: ``top / (shift + scale*x) * diff_scale``.

When ``diff_scale == 0`` or ``power == 1`` the derivative is the constant ``diff_scale``.
"""
import numpy as np

from caffe_lrn.errors import LayerStateError
from caffe_lrn.layers.checks import check_blob, check_diff
from caffe_lrn.numerics.caffe_math import axpby, fast_powx, powx


def _typed(dtype, power, scale, shift):
    t = np.dtype(dtype).type
    power, scale, shift = t(power), t(scale), t(shift)
    return power, scale, shift, power * scale  # diff_scale in the blob's precision


def power_forward(bottom, power=1.0, scale=1.0, shift=0.0, powx=powx):
    """``(shift + scale * bottom) ^ power`` in Caffe's order, as a new array (``powx``:
    the elementwise power, Caffe's by default)."""
    power, scale, shift, diff_scale = _typed(bottom.dtype, power, scale, shift)
    if diff_scale == 0:
        value = bottom.dtype.type(1) if power == 0 else powx(np.asarray(shift), power)
        return np.full(bottom.shape, value, dtype=bottom.dtype)
    top = np.array(bottom, dtype=bottom.dtype, copy=True)
    if scale != 1:
        top *= scale
    if shift != 0:
        top += shift
    if power != 1:
        top = powx(top, power)
    return top


def power_backward(top_diff, top, bottom, power=1.0, scale=1.0, shift=0.0):
    """``bottom_diff`` of the Power layer in Caffe's order (see the module docstring)."""
    power, scale, shift, diff_scale = _typed(bottom.dtype, power, scale, shift)
    if diff_scale == 0 or power == 1:
        bottom_diff = np.full(bottom.shape, diff_scale, dtype=bottom.dtype)
    elif power == 2:
        bottom_diff = np.zeros(bottom.shape, dtype=bottom.dtype)
        axpby(diff_scale * scale, bottom, 0, bottom_diff)
        if shift != 0:
            bottom_diff += diff_scale * shift
    elif shift == 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            bottom_diff = top / bottom
        bottom_diff *= power
    else:
        bottom_diff = np.array(bottom, copy=True)
        if scale != 1:
            bottom_diff *= scale
        if shift != 0:
            bottom_diff += shift
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(top, bottom_diff, out=bottom_diff)
        if diff_scale != 1:
            bottom_diff *= diff_scale
    if diff_scale != 0:
        np.multiply(top_diff, bottom_diff, out=bottom_diff)
    return bottom_diff


class PowerLayer:
    """Power layer built from ``power``, ``scale`` and ``shift`` (Caffe's PowerParameter).

    ``forward(bottom) -> top`` keeps ``bottom`` and ``top`` for ``backward(top_diff)``.
    ``exact=False`` raises with NumPy's own power instead of glibc's ``powf`` (the LRN
    layer's fast mode).
    """

    def __init__(self, power=1.0, scale=1.0, shift=0.0, exact=True):
        self.powx = powx if exact else fast_powx
        self.power = float(np.float32(power))
        self.scale = float(np.float32(scale))
        self.shift = float(np.float32(shift))
        self._bottom = self._top = None

    def forward(self, bottom):
        bottom = check_blob(bottom, "Power", ndim=None)
        with np.errstate(all="ignore"):
            top = power_forward(bottom, self.power, self.scale, self.shift, self.powx)
        self._bottom, self._top = bottom, top
        return top

    def backward(self, top_diff):
        if self._top is None:
            raise LayerStateError("Power backward called before forward")
        top_diff = check_diff(top_diff, self._top)
        with np.errstate(all="ignore"):
            return power_backward(top_diff, self._top, self._bottom, self.power, self.scale,
                                  self.shift)
