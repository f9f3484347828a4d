"""Comparing our top with a reference top: the numbers a verification reports.

Distances are float32 ULPs (:mod:`caffe_lrn.numerics.ulp`).
"""
import numpy as np

from caffe_lrn.errors import BlobError
from caffe_lrn.numerics.ulp import blob_ulp_distance, differing_indices


#: Elements measured at once (see :meth:`BlobComparison._measure`): its float64 and int64
#: temporaries come to about 67 bytes an element, so a piece costs about 67 MB at most.
PIECE_ELEMENTS = 1 << 20

# Sums of whole numbers below this are exact in float64, whatever the order of addition.
_EXACT_SUM = 2.0 ** 53


def _sum_in_order(distance, finite, measured, size):
    """The sum of the finite distances of a chunk, rounded as a sum over the whole chunk.

    ``distance`` holds the chunk's elements at ``measured``; the rest are 0. Whole numbers
    (float32 ULPs) add exactly, so their sum is the same in any order. Fractional ones
    (float64 blobs) are added as NumPy adds the whole chunk's finite distances, zeros in
    place, so the mean is the one a sweep over every element gives, to the last bit.
    """
    kept = distance[finite]
    total = float(kept.sum())
    if total < _EXACT_SUM and np.all(kept == np.floor(kept)):
        return total
    if measured.size == size:
        return total
    # The positions of the measured finite distances among the chunk's finite ones.
    infinite_before = np.cumsum(~finite) - (~finite)
    line = np.zeros(size - int(np.count_nonzero(~finite)), dtype=np.float64)
    line[measured[finite] - infinite_before[finite]] = kept
    return float(line.sum())


def _as_float(value):
    return None if value is None else float(value)


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
        """Add images ``start .. start + len(ours)`` to the comparison.

        One sweep over the bits finds the elements that differ
        (:func:`~caffe_lrn.numerics.ulp.differing_indices`); every metric is then computed
        on those alone, since an element whose bits agree is 0 ULP, 0 apart and has the
        same NaN/inf pattern. Blobs of two dtypes are the exception: an element equal after
        rounding to float32 may still differ in ``max_abs``, so all elements are measured.
        """
        ours = np.asarray(ours)
        reference = np.asarray(reference)
        if ours.shape != reference.shape:
            raise BlobError(f"cannot compare blobs of shapes {ours.shape} and "
                            f"{reference.shape}")
        if ours.size == 0:
            return self
        differing, nan_payloads = differing_indices(ours, reference, nan_payloads=True)
        if ours.dtype == reference.dtype:  # payload bits compare only at one width
            self.nan_payload_differing += nan_payloads
        self.compared += int(ours.size)
        self.differing += int(differing.size)
        measured = (differing if ours.dtype == reference.dtype
                    else np.arange(ours.size, dtype=np.intp))
        if measured.size:
            self._measure(ours, reference, measured, differing, start)
        else:
            self._ulp_finite += int(ours.size)
        return self

    def _measure(self, ours, reference, measured, differing, start):
        """The metrics over the elements at flat indices ``measured`` (every other element
        of the chunk is bit-identical: distance 0), a bounded piece at a time.

        Pieces go in index order, so the first of tied worst elements is still the one
        named; only a float64 mean over more than one piece may round differently in its
        last bit from one sum over the chunk.
        """
        if measured.size <= PIECE_ELEMENTS:
            self._measure_piece(ours, reference, measured, differing, start, whole=True)
            return
        self._ulp_finite += ours.size - measured.size
        # Each piece gathers from the flat blobs: flatten a strided chunk once, not per piece.
        ours, reference = np.ascontiguousarray(ours), np.ascontiguousarray(reference)
        for first in range(0, measured.size, PIECE_ELEMENTS):
            piece = measured[first:first + PIECE_ELEMENTS]
            lo, hi = np.searchsorted(differing, [piece[0], piece[-1] + 1])
            self._measure_piece(ours, reference, piece, differing[lo:hi], start, whole=False)

    def _measure_piece(self, ours, reference, measured, differing, start, whole):
        o = ours.reshape(-1)[measured]
        r = reference.reshape(-1)[measured]
        distance = blob_ulp_distance(o, r)
        o64 = o.astype(np.float64)
        r64 = r.astype(np.float64)
        finite = np.isfinite(o64) & np.isfinite(r64)
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.abs(o64 - r64)
            rel = np.where(delta == 0, 0.0, delta / np.abs(r64))
        nan_o, nan_r = np.isnan(o64), np.isnan(r64)
        inf_o, inf_r = np.isinf(o64), np.isinf(r64)

        if finite.any():
            self.max_abs = max(self.max_abs, float(delta[finite].max()))
            self.max_rel = max(self.max_rel, float(rel[finite].max()))
        self.max_ulp = max(self.max_ulp, float(distance.max()))
        finite_distance = np.isfinite(distance)
        if whole:
            self._ulp_sum += _sum_in_order(distance, finite_distance, measured, ours.size)
            self._ulp_finite += ours.size - measured.size
        else:
            self._ulp_sum += float(distance[finite_distance].sum())
        self._ulp_finite += int(np.count_nonzero(finite_distance))
        self.nan_mismatch += int(np.count_nonzero(nan_o ^ nan_r))
        self.inf_mismatch += int(np.count_nonzero(
            (inf_o | inf_r) & ~(inf_o & inf_r & (o64 == r64))))
        if ours.ndim > 1:
            plane = int(np.prod(ours.shape[2:], dtype=np.int64))
            channel = (measured // plane) % ours.shape[1]
            np.maximum.at(self.channel_max_ulp, channel, distance)
        else:
            self.channel_max_ulp = np.maximum(self.channel_max_ulp, distance.max())

        if differing.size:
            # The largest ULP distance wins (the first one if tied: indices ascend); among
            # elements 0 ULP apart (+0 vs -0) a bitwise difference still names an element.
            if distance.max() > 0:
                at = int(np.argmax(distance))
                flat = int(measured[at])
            else:
                flat = int(differing[0])
                at = int(np.searchsorted(measured, flat))
            key = (float(distance[at]), True)
            if key > self._worst_key:
                self._worst_key = key
                index = np.unravel_index(flat, ours.shape)
                self.worst_index = (int(index[0]) + start,) + tuple(int(i) for i in index[1:])
                self.worst_reference = float(r[at])
                self.worst_ours = float(o[at])
                self.worst_ulp = float(distance[at])

    def merge(self, other):
        """Add ``other``, the comparison of the images that follow this one's.

        Comparisons of consecutive runs of images, merged in order, give the fields one
        :meth:`update` after another would have given (the worst element too: an earlier
        run wins a tie).
        """
        self.compared += other.compared
        self.differing += other.differing
        self.max_abs = max(self.max_abs, other.max_abs)
        self.max_rel = max(self.max_rel, other.max_rel)
        self.max_ulp = max(self.max_ulp, other.max_ulp)
        self._ulp_sum += other._ulp_sum
        self._ulp_finite += other._ulp_finite
        self.nan_mismatch += other.nan_mismatch
        self.inf_mismatch += other.inf_mismatch
        self.nan_payload_differing += other.nan_payload_differing
        self.channel_max_ulp = np.maximum(self.channel_max_ulp, other.channel_max_ulp)
        if other._worst_key > self._worst_key:
            self._worst_key = other._worst_key
            self.worst_index = other.worst_index
            self.worst_reference = other.worst_reference
            self.worst_ours = other.worst_ours
            self.worst_ulp = other.worst_ulp
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
