"""LRNLayer: bit for bit against Caffe's own outputs, Caffe's own test cases, and ours."""
import zlib

import numpy as np
import pytest

import caffe_lrn
from caffe_lrn import LRNLayer, LRNParams, load_net, lrn_layers
from caffe_lrn.layers.backend import numba_available
from caffe_lrn.numerics.ulp import count_differing, ulp_distance
from caffe_lrn.errors import BlobError, LayerStateError, ParameterError
from caffe_lrn.layers import lrn as lrn_module
from caffe_lrn.schema import LayerParameter, LRNParameter
from conftest import REFERENCE
from lrn_reference import (check_gradient, lrn_across_backward_reference,
                           lrn_across_reference, lrn_within_backward_reference,
                           lrn_within_reference)

CASE_NAMES = [
    "across_default", "across_alexnet", "across_k2", "across_size1", "across_bigsize",
    "across_beta1", "within_default", "within_default_k1", "within_cifar", "within_size1",
    "within_nonsquare", "within_bigsize", "across_C1", "across_zeros", "within_zeros",
    "across_huge", "within_huge", "across_allhuge", "within_allhuge", "across_huge1e20",
    "within_huge1e20", "across_nan", "within_nan", "across_inf",
]


def params_of_case(case):
    return LRNParams(local_size=int(case["local_size"]), alpha=float(case["alpha"]),
                     beta=float(case["beta"]), k=float(case["k"]),
                     norm_region=str(case["norm_region"]))


def run_case(case, **layer_kwargs):
    layer = LRNLayer(params_of_case(case), **layer_kwargs)
    top = layer.forward(case["x"])
    return top, layer.backward(case["top_diff"])


# ------------------------------------------------------------------ Caffe's outputs
def test_reference_cases_are_all_covered(refs, cases):
    assert sorted(refs) == sorted(CASE_NAMES)
    assert sorted(c["name"] for c in cases) == sorted(CASE_NAMES)


