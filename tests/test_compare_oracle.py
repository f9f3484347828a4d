"""The comparison that measures only differing elements against the one that measured all.

``comparison_oracle.OracleComparison`` is the comparison as first written (float64 metrics
on every element); :class:`BlobComparison` finds the differing elements in one sweep over
the bits and measures those alone. Every field must agree, on Caffe's own reference tops
and on randomly perturbed blobs (signed zeros, NaN payloads, infinities, zero references,
float64 and mixed dtypes, runs of images added one after another or merged).
"""
import numpy as np
import pytest

from caffe_lrn import LRNLayer
from caffe_lrn.numerics.ulp import bit_differs, blob_ulp_distance, differing_indices
from caffe_lrn.verify.comparison import BlobComparison
from comparison_oracle import OracleComparison
from test_lrn_layer import CASE_NAMES, params_of_case


def _fields(c):
    """Every field of a comparison, NaN-safe (repr), including the private sums."""
    return repr((c.as_dict(), c.channel_max_ulp.tolist(), c._ulp_sum, c._ulp_finite,
                 c._worst_key))


def _both(ours, reference, splits=None):
    splits = [0, ours.shape[0]] if splits is None else splits
    new = BlobComparison(reference.shape)
    old = OracleComparison(reference.shape)
    for start, stop in zip(splits[:-1], splits[1:]):
        new.update(ours[start:stop], reference[start:stop], start)
        old.update(ours[start:stop], reference[start:stop], start)
    return new, old


def _perturb(rng, reference):
    """A copy of ``reference`` with a random few elements changed in awkward ways."""
    ours = reference.copy()
    flat = ours.reshape(-1)
    count = int(rng.integers(0, max(2, flat.size // 5)))
    where = rng.choice(flat.size, size=count, replace=False)
    kinds = rng.integers(0, 9, size=count)
    for index, kind in zip(where, kinds):
        value = flat[index]
        if kind == 0:
            flat[index] = np.nextafter(value, np.inf, dtype=flat.dtype)
        elif kind == 1:
            for _ in range(int(rng.integers(2, 50))):
                flat[index] = np.nextafter(flat[index], -np.inf, dtype=flat.dtype)
        elif kind == 2:
            flat[index] = -value  # signed zero where the value is 0
        elif kind == 3:
            flat[index] = np.nan
        elif kind == 4:
            flat[index] = np.inf if rng.random() < 0.5 else -np.inf
        elif kind == 5:
            flat[index] = value * np.float32(rng.uniform(0.5, 2.0))
        elif kind == 6:
            flat[index] = 0.0
        elif kind == 7 and flat.dtype == np.float32:
            bits = flat.view(np.int32)
            bits[index] = np.int32(0x7FC00000 | int(rng.integers(1, 1 << 20)))  # NaN payload
        else:
            flat[index] = np.float32(rng.standard_normal()) * 1e30
    return ours


def _reference(rng, shape, dtype):
    reference = (rng.standard_normal(shape) * 10.0).astype(dtype)
    flat = reference.reshape(-1)
    specials = rng.choice(flat.size, size=min(flat.size, 6), replace=False)
    flat[specials[:2]] = 0.0
    flat[specials[2:3]] = -0.0
    flat[specials[3:4]] = np.nan
    flat[specials[4:5]] = np.inf
    return reference


@pytest.mark.parametrize("name", CASE_NAMES)
def test_caffe_reference_tops_give_the_same_report(refs, cases, name):
    case = dict(next(c for c in cases if c["name"] == name), x=refs[name]["x"])
    ours = LRNLayer(params_of_case(case)).forward(case["x"])
    reference = refs[name]["top"]
    new, old = _both(ours, reference)
    assert _fields(new) == _fields(old)
    rng = np.random.default_rng(len(name))
    perturbed = _perturb(rng, reference)
    new, old = _both(perturbed, reference, [0, 1, reference.shape[0]])
    assert _fields(new) == _fields(old)
    assert new.differing == int(np.count_nonzero(bit_differs(perturbed, reference)))


@pytest.mark.parametrize("seed", range(40))
def test_random_perturbations_give_the_same_report(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 6)), int(rng.integers(1, 7)), int(rng.integers(1, 5)),
             int(rng.integers(2, 9)))
    dtype = (np.float32, np.float64)[seed % 2]
    reference = _reference(rng, shape, dtype)
    ours = _perturb(rng, reference)
    if seed % 5 == 4:
        ours = ours.astype(np.float64 if dtype == np.float32 else np.float32)  # mixed
    cuts = sorted(set(rng.integers(0, shape[0] + 1, size=2).tolist()) | {0, shape[0]})
    new, old = _both(ours, reference, cuts)
    assert _fields(new) == _fields(old)


@pytest.mark.parametrize("seed", range(6))
def test_merged_runs_equal_updates_one_after_another(seed):
    rng = np.random.default_rng(100 + seed)
    shape = (7, 5, 3, 4)
    reference = _reference(rng, shape, (np.float32, np.float64)[seed % 2])
    ours = _perturb(rng, reference)
    sequential, _ = _both(ours, reference, [0, 2, 3, 7])
    merged = BlobComparison(shape)
    for start, stop in ((0, 2), (2, 3), (3, 7)):
        merged.merge(BlobComparison(shape).update(ours[start:stop], reference[start:stop],
                                                  start))
    assert _fields(merged) == _fields(sequential)


def test_fractional_float64_distances_sum_as_over_the_whole_chunk():
    # Values unrelated to the reference: distances with every bit of a float64 in use, whose
    # sum rounds differently when the zeros between them are left out (seed 0: 1 bit).
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((3, 4, 33, 41))
    ours = reference.copy()
    flat = ours.reshape(-1)
    where = rng.choice(flat.size, size=700, replace=False)
    flat[where] = rng.standard_normal(700) * 10.0 ** rng.uniform(-3, 3, 700)
    new, old = _both(ours, reference)
    assert new._ulp_sum == old._ulp_sum and new.mean_ulp == old.mean_ulp
    assert new.differing == 700
    distance = blob_ulp_distance(ours, reference).reshape(-1)
    assert distance[np.sort(where)].sum() != old._ulp_sum  # the naive sum would not do


def test_differing_indices_find_every_changed_bit_and_match_nan_payloads():
    a = np.zeros((3, 5, 7, 2), dtype=np.float32)
    b = a.copy()
    b[0, 0, 0, 1] = -0.0
    b[2, 4, 6, 1] = 1e-45
    a.reshape(-1).view(np.int32)[17] = 0x7FC00001  # two NaNs, different payloads
    b.reshape(-1).view(np.int32)[17] = 0x7FC00002
    found = differing_indices(a, b, block=64)  # blocks: 210 elements in 4 steps
    assert found.tolist() == [1, 209]
    assert differing_indices(a, a).size == 0
