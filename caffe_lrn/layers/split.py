"""Caffe's Split layer: one bottom shared by several tops.

Forward hands the same data to every top (Caffe shares the blob's data). Backward is the
sum of the tops' diffs in Caffe's order: ``caffe_add(top0, top1)``, then ``axpy(1, top_i)``
for each further top, i.e. ``((d0 + d1) + d2) + ...`` in the blob's precision.
"""
import numpy as np

from caffe_lrn.errors import BlobError, LayerStateError


def split_backward(top_diffs):
    """``bottom_diff = top_diff[0] + top_diff[1] + ...`` summed left to right."""
    if not top_diffs:
        raise BlobError("Split backward needs at least one top diff")
    if len(top_diffs) == 1:
        return np.array(top_diffs[0], copy=True)
    bottom_diff = np.add(top_diffs[0], top_diffs[1])
    for top_diff in top_diffs[2:]:
        bottom_diff += top_diff  # axpy(1, ...) is one exact-then-rounded addition
    return bottom_diff


class SplitLayer:
    """Split: ``forward(bottom)`` returns ``num_tops`` references to ``bottom``."""

    def __init__(self, num_tops=2):
        if num_tops < 1:
            raise BlobError(f"a Split layer needs at least one top, got {num_tops}")
        self.num_tops = num_tops
        self._shape = None

    def forward(self, bottom):
        bottom = np.asarray(bottom)
        self._shape = bottom.shape
        return [bottom] * self.num_tops

    def backward(self, top_diffs):
        if self._shape is None:
            raise LayerStateError("Split backward called before forward")
        if len(top_diffs) != self.num_tops:
            raise BlobError(f"Split backward needs {self.num_tops} top diffs, got "
                            f"{len(top_diffs)}")
        for top_diff in top_diffs:
            if np.shape(top_diff) != self._shape:
                raise BlobError(f"top diff shape {np.shape(top_diff)} differs from the "
                                f"bottom shape {self._shape}")
        return split_backward(top_diffs)