BACKENDS = ["numpy"] + (["numba"] if numba_available() else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_bit_for_bit_with_caffe(refs, name, backend):
    case = refs[name]
    top, bottom_diff = run_case(case, backend=backend)
    differing_top = count_differing(top, case["top"])
    differing_diff = count_differing(bottom_diff, case["bottom_diff"])
    print(f"{name}: top {differing_top} of {top.size} differ, bottom_diff {differing_diff} "
          f"of {bottom_diff.size} differ")
    assert (differing_top, differing_diff) == (0, 0)
    # NaN exactly where Caffe has NaN (count_differing already treats NaN == NaN).
    assert np.array_equal(np.isnan(top), np.isnan(case["top"]))
    assert np.array_equal(np.isnan(bottom_diff), np.isnan(case["bottom_diff"]))


def test_differing_element_counts_table(refs, capsys):
    rows = []
    for name in CASE_NAMES:
        top, bottom_diff = run_case(refs[name])
        rows.append((name, top.size, count_differing(top, refs[name]["top"]),
                     count_differing(bottom_diff, refs[name]["bottom_diff"])))
    with capsys.disabled():
        print("\ncase                 elements  top_differing  bottom_diff_differing")
        for row in rows:
            print(f"{row[0]:20s} {row[1]:8d}  {row[2]:13d}  {row[3]:21d}")
    assert all(row[2] == 0 and row[3] == 0 for row in rows)


def test_the_cases_need_the_exact_primitives(refs, monkeypatch):
    """The comparison can fail: a two-rounding axpy or NumPy's float32 power break it."""
    case = refs["across_alexnet"]

    def two_rounding_axpy(a, x, y, *placement, **profile):
        y[...] = np.float32(a) * x + y
        return y

    with monkeypatch.context() as patch:
        patch.setattr(lrn_module, "axpy", two_rounding_axpy)
        top, _ = run_case(case, backend="numpy")
    assert count_differing(top, case["top"]) > 0
    with monkeypatch.context() as patch:
        patch.setattr(lrn_module, "powx", lambda x, p: np.power(x, np.float32(p)))
        top, bottom_diff = run_case(case, backend="numpy")
    assert count_differing(top, case["top"]) + count_differing(
        bottom_diff, case["bottom_diff"]) > 0


NET_CASES = {"across_default": "lrn", "within_default": "lrn", "across_alexnet": "norm1",
             "within_cifar": "norm1"}


@pytest.mark.parametrize("name", sorted(NET_CASES))
def test_prototxt_nets_match_caffe_net_outputs(refs, net_outputs, name):
    net = load_net(REFERENCE / "prototxt" / f"{name}.prototxt")
    (info,) = [i for i in lrn_layers(net) if i.name == NET_CASES[name]]
    layer = LRNLayer(info.lrn_param)
    top = layer.forward(refs[name]["x"])
    bottom_diff = layer.backward(refs[name]["top_diff"])
    assert count_differing(top, net_outputs[f"{name}__top_net"]) == 0
    assert count_differing(bottom_diff, net_outputs[f"{name}__bottom_diff_net"]) == 0


def test_layer_parameter_and_text_give_the_same_layer(refs):
    case = refs["within_cifar"]
    layer_param = LayerParameter(name="norm1", type="LRN")
    layer_param.lrn_param.local_size = 3
    layer_param.lrn_param.alpha = 5e-05
    layer_param.lrn_param.norm_region = LRNParameter.WITHIN_CHANNEL
    text = "local_size: 3 alpha: 5e-05 beta: 0.75 norm_region: WITHIN_CHANNEL"
    for layer in (LRNLayer(layer_param), LRNLayer.from_text(text),
                  LRNLayer(layer_param.lrn_param)):
        assert layer.params == params_of_case(case)
        assert count_differing(layer.forward(case["x"]), case["top"]) == 0


# ------------------------------------------------------------------ Caffe's test_lrn_layer.cpp
@pytest.fixture
def caffe_blob():
    """Caffe's fixture: a 2x7x3x3 blob from a Gaussian filler (mean 0, std 1)."""
    return np.random.default_rng(1701).standard_normal((2, 7, 3, 3)).astype(np.float32)


@pytest.mark.parametrize("local_size", [5, 15])
def test_caffe_forward_across_channels(caffe_blob, local_size):
    layer = LRNLayer(LRNParams(local_size=local_size))
    top = layer.forward(caffe_blob)
    assert top.shape == (2, 7, 3, 3)
    want, _ = lrn_across_reference(caffe_blob, local_size, 1.0, 0.75, 1.0)
    np.testing.assert_allclose(top, want, rtol=0, atol=1e-5)  # Caffe's epsilon_


def test_caffe_forward_within_channel(caffe_blob):
    layer = LRNLayer(LRNParams(local_size=3, norm_region="WITHIN_CHANNEL"))
    top = layer.forward(caffe_blob)
    assert top.shape == (2, 7, 3, 3)
    want = lrn_within_reference(caffe_blob, 3, 1.0, 0.75)
    np.testing.assert_allclose(top, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("params", [LRNParams(local_size=5), LRNParams(local_size=15),
                                    LRNParams(local_size=3, norm_region="WITHIN_CHANNEL")],
                         ids=["across", "across_large_region", "within"])
def test_caffe_gradient_check(caffe_blob, params):
    """Caffe's GradientChecker(1e-2, 1e-2), exhaustive over top and bottom elements."""
    assert check_gradient(LRNLayer(params), caffe_blob, step=1e-2, threshold=1e-2) <= 1.0


# ------------------------------------------------------------------ our own cases
OWN_CASES = {
    # name: (shape N, C, H, W, LRNParams)
    "across_nonsquare_k2_beta1.5": ((2, 5, 3, 4), LRNParams(3, 0.7, 1.5, "ACROSS_CHANNELS", 2.0)),
    "across_size_gt_channels": ((3, 2, 4, 5), LRNParams(7, 1.3, 0.75, "ACROSS_CHANNELS", 1.0)),
    "across_1x1_images": ((3, 6, 1, 1), LRNParams(5, 2.0, 2.5, "ACROSS_CHANNELS", 0.5)),
    "across_one_channel": ((2, 1, 4, 3), LRNParams(3, 1.0, 0.75, "ACROSS_CHANNELS", 1.5)),
    "within_nonsquare_beta1.25": ((2, 3, 5, 4), LRNParams(3, 2.0, 1.25, "WITHIN_CHANNEL", 1.0)),
    "within_window_gt_image": ((1, 2, 2, 3), LRNParams(5, 1.0, 0.75, "WITHIN_CHANNEL", 1.0)),
    "within_1x1_images": ((3, 4, 1, 1), LRNParams(3, 1.5, 0.75, "WITHIN_CHANNEL", 1.0)),
    "within_one_channel_k_ignored": ((2, 1, 3, 5), LRNParams(3, 1.0, 2.0, "WITHIN_CHANNEL", 7.0)),
}


def reference_top(x, params):
    if params.within:
        return lrn_within_reference(x, params.local_size, params.alpha, params.beta)
    return lrn_across_reference(x, params.local_size, params.alpha, params.beta, params.k)[0]


def reference_bottom_diff(x, top_diff, params):
    if params.within:
        return lrn_within_backward_reference(x, top_diff, params.local_size, params.alpha,
                                             params.beta)
    return lrn_across_backward_reference(x, top_diff, params.local_size, params.alpha,
                                         params.beta, params.k)


@pytest.mark.parametrize("name", sorted(OWN_CASES))
def test_own_cases_against_loop_reference(name):
    shape, params = OWN_CASES[name]
    # A seed fixed by the name: str hashes change from run to run (PYTHONHASHSEED).
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = rng.standard_normal(shape).astype(np.float32)
    top_diff = rng.standard_normal(shape).astype(np.float32)
    layer = LRNLayer(params)
    top = layer.forward(x)
    bottom_diff = layer.backward(top_diff)
    want_top = reference_top(x, params)
    # scale carries a few ULP of running-window error, which scale^-beta multiplies by beta.
    # Over 200 draws the worst was 7.6 * beta (across_1x1_images, alpha 2: large squares
    # enter and leave the window) and 5.3 * beta (across_nonsquare_k2_beta1.5).
    assert ulp_distance(top, want_top).max() <= 10 * max(1.0, params.beta)
    want_diff = reference_bottom_diff(x, top_diff, params)
    scale = np.abs(want_diff).max() + np.abs(top_diff).max()
    np.testing.assert_allclose(bottom_diff, want_diff, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("name", sorted(OWN_CASES))
def test_own_cases_gradient_check(name):
    shape, params = OWN_CASES[name]
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    assert check_gradient(LRNLayer(params), x, step=1e-2, threshold=1e-2) <= 1.0


def test_within_channel_ignores_k():
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32)
    tops = [LRNLayer(LRNParams(3, 1.0, 0.75, "WITHIN_CHANNEL", k)).forward(x)
            for k in (1.0, 2.0, 0.25)]
    assert count_differing(tops[0], tops[1]) == 0 and count_differing(tops[0], tops[2]) == 0


# ------------------------------------------------------------------ float64
@pytest.mark.parametrize("params", [
    LRNParams(5, 1e-2, 0.75, "ACROSS_CHANNELS", 1.0),
    LRNParams(3, 0.7, 1.5, "ACROSS_CHANNELS", 2.0),
    LRNParams(7, 1.3, 0.75, "ACROSS_CHANNELS", 1.0),
    LRNParams(3, 2.0, 1.25, "WITHIN_CHANNEL", 1.0),
    LRNParams(5, 1.0, 0.75, "WITHIN_CHANNEL", 1.0),
], ids=["across", "across_k2", "across_size7", "within3", "within5"])
def test_float64_against_loop_reference(params):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 4, 3, 5)) * 3
    top_diff = rng.standard_normal((2, 4, 3, 5))
    layer = LRNLayer(params)
    top = layer.forward(x)
    bottom_diff = layer.backward(top_diff)
    assert top.dtype == np.float64 and bottom_diff.dtype == np.float64
    np.testing.assert_allclose(top, reference_top(x, params), rtol=1e-12, atol=0)
    want = reference_bottom_diff(x, top_diff, params)
    # Relative to the size of the two terms bottom_diff is the difference of.
    scale = np.abs(top_diff).max() + np.abs(want).max()
    np.testing.assert_allclose(bottom_diff, want, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("params", [LRNParams(3, 0.7, 1.5, "ACROSS_CHANNELS", 2.0),
                                    LRNParams(3, 2.0, 1.25, "WITHIN_CHANNEL", 1.0)],
                         ids=["across", "within"])
def test_float64_gradient_check(params):
    x = np.random.default_rng(5).standard_normal((2, 3, 2, 4))
    assert check_gradient(LRNLayer(params), x, step=1e-6, threshold=1e-6) <= 1.0


# ------------------------------------------------------------------ lifecycle and checks
def test_rank_other_than_4_is_refused_with_caffes_message():
    layer = LRNLayer(LRNParams())
    for shape in [(2, 7, 3), (1, 2, 7, 3, 3), (5,)]:
        with pytest.raises(BlobError, match=r"Input must have 4 axes, corresponding to "
                                            r"\(num, channels, height, width\)") as err:
            layer.forward(np.zeros(shape, np.float32))
        assert str(shape) in str(err.value)


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.int64, np.uint8, bool,
                                   np.complex64, np.longdouble])
