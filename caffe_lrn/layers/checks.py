"""Checks shared by the layers: what a bottom blob and a top diff must be.

Also the one home of the byte-order rule: a blob from a big-endian host (a ``'>f4'`` .npy
or dump) is read in the machine's order before any check or computation, everywhere.
"""
from typing import NamedTuple

import numpy as np

from caffe_lrn.errors import BlobError
from caffe_lrn.numerics.caffe_math import check_dtype

AXES_MESSAGE = "Input must have 4 axes, corresponding to (num, channels, height, width)"


class BlobSpec(NamedTuple):
    """A blob's shape and dtype without its data: all a diff is checked against."""

    shape: tuple
    dtype: np.dtype


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


def native_dtype(dtype):
    """``dtype`` in the machine's byte order (``'>f4'`` becomes ``float32``)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.isnative else dtype.newbyteorder("=")


def native_order(array):
    """``array`` in the machine's byte order (a big-endian .npy gives '>f4' arrays)."""
    if not array.dtype.isnative:
        return array.astype(native_dtype(array.dtype))
    return array


def check_top_diff(top_diff, top, what="top_diff"):
    """``top_diff`` must have the top's shape and dtype (byte order aside).

    Both need only ``shape`` and ``dtype``: arrays, a :class:`BlobSpec`, or a file whose
    header has been read and whose data has not.
    """
    if tuple(top_diff.shape) != tuple(top.shape):
        raise BlobError(f"{what} shape {tuple(top_diff.shape)} differs from the top shape "
                        f"{tuple(top.shape)}")
    if native_dtype(top_diff.dtype) != top.dtype:
        raise BlobError(f"{what} dtype {native_dtype(top_diff.dtype)} differs from the top "
                        f"dtype {top.dtype}")


def check_diff(top_diff, top, what="top_diff"):
    """``top_diff`` as an array in the machine's byte order, after :func:`check_top_diff`."""
    top_diff = native_order(np.asarray(top_diff))
    check_top_diff(top_diff, top, what)
    return top_diff
