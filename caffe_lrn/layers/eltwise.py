"""Caffe's Eltwise layer, PROD operation.

Forward: ``top = bottom[0] * bottom[1]``, then ``top *= bottom[i]`` for each further bottom.
Backward with ``stable_prod_grad`` (Caffe's default): for each bottom ``i``, the product of
the *other* bottoms in index order (copy the first, multiply by the next ...), times
``top_diff``. Without it: ``top / bottom[i] * top_diff``.
"""
import numpy as np

from caffe_lrn.errors import BlobError, LayerStateError, ParameterError
from caffe_lrn.layers.checks import check_blob, check_diff


def prod_forward(bottoms):
    top = np.multiply(bottoms[0], bottoms[1])
    for bottom in bottoms[2:]:
        top *= bottom
    return top


def prod_backward(top_diff, bottoms, top=None, stable_prod_grad=True):
    """The diff of every bottom, as a list in bottom order."""
    diffs = []
    for i in range(len(bottoms)):
        if stable_prod_grad:
            others = [bottom for j, bottom in enumerate(bottoms) if j != i]
            diff = np.array(others[0], copy=True)
            for other in others[1:]:
                np.multiply(other, diff, out=diff)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                diff = top / bottoms[i]
        np.multiply(diff, top_diff, out=diff)
        diffs.append(diff)
    return diffs


class EltwiseLayer:
    """Eltwise PROD layer over two or more bottoms of one shape and dtype."""

    def __init__(self, operation="PROD", stable_prod_grad=True):
        if operation != "PROD":
            raise ParameterError(f"only the PROD operation is implemented, got {operation!r}")
        self.stable_prod_grad = bool(stable_prod_grad)
        self._bottoms = self._top = None

    def forward(self, *bottoms):
        if len(bottoms) < 2:
            raise BlobError(f"Eltwise needs at least two bottoms, got {len(bottoms)}")
        bottoms = [check_blob(bottom, "Eltwise", ndim=None) for bottom in bottoms]
        for bottom in bottoms[1:]:
            if bottom.shape != bottoms[0].shape or bottom.dtype != bottoms[0].dtype:
                raise BlobError(f"Eltwise bottoms must share shape and dtype, got "
                                f"{bottoms[0].shape} {bottoms[0].dtype} and {bottom.shape} "
                                f"{bottom.dtype}")
        with np.errstate(all="ignore"):
            top = prod_forward(bottoms)
        self._bottoms, self._top = bottoms, top
        return top

    def backward(self, top_diff):
        if self._top is None:
            raise LayerStateError("Eltwise backward called before forward")
        top_diff = check_diff(top_diff, self._top)
        with np.errstate(all="ignore"):
            return prod_backward(top_diff, self._bottoms, self._top, self.stable_prod_grad)