def test_other_dtypes_are_refused(dtype):
    if np.dtype(dtype) == np.float64:
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(BlobError, match=np.dtype(dtype).name):
        LRNLayer(LRNParams()).forward(np.zeros((1, 2, 3, 4), dtype))


def test_backward_before_forward():
    with pytest.raises(LayerStateError, match="before forward"):
        LRNLayer(LRNParams()).backward(np.zeros((1, 2, 3, 4), np.float32))


def test_top_diff_must_match_top():
    layer = LRNLayer(LRNParams(local_size=3))
    layer.forward(np.ones((1, 2, 3, 4), np.float32))
    with pytest.raises(BlobError, match=r"shape \(1, 2, 4, 3\)"):
        layer.backward(np.ones((1, 2, 4, 3), np.float32))
    with pytest.raises(BlobError, match="dtype float64"):
        layer.backward(np.ones((1, 2, 3, 4), np.float64))


def test_bad_parameters_are_refused():
    with pytest.raises(ParameterError, match="LRN only supports odd values for local_size"):
        LRNLayer(LRNParams(local_size=4))
    with pytest.raises(ParameterError, match="Unknown normalization region"):
        LRNLayer(LRNParams(norm_region="ACROSS_SPACE"))
    with pytest.raises(ParameterError, match="not 'LRN'"):
        LRNLayer(LayerParameter(name="conv", type="Convolution"))
    with pytest.raises(ParameterError, match="got dict"):
        LRNLayer({"local_size": 3})
    with pytest.raises(ParameterError, match="chunk_images"):
        LRNLayer(LRNParams(), chunk_images=0)


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
@pytest.mark.parametrize("shape", [(0, 3, 2, 2), (2, 0, 2, 2), (2, 3, 0, 4), (2, 3, 4, 0)])
def test_empty_blobs_give_empty_results(region, shape):
    layer = LRNLayer(LRNParams(local_size=3, norm_region=region))
    top = layer.forward(np.zeros(shape, np.float32))
    assert top.shape == shape and top.dtype == np.float32
    bottom_diff = layer.backward(np.zeros(shape, np.float32))
    assert bottom_diff.shape == shape


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
def test_strided_fortran_and_read_only_inputs(refs, region):
    name = "across_k2" if region == "ACROSS_CHANNELS" else "within_nonsquare"
    case = refs[name]
    x, top_diff = case["x"], case["top_diff"]
    variants = {
        "fortran": (np.asfortranarray(x), np.asfortranarray(top_diff)),
        "strided": (np.repeat(x, 2, axis=3)[..., ::2], np.repeat(top_diff, 2, axis=2)[:, :, ::2]),
        "reversed_view": (x[::-1][::-1], top_diff[:, ::-1][:, ::-1]),
    }
    for label, (xv, dv) in variants.items():
        xv_before = xv.copy()
        xv.flags.writeable = False
        dv.flags.writeable = False
        layer = LRNLayer(params_of_case(case))
        top = layer.forward(xv)
        bottom_diff = layer.backward(dv)
        assert count_differing(top, case["top"]) == 0, label
        assert count_differing(bottom_diff, case["bottom_diff"]) == 0, label
        assert np.array_equal(xv, xv_before), label


