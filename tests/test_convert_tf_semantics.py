"""The NumPy TF-semantics LRN: the seed articles' worked examples, and Caffe's reference tops."""
import numpy as np
import pytest

from caffe_lrn.numerics.ulp import ulp_distance
from caffe_lrn.convert import caffe_to_tf
import tf_semantics as ts
from caffe_lrn.errors import BlobError, ParameterError
from caffe_lrn.params import LRNParams
from conftest import EXAMPLES

# Cases whose inputs overflow, are huge or non-finite: Caffe's running window turns them
# into NaN or wipes out k, which a from-scratch window (TF's) does not reproduce.
NOT_FINITE = {"across_huge", "within_huge", "across_allhuge", "within_allhuge",
              "across_huge1e20", "within_huge1e20", "across_nan", "within_nan", "across_inf"}
NET_LAYERS = [("alexnet", "conv1", "norm1"), ("alexnet", "conv2", "norm2"),
              ("caffenet", "pool1", "norm1"), ("caffenet", "pool2", "norm2"),
              ("cifar10_full", "pool1", "norm1"), ("cifar10_full", "pool2", "norm2")]
NET_PARAMS = {  # the lrn_param of the bundled prototxts (checked in test_convert_cli)
    "alexnet": LRNParams(local_size=5, alpha=1e-4, beta=0.75),
    "caffenet": LRNParams(local_size=5, alpha=1e-4, beta=0.75),
    "cifar10_full": LRNParams(local_size=3, alpha=5e-05, beta=0.75,
                              norm_region="WITHIN_CHANNEL"),
}


def printed(value, digits=8):
    """A float32 as the seed articles' NumPy printed it: %.8f with trailing zeros cut."""
    return format(float(value), f".{digits}f").rstrip("0")


# --- seed 000: tf.nn.local_response_normalization(2 * ones([2, 2, 2, 3]), 1, 0, 1, 1) ---------

def test_seed_all_twos_three_channels():
    x = 2 * np.ones([2, 2, 2, 3], np.float32)
    out = ts.local_response_normalization(x, 1, 0, 1, 1)
    assert out.shape == x.shape
    for pixel in out.reshape(-1, 3):
        assert [printed(v) for v in pixel] == ["0.25", "0.16666667", "0.25"]
    # the article's explanation: 2 / (4 + 4 + 4) for the middle channel
    assert out[0, 0, 0, 1] == np.float32(2) * (np.float32(1) / np.float32(12))


# --- seed 001: the same call on ones([2, 2, 3, 3]) (output shown as an image; by hand) -------

def test_seed_all_ones_by_hand():
    out = ts.local_response_normalization(np.ones([2, 2, 3, 3], np.float32), 1, 0, 1, 1)
    assert np.all(out[..., 0] == 0.5) and np.all(out[..., 2] == 0.5)
    assert np.all(out[..., 1] == np.float32(1) / np.float32(3))


# --- seed 002: a [1, 2, 2, 8] feature map, depth_radius 2, bias 0, alpha 1, beta 1 ------------

SEED_002_INPUT = [[[1, 2, 3, 4], [5, 6, 7, 8], [8, 7, 6, 5], [4, 3, 2, 1]],
                  [[4, 3, 2, 1], [8, 7, 6, 5], [1, 2, 3, 4], [5, 6, 7, 8]]]
SEED_002_OUTPUT = [
    ["0.07142857", "0.06666667", "0.05454545", "0.04444445", "0.03703704", "0.03157895",
     "0.04022989", "0.05369128"],
    ["0.05369128", "0.04022989", "0.03157895", "0.03703704", "0.04444445", "0.05454545",
     "0.06666667", "0.07142857"],
    ["0.13793103", "0.10000001", "0.0212766", "0.00787402", "0.05194805", "0.04",
     "0.03448276", "0.04545454"],
    ["0.07142857", "0.06666667", "0.05454545", "0.04444445", "0.03703704", "0.03157895",
     "0.04022989", "0.05369128"],
]


def test_seed_feature_map_every_printed_value():
    x = np.array(SEED_002_INPUT, np.float32).reshape(1, 2, 2, 8)
    out = ts.local_response_normalization(x, 2, 0, 1, 1)
    assert [[printed(v) for v in row] for row in out.reshape(4, 8)] == SEED_002_OUTPUT


def test_seed_feature_map_hand_examples():
    x = np.array(SEED_002_INPUT, np.float32).reshape(1, 2, 2, 8)
    out = ts.local_response_normalization(x, 2, 0, 1, 1)
    assert printed(out[0, 0, 0, 0]) == "0.07142857"  # 1 / (1 + 4 + 9)
    assert printed(out[0, 0, 0, 3]) == "0.04444445"  # 4 / (4 + 9 + 16 + 25 + 36)
    # 3 / 30 prints as 0.10000001: TF multiplies by the rounded reciprocal, it does not divide
    assert printed(out[0, 1, 0, 1]) == "0.10000001"
    assert printed(np.float32(3) / np.float32(30)) == "0.1"


# --- seed 004: values 1..32 as [2, 2, 2, 4], depth_radius 2, bias 0, alpha 1, beta 1 ---------

