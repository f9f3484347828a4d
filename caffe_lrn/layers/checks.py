"""Checks shared by the layers: what a bottom blob and a top diff must be."""
import numpy as np

from caffe_lrn.errors import BlobError
from caffe_lrn.numerics.caffe_math import check_dtype

AXES_MESSAGE = "Input must have 4 axes, corresponding to (num, channels, height, width)"


def check_blob(bottom, layer, ndim=4):
    """``bottom`` as an array (never copied) after Caffe's and our own checks.

    Caffe has float and double layers only: other dtypes are refused, naming the dtype.
    ``ndim=4`` applies Caffe's rank check with its message and the offending shape.
    """
    if isinstance(bottom, np.ndarray):
        array = bottom
    else:
        try:
            array = np.asarray(bottom)
        except (TypeError, ValueError) as exc:
            raise BlobError(f"{layer} bottom is not an array: {exc}") from None
    array = native_order(array)
    check_dtype(array, f"{layer} bottom")
    if ndim is not None and array.ndim != ndim:
        raise BlobError(f"{layer}: {AXES_MESSAGE}; got {array.ndim} axes, shape "
                        f"{tuple(array.shape)}")
    return array


def native_order(array):
    """``array`` in the machine's byte order (a big-endian .npy gives '>f4' arrays)."""
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array


def check_diff(top_diff, top, what="top_diff"):
    """``top_diff`` must have the top's shape and dtype."""
    top_diff = native_order(np.asarray(top_diff))
    if top_diff.shape != top.shape:
        raise BlobError(f"{what} shape {tuple(top_diff.shape)} differs from the top shape "
                        f"{tuple(top.shape)}")
    if top_diff.dtype != top.dtype:
        raise BlobError(f"{what} dtype {top_diff.dtype} differs from the top dtype "
                        f"{top.dtype}")
    return top_diff