@pytest.mark.parametrize("name", ["across_alexnet", "within_cifar", "across_k2"])
def test_chunked_and_whole_batch_give_the_same_bits(refs, name, monkeypatch):
    case = refs[name]
    whole = run_case(case, chunk_images=case["x"].shape[0])
    one_by_one = run_case(case, chunk_images=1)
    # Chunks smaller than one image: rows (ACROSS) or channel planes (WITHIN).
    monkeypatch.setattr(lrn_module, "CHUNK_ELEMENTS", 40)
    tiny = run_case(case)
    for got in (one_by_one, tiny):
        assert count_differing(got[0], whole[0]) == 0
        assert count_differing(got[1], whole[1]) == 0
    assert count_differing(whole[0], case["top"]) == 0


def test_forward_keeps_caffes_scale_for_across_channels(refs):
    case = refs["across_default"]
    layer = LRNLayer(params_of_case(case))
    layer.forward(case["x"])
    assert layer.scale.shape == case["x"].shape
    _, want = lrn_across_reference(case["x"], 5, 1.0, 0.75, 1.0)
    assert ulp_distance(layer.scale, want).max() <= 4
    assert LRNLayer(LRNParams(norm_region="WITHIN_CHANNEL")).scale is None


def test_package_exports_the_layer():
    assert caffe_lrn.LRNLayer is LRNLayer
    assert "LRNLayer" in caffe_lrn.__all__


