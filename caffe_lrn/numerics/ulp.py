"""Distances between blobs in float32 units in the last place (ULPs).

The ULP distance between two float32 values is the number of representable float32 values
between them: both are mapped onto a line of integers that keeps their order (+0 and -0
map to the same point), and the distance is the difference. NaN is compared by pattern
only: two NaNs are equal, a NaN against a number is a mismatch (distance ``inf``).
"""

import numpy as np

from caffe_lrn.errors import BlobError


def _ordered(a):
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def ulp_distance(a, b):
    """Elementwise float32 ULP distance between ``a`` and ``b`` as float64.

    Both arrays are rounded to float32 first. NaN vs NaN is 0; NaN vs anything else is inf.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise BlobError(f"cannot compare blobs of shapes {a.shape} and {b.shape}")
    a32 = a.astype(np.float32, copy=False)
    b32 = b.astype(np.float32, copy=False)
    distance = np.abs(_ordered(a32) - _ordered(b32)).astype(np.float64)
    nan_a = np.isnan(a32)
    nan_b = np.isnan(b32)
    distance[nan_a & nan_b] = 0.0
    distance[nan_a ^ nan_b] = np.inf
    return distance


def count_differing(a, b):
    """How many elements differ bit for bit (NaN equals NaN, +0 equals -0 not)."""
    a32 = np.ascontiguousarray(a, dtype=np.float32)
    b32 = np.ascontiguousarray(b, dtype=np.float32)
    same = (a32.view(np.int32) == b32.view(np.int32)) | (np.isnan(a32) & np.isnan(b32))
    return int(same.size - np.count_nonzero(same))


#: Elements compared per step of :func:`differing_indices`: a bool buffer of this many
#: bytes, small enough to stay in cache, large enough that the loop costs nothing.
DIFF_BLOCK = 1 << 20


def _bit_view(a, b):
    """``a`` and ``b`` flat, as the integers of their bits (float32 unless both are float64)."""
    dtype = np.float64 if (a.dtype == np.float64 and b.dtype == np.float64) else np.float32
    a = np.ascontiguousarray(a, dtype=dtype).reshape(-1)
    b = np.ascontiguousarray(b, dtype=dtype).reshape(-1)
    view = np.int64 if dtype == np.float64 else np.int32
    return a, b, a.view(view), b.view(view)


def differing_indices(a, b, block=DIFF_BLOCK, nan_payloads=False):
    """Flat indices (ascending) of the elements whose bits differ, NaN equal to NaN.

    The same elements as :func:`bit_differs`, found in one sweep over the integer views of
    the bits, a block at a time: no float or full-size temporaries, so it runs at the speed
    memory is read. Only the (usually few) differing elements are looked at again, to let
    two NaNs of different payloads count as equal.

    ``nan_payloads=True`` returns ``(indices, count)``, ``count`` being the elements NaN in
    both whose bits (sign, payload) differ: not differing, but worth reporting.
    """
    a, b, a_bits, b_bits = _bit_view(np.asarray(a), np.asarray(b))
    found = []
    buffer = np.empty(min(block, a.size), dtype=bool)
    for start in range(0, a.size, block):
        stop = min(a.size, start + block)
        ne = buffer[:stop - start]
        np.not_equal(a_bits[start:stop], b_bits[start:stop], out=ne)
        if ne.any():
            found.append(np.flatnonzero(ne) + start)
    if not found:
        index = np.empty(0, dtype=np.intp)
        return (index, 0) if nan_payloads else index
    index = np.concatenate(found)
    both_nan = np.isnan(a[index]) & np.isnan(b[index])
    kept = index[~both_nan] if both_nan.any() else index
    return (kept, int(np.count_nonzero(both_nan))) if nan_payloads else kept


def bit_differs(a, b):
    """Elementwise bitwise difference in the arrays' own dtype (NaN equals NaN)."""
    shape = np.shape(a)
    a, b, a_bits, b_bits = _bit_view(np.asarray(a), np.asarray(b))
    return ((a_bits != b_bits) & ~(np.isnan(a) & np.isnan(b))).reshape(shape)


def ulp_distance_f32_units(ours, reference):
    """Distance of ``ours`` from ``reference`` in float32 ULPs, for float64 blobs.

    A float64 difference is measured against the float32 spacing at the reference's
    magnitude, ``|ours - reference| / spacing(float32(|reference|))``, so a threshold in
    ULPs means the same for float32 and float64 blobs. The result may be fractional.
    NaN against NaN and equal infinities are 0; any other non-finite mismatch is inf.
    """
    ours = np.asarray(ours, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        spacing = np.spacing(np.abs(reference).astype(np.float32)).astype(np.float64)
        distance = np.abs(ours - reference) / spacing
    same = (ours == reference) | (np.isnan(ours) & np.isnan(reference))
    distance[same] = 0.0
    distance[~same & ~(np.isfinite(ours) & np.isfinite(reference))] = np.inf
    return distance


def blob_ulp_distance(ours, reference):
    """Float32-ULP distance for a pair of blobs of either float dtype.

    Two float64 blobs use :func:`ulp_distance_f32_units`; anything else
    :func:`ulp_distance` (both rounded to float32).
    """
    if ours.dtype == np.float64 and reference.dtype == np.float64:
        return ulp_distance_f32_units(ours, reference)
    return ulp_distance(ours, reference)
