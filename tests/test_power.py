"""Power layer: Caffe's order of operations and its three backward branches."""
import numpy as np
import pytest

from caffe_lrn.errors import BlobError, LayerStateError
from caffe_lrn.layers import PowerLayer
from caffe_lrn.numerics.powf import powf
from lrn_reference import numeric_jacobian

f32 = np.float32

CASES = {  # name: (power, scale, shift)
    "square": (2.0, 1.0, 0.0),
    "square_scaled_shifted": (2.0, 0.5, 1.0),
    "lrn_within": (-0.75, 1e-4, 1.0),
    "general": (-1.5, 0.5, 2.0),
    "shift_zero": (0.5, 2.0, 0.0),
    "linear": (1.0, 3.0, 0.5),
    "power_zero": (0.0, 2.0, 3.0),
    "scale_zero": (3.0, 0.0, 2.0),
}


def loop_forward(x, power, scale, shift):
    """Element by element in float32: scal, add_scalar, powx (glibc powf), as Caffe."""
    power, scale, shift = f32(power), f32(scale), f32(shift)
    diff_scale = power * scale
    out = np.empty_like(x)
    for i, v in enumerate(x.reshape(-1)):
        if diff_scale == 0:
            out.reshape(-1)[i] = f32(1) if power == 0 else powf(shift, power)
            continue
        if scale != 1:
            v = v * scale
        if shift != 0:
            v = v + shift
        if power != 1:
            v = powf(v, power)
        out.reshape(-1)[i] = v
    return out


def loop_backward(top_diff, top, x, power, scale, shift):
    power, scale, shift = f32(power), f32(scale), f32(shift)
    diff_scale = power * scale
    out = np.empty_like(x)
    for i in range(x.size):
        xi, yi, di = x.reshape(-1)[i], top.reshape(-1)[i], top_diff.reshape(-1)[i]
        if diff_scale == 0 or power == 1:
            g = diff_scale
        elif power == 2:
            # axpby(diff_scale*scale, x, 0): one rounding of the product
            g = f32(np.float64(diff_scale * scale) * np.float64(xi))
            if shift != 0:
                g = g + diff_scale * shift
        elif shift == 0:
            g = (yi / xi) * power
        else:
            v = xi
            if scale != 1:
                v = v * scale
            if shift != 0:
                v = v + shift
            g = yi / v
            if diff_scale != 1:
                g = g * diff_scale
        out.reshape(-1)[i] = di * g if diff_scale != 0 else g
    return out


def derivative(x, power, scale, shift):
    x = x.astype(np.float64)
    return power * scale * (shift + scale * x) ** (power - 1)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_against_loop_reference(name):
    power, scale, shift = CASES[name]
    rng = np.random.default_rng(len(name))
    x = rng.uniform(0.1, 3, (2, 3, 4, 5)).astype(np.float32)  # positive: real powers
    top_diff = rng.standard_normal(x.shape).astype(np.float32)
    layer = PowerLayer(power, scale, shift)
    top = layer.forward(x)
    want = loop_forward(x, power, scale, shift)
    assert (top.view(np.uint32) == want.view(np.uint32)).all()
    got = layer.backward(top_diff)
    want_diff = loop_backward(top_diff, top, x, power, scale, shift)
    assert (got.view(np.uint32) == want_diff.view(np.uint32)).all()
    np.testing.assert_allclose(got, top_diff * derivative(x, power, scale, shift),
                               rtol=2e-5, atol=1e-30)


def test_constant_cases():
    x = np.array([[-1.0, np.nan, 4.0]], np.float32)
    assert (PowerLayer(0.0, 2.0, 3.0).forward(x) == 1).all()  # power 0: 1, input ignored
    assert (PowerLayer(3.0, 0.0, 2.0).forward(x) == 8).all()  # scale 0: shift^power
    layer = PowerLayer(3.0, 0.0, 2.0)
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.zeros_like(x))


def test_square_is_powf_not_a_multiplication():
    """Caffe squares through powx(x, 2): glibc's powf, here equal to the rounded square."""
    x = np.random.default_rng(1).standard_normal(10000).astype(np.float32)
    top = PowerLayer(2.0).forward(x)
    assert (top.view(np.uint32) == powf(x, f32(2)).view(np.uint32)).all()
    np.testing.assert_allclose(top, x.astype(np.float64) ** 2, rtol=1.2e-7)


@pytest.mark.parametrize("name", ["general", "lrn_within", "square_scaled_shifted",
                                  "shift_zero"])
def test_float64_gradient(name):
    # PowerParameter's fields are proto floats: the double layer sees them rounded.
    power, scale, shift = (float(f32(v)) for v in CASES[name])
    x = np.random.default_rng(2).uniform(0.5, 2.0, (1, 2, 3, 2))
    layer = PowerLayer(power, scale, shift)
    top = layer.forward(x)
    assert top.dtype == np.float64
    np.testing.assert_allclose(top, (shift + scale * x) ** power, rtol=1e-14)
    jacobian = numeric_jacobian(layer.forward, x, 1e-4)
    layer.forward(x)  # backward uses the last forward's blobs
    np.testing.assert_allclose(layer.backward(np.ones_like(x)).reshape(-1), jacobian.sum(axis=0),
                               rtol=1e-6)


def test_errors():
    layer = PowerLayer(2.0)
    with pytest.raises(LayerStateError):
        layer.backward(np.ones(3, np.float32))
    with pytest.raises(BlobError, match="int64"):
        layer.forward(np.ones(3, np.int64))
    layer.forward(np.ones(3, np.float32))
    with pytest.raises(BlobError, match="dtype"):
        layer.backward(np.ones(3, np.float64))