def test_big_endian_blobs_are_read_as_their_values(refs):
    case = refs["across_k2"]
    layer = LRNLayer(params_of_case(case))
    top = layer.forward(case["x"].astype(">f4"))
    bottom_diff = layer.backward(case["top_diff"].astype(">f4"))
    assert top.dtype == np.float32 and top.dtype.isnative
    assert count_differing(top, case["top"]) == 0
    assert count_differing(bottom_diff, case["bottom_diff"]) == 0


EXAMPLE_NETS = [("alexnet_deploy.prototxt", "alexnet_blobs.npz"),
                ("caffenet_deploy.prototxt", "caffenet_blobs.npz"),
                ("cifar10_full_deploy.prototxt", "cifar10_full_blobs.npz")]


@pytest.mark.parametrize("net_name, blobs_name", EXAMPLE_NETS)
def test_whole_bvlc_nets_lrn_layers_bit_for_bit(net_name, blobs_name):
    """Bottom and top blobs Caffe produced running whole nets (bundled examples)."""
    from conftest import EXAMPLES

    with np.load(EXAMPLES / blobs_name) as blobs:
        layers = lrn_layers(load_net(EXAMPLES / net_name))
        assert len(layers) == 2
        for info in layers:
            top = LRNLayer(info.lrn_param).forward(blobs[info.bottom])
            assert count_differing(top, blobs[info.top]) == 0, info.name
