"""Distances between blobs: ULPs, bitwise differences, the comparison record."""
import numpy as np
import pytest

from caffe_lrn.numerics.ulp import (
    blob_ulp_distance, count_differing, ulp_distance, ulp_distance_f32_units,
)
from caffe_lrn.verify.comparison import BlobComparison, compare_blobs
from caffe_lrn.errors import BlobError

SHAPE = (2, 3, 4, 5)  # N != C != H != W


def _blob(seed=0, shape=SHAPE, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _nudge(a, index, steps=1):
    """``a`` with one element moved ``steps`` float32 values up."""
    b = a.copy()
    for _ in range(steps):
        b[index] = np.nextafter(b[index], np.float32(np.inf), dtype=b.dtype)
    return b


def test_ulp_distance_counts_representable_values_across_zero():
    tiny = np.float32(np.finfo(np.float32).smallest_subnormal)
    a = np.array([1.0, -tiny, 0.0, -0.0, np.nan], dtype=np.float32)
    b = np.array([np.nextafter(np.float32(1), np.float32(2)), tiny, -0.0, 0.0, np.nan],
                 dtype=np.float32)
    assert ulp_distance(a, b).tolist() == [1.0, 2.0, 0.0, 0.0, 0.0]


def test_ulp_distance_nan_against_number_is_inf():
    assert ulp_distance(np.float32([np.nan]), np.float32([1.0]))[0] == np.inf


def test_count_differing_sees_signed_zero_and_matches_nan():
    a = np.float32([0.0, np.nan, 1.0, 2.0])
    b = np.float32([-0.0, np.nan, 1.0, np.nextafter(np.float32(2), np.float32(3))])
    assert count_differing(a, b) == 2


def test_f32_units_for_float64_blobs_are_fractional_float32_ulps():
    ref = np.array([1.0, 2.0, 0.0, np.inf, np.nan], dtype=np.float64)
    ours = np.array([1.0 + 2.0 ** -24, 2.0 + 2.0 ** -23, 0.0, np.inf, np.nan])
    d = ulp_distance_f32_units(ours, ref)
    # float32 spacing at 1 is 2**-23, at 2 it is 2**-22.
    assert d.tolist() == [0.5, 0.5, 0.0, 0.0, 0.0]
    assert ulp_distance_f32_units(np.float64([1.0]), np.float64([np.inf]))[0] == np.inf
    # float32 pairs stay on the integer ULP line.
    assert blob_ulp_distance(np.float32([1.0]), np.float32([1.0]) * 2).tolist() == [2 ** 23]


def test_identical_blobs_pass_with_nothing_differing():
    a = _blob()
    c = compare_blobs(a, a.copy())
    assert (c.compared, c.differing, c.max_ulp, c.mean_ulp, c.max_abs) == (120, 0, 0, 0, 0)
    assert c.worst_index is None and c.pattern_agrees and c.passes()


def test_one_ulp_nudge_names_element_and_fails_bitwise_policy():
    ref = _blob(1)
    index = (1, 2, 3, 4)
    ours = _nudge(ref, index)
    c = compare_blobs(ours, ref)
    assert c.differing == 1
    assert c.max_ulp == 1.0
    assert c.worst_index == index
    assert c.worst_reference == float(ref[index]) and c.worst_ours == float(ours[index])
    assert c.mean_ulp == pytest.approx(1 / ref.size)
    assert c.max_abs == pytest.approx(abs(float(ours[index]) - float(ref[index])))
    assert not c.passes()
    assert c.passes(max_ulp=1)
    assert not c.passes(max_ulp=0)


def test_worst_element_is_the_largest_ulp_distance():
    ref = _blob(2)
    ours = _nudge(_nudge(ref, (0, 1, 0, 2), 3), (1, 0, 2, 1), 7)
    c = compare_blobs(ours, ref)
    assert (c.differing, c.max_ulp, c.worst_index, c.worst_ulp) == (2, 7.0, (1, 0, 2, 1), 7.0)
    assert c.channel_max_ulp.tolist() == [7.0, 3.0, 0.0]


def test_signed_zero_differs_bitwise_but_is_zero_ulp():
    ref = np.zeros(SHAPE, dtype=np.float32)
    ours = ref.copy()
    ours[0, 2, 1, 3] = -0.0
    c = compare_blobs(ours, ref)
    assert (c.differing, c.max_ulp, c.worst_index) == (1, 0.0, (0, 2, 1, 3))
    assert not c.passes() and c.passes(max_ulp=0)


def test_nan_pattern_mismatch_fails_under_any_threshold():
    ref = _blob(3)
    ours = ref.copy()
    ours[1, 1, 1, 1] = np.nan
    c = compare_blobs(ours, ref)
    assert c.nan_mismatch == 1 and not c.pattern_agrees
    assert c.max_ulp == np.inf and c.worst_index == (1, 1, 1, 1)
    assert not c.passes(max_ulp=1e9)
    # NaN where the reference has NaN is agreement.
    assert compare_blobs(ours, ours.copy()).passes()


def test_inf_pattern_mismatch_fails_even_one_ulp_away():
    ref = _blob(4)
    ref[0, 0, 0, 0] = np.finfo(np.float32).max
    ours = ref.copy()
    ours[0, 0, 0, 0] = np.inf  # the next float32 after FLT_MAX
    c = compare_blobs(ours, ref)
    assert c.max_ulp == 1.0 and c.inf_mismatch == 1
    assert not c.passes(max_ulp=10)


def test_relative_error_is_inf_where_reference_is_zero():
    ref = np.zeros(SHAPE, dtype=np.float32)
    ours = ref.copy()
    ours[1, 2, 3, 4] = 1e-30
    c = compare_blobs(ours, ref)
    assert c.max_rel == np.inf and c.max_abs == pytest.approx(1e-30)


def test_chunked_updates_equal_one_shot_and_offset_the_image_index():
    ref = _blob(5, shape=(5, 3, 4, 2))
    ours = _nudge(ref, (3, 2, 0, 1), 2)
    whole = compare_blobs(ours, ref)
    parts = BlobComparison(ref.shape)
    for start in range(0, 5, 2):
        parts.update(ours[start:start + 2], ref[start:start + 2], start)
    assert parts.as_dict() == whole.as_dict()
    assert parts.worst_index == (3, 2, 0, 1)


def test_shape_mismatch_is_a_blob_error():
    with pytest.raises(BlobError, match=r"\(2, 3, 4, 5\) and \(2, 3, 5, 4\)"):
        compare_blobs(_blob(), _blob(shape=(2, 3, 5, 4)))


def test_float64_blobs_compare_float64_bits():
    ref = _blob(6, dtype=np.float64)
    ours = ref.copy()
    ours[0, 1, 2, 3] = np.nextafter(ours[0, 1, 2, 3], np.inf)  # invisible in float32
    c = compare_blobs(ours, ref)
    assert c.differing == 1
    assert 0 < c.max_ulp < 1e-6
    assert c.passes(max_ulp=1) and not c.passes()


def test_as_dict_keys_are_the_json_metrics_schema():
    d = compare_blobs(_blob(), _nudge(_blob(), (0, 0, 0, 0))).as_dict()
    assert set(d) == {"compared", "differing", "max_abs", "max_rel", "max_ulp", "mean_ulp",
                      "nan_mismatch", "inf_mismatch", "nan_payload_differing",
                      "pattern_agrees", "worst"}
    assert set(d["worst"]) == {"index", "reference", "ours", "ulp"}
    assert d["worst"]["index"] == [0, 0, 0, 0]


def test_large_updates_are_compared_in_pieces_with_the_same_numbers(monkeypatch):
    """Runs of images, and runs of channels of one large image, give the numbers of one
    whole comparison: worst element (first of ties), per-channel maxima, counts."""
    from caffe_lrn.verify import comparison as module
    ref = _blob(9, shape=(3, 7, 4, 5))
    ours = ref.copy()
    for index in [(0, 6, 3, 4), (1, 2, 0, 0), (2, 6, 1, 1)]:
        ours[index] = np.nextafter(ours[index], np.float32(np.inf))
    ours[2, 6, 1, 1] = np.nextafter(ours[2, 6, 1, 1], np.float32(np.inf))  # 2 ULP: worst
    whole = compare_blobs(ours, ref).as_dict()
    whole_channels = compare_blobs(ours, ref).channel_max_ulp
    for piece in (40, 20, 140):  # channels of one image; one image; several images
        monkeypatch.setattr(module, "PIECE_ELEMENTS", piece)
        c = compare_blobs(ours, ref)
        assert c.as_dict() == whole
        assert np.array_equal(c.channel_max_ulp, whole_channels)
    assert whole["worst"]["index"] == [2, 6, 1, 1] and whole["differing"] == 3


def test_many_differing_elements_are_measured_in_pieces_with_the_same_numbers(monkeypatch):
    """Over PIECE_ELEMENTS differing elements the metrics come a piece at a time, from a
    strided chunk too: the same fields as one whole measurement (float32: exact sums)."""
    from caffe_lrn.verify import comparison as module
    rng = np.random.default_rng(4)
    ref = rng.standard_normal((3, 5, 6, 7)).astype(np.float32)
    ours = (ref * np.float32(1.0000001)).astype(np.float32)
    whole = compare_blobs(ours, ref)
    assert whole.differing > 500
    monkeypatch.setattr(module, "PIECE_ELEMENTS", 50)
    pieced = compare_blobs(np.asfortranarray(ours), np.asfortranarray(ref))
    assert pieced.as_dict() == whole.as_dict()
    assert np.array_equal(pieced.channel_max_ulp, whole.channel_max_ulp)
