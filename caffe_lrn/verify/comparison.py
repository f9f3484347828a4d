"""Comparing our top with a reference top: the numbers a verification reports.

Distances are float32 ULPs (:mod:`caffe_lrn.numerics.ulp`).
"""
import numpy as np

from caffe_lrn.errors import BlobError
from caffe_lrn.numerics.ulp import bit_differs, blob_ulp_distance, count_differing, ulp_distance


def _as_float(value):
    return None if value is None else float(value)


#: Elements compared at once (see :meth:`BlobComparison.update`): ~67 MB of temporaries.
PIECE_ELEMENTS = 1 << 20


class BlobComparison:
    """How far our top is from the reference top: the numbers a verification reports.

    Built chunk by chunk along the first axis (images) with :meth:`update`, so a
    memory-mapped blob of any size is compared with bounded memory. Fields:

    - ``compared``: elements compared; ``differing``: elements that differ bit for bit
      (NaN equals NaN; +0 and -0 differ);
    - ``max_abs``: max ``|ours - reference|`` and ``max_rel``: max ``|ours - reference| /
      |reference|`` (inf where the reference is 0 and ours is not), both over the elements
      finite in both;
    - ``max_ulp`` and ``mean_ulp``: float32 ULP distance (see :func:`blob_ulp_distance`);
      the mean is over elements whose distance is finite;
    - ``nan_mismatch``: elements NaN in one blob only; ``inf_mismatch``: elements infinite
      in one blob only or infinities of opposite sign;
    - ``nan_payload_differing``: elements NaN in both whose bits (sign, payload) differ:
      reported, not a failure (``differing`` counts NaN as equal to NaN); which NaN an
      operation returns is the CPU's choice, not the layer's arithmetic;
    - ``worst_index`` (the (n, c, h, w) of the largest ULP distance, the first one if tied;
      None when nothing differs), ``worst_reference``, ``worst_ours``, ``worst_ulp``;
    - ``channel_max_ulp``: max ULP per channel (axis 1), for plots.
    """

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.compared = 0
        self.differing = 0
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.max_ulp = 0.0
        self._ulp_sum = 0.0
        self._ulp_finite = 0
        self.nan_mismatch = 0
        self.inf_mismatch = 0
        self.nan_payload_differing = 0
        self.worst_index = None
        self.worst_reference = None
        self.worst_ours = None
        self.worst_ulp = None
        self._worst_key = (-1.0, False)
        channels = self.shape[1] if len(self.shape) > 1 else 1
        self.channel_max_ulp = np.zeros(channels, dtype=np.float64)

    @property
    def mean_ulp(self):
        return self._ulp_sum / self._ulp_finite if self._ulp_finite else 0.0

    @property
    def pattern_agrees(self):
        """True when NaN and inf sit at the same elements (with the same sign) in both."""
        return self.nan_mismatch == 0 and self.inf_mismatch == 0

    def update(self, ours, reference, start=0):
        """Add images ``start .. start + len(ours)`` to the comparison."""
        ours = np.asarray(ours)
        reference = np.asarray(reference)
        if ours.shape != reference.shape:
            raise BlobError(f"cannot compare blobs of shapes {ours.shape} and "
                            f"{reference.shape}")
        if ours.size == 0:
            return self
        if ours.ndim == 4 and ours.size > PIECE_ELEMENTS:
            # The float64 and int64 temporaries below come to ~67 bytes an element: compare
            # a bounded piece at a time (runs of images, or of channels of one image), in
            # element order, so the first of tied worst elements is still the one named.
            num, channels = ours.shape[:2]
            per_image = ours[0].size
            if per_image <= PIECE_ELEMENTS:
                step = PIECE_ELEMENTS // per_image
                for first in range(0, num, step):
                    self._add(ours[first:first + step], reference[first:first + step],
                              start + first, 0)
                return self
            step = max(1, PIECE_ELEMENTS // max(1, per_image // max(1, channels)))
            for image in range(num):
                for c0 in range(0, channels, step):
                    self._add(ours[image:image + 1, c0:c0 + step],
                              reference[image:image + 1, c0:c0 + step], start + image, c0)
            return self
        return self._add(ours, reference, start, 0)

    def _add(self, ours, reference, start, channel0):
        """Add a piece: images from ``start``, channels from ``channel0``."""
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
        both = nan_o & nan_r
        if both.any() and ours.dtype == reference.dtype:
            kind = np.uint32 if ours.dtype.itemsize == 4 else np.uint64
            self.nan_payload_differing += int(np.count_nonzero(
                ours[both].view(kind) != reference[both].view(kind)))
        self.inf_mismatch += int(np.count_nonzero(
            (inf_o | inf_r) & ~(inf_o & inf_r & (o64 == r64))))
        if distance.ndim > 1:
            axes = (0,) + tuple(range(2, distance.ndim))
            stop = channel0 + distance.shape[1]
            self.channel_max_ulp[channel0:stop] = np.maximum(
                self.channel_max_ulp[channel0:stop], distance.max(axis=axes))
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
                shifted = [int(i) for i in index]
                shifted[0] += start
                if len(shifted) > 1:
                    shifted[1] += channel0
                self.worst_index = tuple(shifted)
                self.worst_reference = float(reference.flat[flat])
                self.worst_ours = float(ours.flat[flat])
                self.worst_ulp = float(distance.flat[flat])
        return self

    def passes(self, max_ulp=None):
        """Policy: bit-identical passes; with ``max_ulp`` N, up to N ULP pass.

        A NaN or inf pattern mismatch always fails.
        """
        if not self.pattern_agrees:
            return False
        if max_ulp is None:
            return self.differing == 0
        return self.max_ulp <= max_ulp

    def as_dict(self):
        return {
            "compared": self.compared,
            "differing": self.differing,
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "max_ulp": self.max_ulp,
            "mean_ulp": self.mean_ulp,
            "nan_mismatch": self.nan_mismatch,
            "inf_mismatch": self.inf_mismatch,
            "nan_payload_differing": self.nan_payload_differing,
            "pattern_agrees": self.pattern_agrees,
            "worst": None if self.worst_index is None else {
                "index": list(self.worst_index),
                "reference": _as_float(self.worst_reference),
                "ours": _as_float(self.worst_ours),
                "ulp": _as_float(self.worst_ulp),
            },
        }


def compare_blobs(ours, reference):
    """Compare two whole blobs at once; returns a :class:`BlobComparison`."""
    ours = np.asarray(ours)
    return BlobComparison(ours.shape).update(ours, reference)
