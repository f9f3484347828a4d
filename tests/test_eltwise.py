"""Eltwise PROD layer against loop references in Caffe's order of multiplications."""
import numpy as np
import pytest

from caffe_lrn.errors import BlobError, LayerStateError, ParameterError
from caffe_lrn.layers import EltwiseLayer


def bits(a):
    return np.asarray(a).view(np.uint32 if np.asarray(a).dtype == np.float32 else np.uint64)


def loop_forward(bottoms):
    out = np.empty_like(bottoms[0])
    for i in range(out.size):
        acc = bottoms[0].reshape(-1)[i] * bottoms[1].reshape(-1)[i]
        for b in bottoms[2:]:
            acc = acc * b.reshape(-1)[i]
        out.reshape(-1)[i] = acc
    return out


def loop_backward(top_diff, bottoms):
    """stable_prod_grad: copy the first other bottom, multiply by the next ones, then by
    top_diff, element by element."""
    diffs = []
    for i in range(len(bottoms)):
        out = np.empty_like(bottoms[0])
        others = [b.reshape(-1) for j, b in enumerate(bottoms) if j != i]
        for e in range(out.size):
            acc = others[0][e]
            for other in others[1:]:
                acc = other[e] * acc
            out.reshape(-1)[e] = acc * top_diff.reshape(-1)[e]
        diffs.append(out)
    return diffs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("count", [2, 3, 4])
def test_forward_and_backward_against_loop_reference(count, dtype):
    rng = np.random.default_rng(count)
    shape = (2, 3, 5, 4)
    bottoms = [(rng.standard_normal(shape) * 3).astype(dtype) for _ in range(count)]
    top_diff = rng.standard_normal(shape).astype(dtype)
    layer = EltwiseLayer("PROD")
    top = layer.forward(*bottoms)
    assert (bits(top) == bits(loop_forward(bottoms))).all()
    diffs = layer.backward(top_diff)
    for got, want in zip(diffs, loop_backward(top_diff, bottoms)):
        assert (bits(got) == bits(want)).all()
    # and the calculus: d(prod)/d(b_i) = prod of the others
    for i, got in enumerate(diffs):
        others = np.prod([b.astype(np.float64) for j, b in enumerate(bottoms) if j != i], axis=0)
        np.testing.assert_allclose(got, others * top_diff, rtol=1e-5)


def test_unstable_gradient_divides_the_top():
    a = np.array([[2.0, 0.0]], np.float32)
    b = np.array([[3.0, 5.0]], np.float32)
    layer = EltwiseLayer("PROD", stable_prod_grad=False)
    top = layer.forward(a, b)
    da, db = layer.backward(np.ones_like(top))
    np.testing.assert_array_equal(db, [[2.0, 0.0]])
    assert da[0, 0] == 3.0 and np.isnan(da[0, 1])  # 0/0, which stable_prod_grad avoids
    stable = EltwiseLayer("PROD")
    stable.forward(a, b)
    np.testing.assert_array_equal(stable.backward(np.ones_like(top))[0], [[3.0, 5.0]])


def test_errors():
    with pytest.raises(ParameterError):
        EltwiseLayer("SUM")
    layer = EltwiseLayer()
    with pytest.raises(BlobError, match="at least two"):
        layer.forward(np.ones(3, np.float32))
    with pytest.raises(BlobError, match="share shape and dtype"):
        layer.forward(np.ones(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(BlobError, match="share shape and dtype"):
        layer.forward(np.ones(3, np.float32), np.ones(3, np.float64))
    with pytest.raises(LayerStateError):
        layer.backward(np.ones(3, np.float32))
    with pytest.raises(BlobError, match="float16"):
        layer.forward(np.ones(3, np.float16), np.ones(3, np.float16))