def test_seed_one_to_thirty_two():
    x = np.arange(1, 33, dtype=np.float32).reshape(2, 2, 2, 4)
    out = ts.local_response_normalization(x, 2, 0, 1, 1)
    flat = dict(zip(x.ravel().tolist(), out.ravel().tolist()))
    assert printed(flat[26.0]) == "0.00923952"  # 26 / (25² + 26² + 27² + 28²)
    assert printed(flat[17.0]).startswith("0.017453")  # 17 / (17² + 18² + 19²)
    assert printed(flat[20.0]).startswith("0.018433")  # 20 / (18² + 19² + 20²)


# --- the formula, branches and errors ---------------------------------------------------------

def test_square_sum_window_is_clipped():
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 1, 5)
    sums = ts.square_sum(x, 1).ravel().tolist()
    assert sums == [1 + 4, 1 + 4 + 9, 4 + 9 + 16, 9 + 16 + 25, 16 + 25]


@pytest.mark.parametrize("beta", [1.0, 0.5, 0.75, 2.0])
def test_general_beta_matches_float64_formula(beta):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 7)).astype(np.float32)
    out = ts.local_response_normalization(x, 2, 1.5, 0.3, beta)
    x64 = x.astype(np.float64)
    sums = np.stack([np.sum(x64[..., max(0, d - 2):d + 3] ** 2, axis=-1) for d in range(7)], -1)
    expected = x64 / (1.5 + np.float64(np.float32(0.3)) * sums) ** beta
    # float32 rounding of sqr_sum and t, magnified by beta, then one rounding of the power
    assert ulp_distance(out, expected).max() <= 4
    assert ulp_distance(out, expected).mean() < 1


def test_bad_input_is_refused():
    with pytest.raises(BlobError, match="4 axes"):
        ts.local_response_normalization(np.ones((2, 3), np.float32), 1, 0, 1, 1)
    with pytest.raises(BlobError, match="float32 or float64"):
        ts.local_response_normalization(np.ones((1, 2, 2, 3), np.int32), 1, 0, 1, 1)
    with pytest.raises(ParameterError, match="depth_radius"):
        ts.square_sum(np.ones((1, 1, 1, 3), np.float32), -1)
    with pytest.raises(ParameterError, match="odd"):
        ts.box_average_zero_padded(np.ones((1, 3, 3, 1), np.float32), 4)


def test_same_padding_would_be_wrong_at_borders():
    # A 3x5 plane of ones: with padding counted every border average is below 1, while an
    # average that leaves padding out (TF's SAME) stays 1 everywhere.
    squares = np.ones((1, 3, 5, 2), np.float32)
    pool = ts.box_average_zero_padded(squares, 3)
    assert pool[0, 1, 1:4, 0].tolist() == [1.0, 1.0, 1.0]
    assert pool[0, 0, 0, 0] == np.float32(4) / np.float32(9)
    assert pool[0, 0, 2, 0] == np.float32(6) / np.float32(9)


def test_layout_round_trip():
    blob = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    nhwc = ts.nchw_to_nhwc(blob)
    assert nhwc.shape == (2, 4, 5, 3)
    assert nhwc[1, 2, 3, 0] == blob[1, 0, 2, 3]
    assert np.array_equal(ts.nhwc_to_nchw(nhwc), blob)


# --- against Caffe's reference tops -----------------------------------------------------------

def caffe_params(case):
    return LRNParams(local_size=int(case["local_size"]), alpha=float(case["alpha"]),
                     beta=float(case["beta"]), k=float(case["k"]),
                     norm_region=str(case["norm_region"]))


def tf_semantics_top(params, bottom):
    """Caffe layer ``params`` converted to TF and run by the NumPy TF semantics (NCHW)."""
    target = caffe_to_tf(params).target
    x = ts.nchw_to_nhwc(bottom)
    if params.within:
        top = ts.within_channel_composite(x, target.local_size, target.alpha, target.beta)
    else:
        top = ts.local_response_normalization(x, target.depth_radius, target.bias,
                                              target.alpha, target.beta)
    return ts.nhwc_to_nchw(top)


def test_every_finite_reference_case_within_8_ulp(refs):
    finite = [name for name in refs if name not in NOT_FINITE]
    assert len(finite) == 15
    worst = {}
    for name in finite:
        case = refs[name]
        top = tf_semantics_top(caffe_params(case), case["x"])
        worst[name] = ulp_distance(top, case["top"]).max()
    assert max(worst.values()) <= 8, worst
    assert worst["across_alexnet"] > 0  # a from-scratch window does differ from Caffe's


def test_running_window_cases_are_where_tf_parts_from_caffe(refs):
    # A huge value leaving Caffe's window wipes out k and the small squares; TF keeps them.
    case = refs["across_huge"]
    top = tf_semantics_top(caffe_params(case), case["x"])
    assert ulp_distance(top, case["top"]).max() > 1e6


@pytest.mark.parametrize("net,bottom,top", NET_LAYERS)
def test_net_blobs(net, bottom, top):
    blobs = np.load(EXAMPLES / f"{net}_blobs.npz")
    params = NET_PARAMS[net]
    distance = ulp_distance(tf_semantics_top(params, blobs[bottom]), blobs[top])
    if params.within:
        assert distance.max() <= 8
    else:
        # Caffe's running window carries rounding error from large channels into small
        # ones: on these activations its top is tens of ULP from any from-scratch sum.
        assert 8 < distance.max() <= 40
