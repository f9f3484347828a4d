"""Split layer: forward shares the bottom, backward sums the top diffs in Caffe's order."""
import numpy as np
import pytest

from caffe_lrn.errors import BlobError, LayerStateError
from caffe_lrn.layers import SplitLayer


def loop_reference_backward(top_diffs):
    """caffe_add(top0, top1), then axpy(1, top_i, ...) element by element in float32."""
    out = np.empty_like(top_diffs[0])
    flat = [d.reshape(-1) for d in top_diffs]
    for i in range(out.size):
        acc = flat[0][i] + flat[1][i]
        for extra in flat[2:]:
            acc = acc + extra[i]
        out.reshape(-1)[i] = acc
    return out


def test_forward_hands_the_same_blob_to_every_top():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4, 1)
    tops = SplitLayer(3).forward(x)
    assert len(tops) == 3 and all(top is x for top in tops)


@pytest.mark.parametrize("num_tops", [1, 2, 3, 4])
def test_backward_against_loop_reference(num_tops):
    rng = np.random.default_rng(num_tops)
    shape = (2, 3, 5, 4)
    diffs = [(rng.standard_normal(shape) * 10 ** rng.uniform(-3, 3)).astype(np.float32)
             for _ in range(num_tops)]
    layer = SplitLayer(num_tops)
    layer.forward(np.zeros(shape, np.float32))
    got = layer.backward(diffs)
    if num_tops == 1:
        np.testing.assert_array_equal(got, diffs[0])
        assert got is not diffs[0]
    else:
        want = loop_reference_backward(diffs)
        assert (got.view(np.uint32) == want.view(np.uint32)).all()


def test_backward_sum_order_is_left_to_right():
    # (1e8 + -1e8) + 1 = 1, whereas 1e8 + (-1e8 + 1) = 0 in float32.
    diffs = [np.array([1e8], np.float32), np.array([-1e8], np.float32),
             np.array([1.0], np.float32)]
    layer = SplitLayer(3)
    layer.forward(np.zeros(1, np.float32))
    assert layer.backward(diffs)[0] == 1.0


def test_float64_backward():
    diffs = [np.full((1, 2, 2, 3), v) for v in (0.1, 0.2, 0.3)]
    layer = SplitLayer(3)
    layer.forward(np.zeros((1, 2, 2, 3)))
    np.testing.assert_array_equal(layer.backward(diffs), (0.1 + 0.2) + 0.3)


def test_errors():
    with pytest.raises(BlobError):
        SplitLayer(0)
    layer = SplitLayer(2)
    with pytest.raises(LayerStateError):
        layer.backward([np.zeros(2, np.float32)] * 2)
    layer.forward(np.zeros((2, 2), np.float32))
    with pytest.raises(BlobError, match="needs 2 top diffs"):
        layer.backward([np.zeros((2, 2), np.float32)])
    with pytest.raises(BlobError, match="shape"):
        layer.backward([np.zeros((2, 3), np.float32)] * 2)
