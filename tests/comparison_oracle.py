"""The comparison as it was first written: full float64/int64 metrics on every element.

Kept as the oracle of :mod:`caffe_lrn.verify.comparison`, whose update looks only at the
elements whose bits differ: the two must agree field for field.
"""
import numpy as np

from caffe_lrn.errors import BlobError
from caffe_lrn.numerics.ulp import bit_differs, blob_ulp_distance
from caffe_lrn.verify.comparison import BlobComparison


class OracleComparison(BlobComparison):
    """:class:`BlobComparison` with its first ``update``: every metric on every element."""

    def update(self, ours, reference, start=0):
        """Add images ``start .. start + len(ours)`` to the comparison."""
        ours = np.asarray(ours)
        reference = np.asarray(reference)
        if ours.shape != reference.shape:
            raise BlobError(f"cannot compare blobs of shapes {ours.shape} and "
                            f"{reference.shape}")
        if ours.size == 0:
            return self
        differs = bit_differs(ours, reference)
        distance = blob_ulp_distance(ours, reference)
        o64 = ours.astype(np.float64)
        r64 = reference.astype(np.float64)
        finite = np.isfinite(o64) & np.isfinite(r64)
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.abs(o64 - r64)
            rel = np.where(delta == 0, 0.0, delta / np.abs(r64))
        nan_o, nan_r = np.isnan(o64), np.isnan(r64)
        inf_o, inf_r = np.isinf(o64), np.isinf(r64)

        self.compared += int(ours.size)
        self.differing += int(np.count_nonzero(differs))
        if finite.any():
            self.max_abs = max(self.max_abs, float(delta[finite].max()))
            self.max_rel = max(self.max_rel, float(rel[finite].max()))
        self.max_ulp = max(self.max_ulp, float(distance.max()))
        finite_distance = np.isfinite(distance)
        self._ulp_sum += float(distance[finite_distance].sum())
        self._ulp_finite += int(np.count_nonzero(finite_distance))
        self.nan_mismatch += int(np.count_nonzero(nan_o ^ nan_r))
        self.inf_mismatch += int(np.count_nonzero(
            (inf_o | inf_r) & ~(inf_o & inf_r & (o64 == r64))))
        both = nan_o & nan_r
        if both.any() and ours.dtype == reference.dtype:
            kind = np.uint32 if ours.dtype.itemsize == 4 else np.uint64
            self.nan_payload_differing += int(np.count_nonzero(
                ours[both].view(kind) != reference[both].view(kind)))
        if distance.ndim > 1:
            axes = (0,) + tuple(range(2, distance.ndim))
            self.channel_max_ulp = np.maximum(self.channel_max_ulp, distance.max(axis=axes))
        else:
            self.channel_max_ulp = np.maximum(self.channel_max_ulp, distance.max())

        if differs.any():
            # The largest ULP distance wins; among elements 0 ULP apart (+0 vs -0) a
            # bitwise difference still names an element.
            flat = int(np.argmax(distance)) if distance.max() > 0 else int(np.argmax(differs))
            key = (float(distance.flat[flat]), True)
            if key > self._worst_key:
                self._worst_key = key
                index = np.unravel_index(flat, distance.shape)
                self.worst_index = (int(index[0]) + start,) + tuple(int(i) for i in index[1:])
                self.worst_reference = float(reference.flat[flat])
                self.worst_ours = float(ours.flat[flat])
                self.worst_ulp = float(distance.flat[flat])
        return self
