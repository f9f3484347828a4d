"""Verification of reference LRN activations: bundled Caffe dumps, and every way a check fails."""
import numpy as np
import pytest

from caffe_lrn import LRNLayer, load_net, lrn_layers
from caffe_lrn.io.reference import blob_to_proto, escape_name, open_blobs
from caffe_lrn.errors import LayerNotFoundError
from caffe_lrn.verify.check import FAIL, PASS, UNVERIFIABLE, verify_net, verify_paths

from conftest import BVLC_NETS, EXAMPLES

BUNDLED = [
    ("cifar10_full.caffemodel", "cifar10_full_blobs.npz"),
    ("alexnet_deploy.prototxt", "alexnet_blobs.npz"),
    ("caffenet_deploy.prototxt", "caffenet_blobs.npz"),
]


@pytest.fixture(scope="module")
def alexnet():
    return load_net(EXAMPLES / "alexnet_deploy.prototxt")


@pytest.fixture(scope="module")
def alexnet_blobs():
    with np.load(EXAMPLES / "alexnet_blobs.npz", allow_pickle=False) as z:
        return {key: z[key] for key in z.files}


def _store(tmp_path, arrays, name="ref.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return open_blobs(path)


def _nudged(array, index, steps=1):
    out = array.copy()
    for _ in range(steps):
        out[index] = np.nextafter(out[index], np.float32(np.inf), dtype=out.dtype)
    return out


@pytest.mark.parametrize("net, blobs", BUNDLED)
def test_bundled_caffe_dump_is_bit_identical(net, blobs):
    report = verify_paths(EXAMPLES / net, EXAMPLES / blobs)
    assert [check.layer for check in report.checks] == ["norm1", "norm2"]
    for check in report.checks:
        assert check.status == PASS, check.reason
        assert check.comparison.compared == int(np.prod(check.shape)) > 0
        assert check.comparison.differing == 0
        assert check.comparison.max_ulp == 0.0
    assert report.passed


def test_bundled_regions_and_blob_names():
    report = verify_paths(EXAMPLES / "cifar10_full.caffemodel",
                          EXAMPLES / "cifar10_full_blobs.npz")
    assert [(c.bottom, c.top, c.params.norm_region) for c in report.checks] == [
        ("pool1", "norm1", "WITHIN_CHANNEL"), ("pool2", "norm2", "WITHIN_CHANNEL")]
    assert report.checks[0].shape == (2, 32, 16, 16)


def test_one_ulp_nudge_fails_bitwise_and_passes_max_ulp_1(tmp_path, alexnet, alexnet_blobs):
    index = (0, 12, 3, 4)
    arrays = dict(alexnet_blobs, norm2=_nudged(alexnet_blobs["norm2"], index))
    blobs = _store(tmp_path, arrays)
    report = verify_net(alexnet, blobs)
    norm1, norm2 = report.checks
    assert norm1.status == PASS
    assert norm2.status == FAIL
    c = norm2.comparison
    assert (c.differing, c.max_ulp, c.worst_index, c.worst_ulp) == (1, 1.0, index, 1.0)
    assert c.worst_reference == float(arrays["norm2"][index])
    assert c.worst_ours == float(alexnet_blobs["norm2"][index])
    assert not report.passed
    relaxed = verify_net(alexnet, blobs, max_ulp=1)
    assert relaxed.passed and relaxed.checks[1].comparison.max_ulp == 1.0


def test_nan_pattern_mismatch_fails_even_with_max_ulp(tmp_path, alexnet, alexnet_blobs):
    top = alexnet_blobs["norm1"].copy()
    top[0, 5, 6, 7] = np.nan
    blobs = _store(tmp_path, dict(alexnet_blobs, norm1=top))
    report = verify_net(alexnet, blobs, max_ulp=1_000_000)
    check = report.checks[0]
    assert check.status == FAIL
    assert check.comparison.nan_mismatch == 1
    assert check.comparison.worst_index == (0, 5, 6, 7)
    assert "NaN/inf pattern differs" in check.reason


def test_missing_blob_is_unverifiable_and_lists_the_reference(tmp_path, alexnet, alexnet_blobs):
    arrays = {k: v for k, v in alexnet_blobs.items() if k != "conv2"}
    report = verify_net(alexnet, _store(tmp_path, arrays))
    norm1, norm2 = report.checks
    assert norm1.status == PASS
    assert norm2.status == UNVERIFIABLE
    assert "no bottom blob 'conv2'" in norm2.reason
    assert "it has: conv1, input__data, norm1, norm2" in norm2.reason
    assert norm2.comparison is None and not report.passed


def test_top_shape_mismatch_is_unverifiable(tmp_path, alexnet, alexnet_blobs):
    arrays = dict(alexnet_blobs, norm1=alexnet_blobs["norm1"][:, :, :, :54])
    check = verify_net(alexnet, _store(tmp_path, arrays)).checks[0]
    assert check.status == UNVERIFIABLE
    assert "(1, 96, 55, 54) but bottom blob 'conv1' has shape (1, 96, 55, 55)" in check.reason


def test_channels_disagreeing_with_the_net_are_unverifiable(tmp_path, alexnet, alexnet_blobs):
    arrays = dict(alexnet_blobs, conv1=alexnet_blobs["conv1"][:, :95],
                  norm1=alexnet_blobs["norm1"][:, :95])
    check = verify_net(alexnet, _store(tmp_path, arrays)).checks[0]
    assert check.status == UNVERIFIABLE
    assert "95 channels" in check.reason and "num_output 96" in check.reason


@pytest.mark.parametrize("bad, expected", [
    (lambda a: a.astype(np.int32), "dtype int32"),
    (lambda a: a[:0], "is empty"),
    (lambda a: a[0], "must have 4 axes"),
])
def test_unusable_bottom_is_unverifiable(tmp_path, alexnet, alexnet_blobs, bad, expected):
    arrays = dict(alexnet_blobs, conv2=bad(alexnet_blobs["conv2"]))
    check = verify_net(alexnet, _store(tmp_path, arrays)).checks[1]
    assert check.status == UNVERIFIABLE and expected in check.reason


def _small_net(tmp_path, extra_layers="", lrn_top="norm", region="ACROSS_CHANNELS"):
    text = f"""
name: "small"
layer {{ name: "data" type: "Input" top: "data"
        input_param {{ shape {{ dim: 2 dim: 7 dim: 5 dim: 3 }} }} }}
layer {{ name: "norm" type: "LRN" bottom: "data" top: "{lrn_top}"
        lrn_param {{ local_size: 3 alpha: 0.5 beta: 0.75 k: 2 norm_region: {region} }} }}
{extra_layers}
"""
    path = tmp_path / "small.prototxt"
    path.write_text(text)
    return load_net(path)


def test_later_in_place_layer_makes_the_check_unverifiable(tmp_path):
    net = _small_net(tmp_path, 'layer { name: "relu" type: "ReLU" bottom: "norm" top: "norm" }')
    x = np.random.default_rng(0).standard_normal((2, 7, 5, 3)).astype(np.float32)
    top = LRNLayer(lrn_layers(net)[0].params).forward(x)
    check = verify_net(net, _store(tmp_path, {"data": x, "norm": np.maximum(top, 0)})).checks[0]
    assert check.status == UNVERIFIABLE
    assert "'norm'" in check.reason and "'relu' (ReLU)" in check.reason
    assert "overwritten in place" in check.reason
    assert check.comparison is None


def test_in_place_lrn_is_unverifiable(tmp_path):
    net = _small_net(tmp_path, lrn_top="data")
    x = np.ones((2, 7, 5, 3), dtype=np.float32)
    check = verify_net(net, _store(tmp_path, {"data": x})).checks[0]
    assert check.status == UNVERIFIABLE and "computes in place" in check.reason


def test_float64_reference_is_run_in_float64(tmp_path):
    net = _small_net(tmp_path, region="WITHIN_CHANNEL")
    x = np.random.default_rng(1).standard_normal((2, 7, 5, 3))
    top = LRNLayer(lrn_layers(net)[0].params).forward(x)
    assert top.dtype == np.float64
    check = verify_net(net, _store(tmp_path, {"data": x, "norm": top})).checks[0]
    assert check.status == PASS and check.dtype == "float64"
    nudged = top.copy()
    nudged[1, 6, 4, 2] = np.nextafter(nudged[1, 6, 4, 2], np.inf)
    check = verify_net(net, _store(tmp_path, {"data": x, "norm": nudged}, "b.npz")).checks[0]
    assert check.status == FAIL and check.comparison.worst_index == (1, 6, 4, 2)
    assert check.comparison.max_ulp < 1e-6


def test_layer_selection_and_unknown_names(alexnet, alexnet_blobs, tmp_path):
    blobs = _store(tmp_path, alexnet_blobs)
    report = verify_net(alexnet, blobs, layers=["norm2"])
    assert [c.layer for c in report.checks] == ["norm2"]
    with pytest.raises(LayerNotFoundError, match="no layer named 'norm3'.*norm1, norm2"):
        verify_net(alexnet, blobs, layers=["norm3"])
    with pytest.raises(LayerNotFoundError, match="'conv1' is a Convolution layer, not LRN"):
        verify_net(alexnet, blobs, layers=["conv1"])


def _googlenet_reference():
    """GoogLeNet's two LRN layers (blob names with '/') on synthetic bottoms."""
    net = load_net(BVLC_NETS / "googlenet_deploy.prototxt")
    infos = {info.name: info for info in lrn_layers(net)}
    rng = np.random.default_rng(7)
    arrays = {}
    # pool1/norm1 follows a pooling layer; conv2/norm2 follows a 192-output convolution.
    for name, shape in (("pool1/norm1", (2, 64, 7, 9)), ("conv2/norm2", (1, 192, 6, 5))):
        info = infos[name]
        x = (rng.standard_normal(shape) * 30).astype(np.float32)
        arrays[info.bottom] = x
        arrays[info.top] = LRNLayer(info.params).forward(x)
    return net, arrays


def test_npy_directory_with_escaped_googlenet_names(tmp_path):
    net, arrays = _googlenet_reference()
    assert "pool1/norm1" in arrays
    for name, array in arrays.items():
        np.save(tmp_path / f"{escape_name(name)}.npy", array)
    assert (tmp_path / "pool1%2Fnorm1.npy").is_file()
    report = verify_net(net, open_blobs(tmp_path))
    assert [c.layer for c in report.checks] == ["pool1/norm1", "conv2/norm2"]
    assert [c.status for c in report.checks] == [PASS, PASS]
    assert report.checks[0].bottom == "pool1/3x3_s2"


def test_binaryproto_directory_with_escaped_names(tmp_path):
    net, arrays = _googlenet_reference()
    for name, array in arrays.items():
        (tmp_path / f"{escape_name(name)}.binaryproto").write_bytes(
            blob_to_proto(array, legacy_shape=name.startswith("conv2")).SerializeToString())
    report = verify_net(net, open_blobs(tmp_path))
    assert report.passed
    assert sum(c.comparison.compared for c in report.checks) == 2 * 64 * 63 + 192 * 30


V1_NET = """
name: "legacy"
input: "data"
input_dim: 2 input_dim: 7 input_dim: 5 input_dim: 3
layers { name: "norm" type: LRN bottom: "data" top: "norm"
         lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }
layers { name: "pool" type: POOLING bottom: "norm" top: "pool"
         pooling_param { pool: MAX kernel_size: 2 } }
"""


def test_legacy_v1_text_and_binary_nets(tmp_path):
    text = tmp_path / "legacy.prototxt"
    text.write_text(V1_NET)
    net = load_net(text)
    x = np.random.default_rng(3).standard_normal((2, 7, 5, 3)).astype(np.float32)
    (info,) = lrn_layers(net)
    blobs = _store(tmp_path, {"data": x, "norm": LRNLayer(info.params).forward(x)})
    assert verify_paths(text, blobs.path).passed
    binary = tmp_path / "legacy.caffemodel"
    binary.write_bytes(net.SerializeToString())
    report = verify_paths(binary, blobs.path)
    assert report.passed and report.checks[0].params.k == 2.0
    # An in-place V1 ReLU after the LRN is seen once the net is upgraded.
    text.write_text(V1_NET + 'layers { name: "relu" type: RELU bottom: "norm" top: "norm" }\n')
    check = verify_paths(text, blobs.path).checks[0]
    assert check.status == UNVERIFIABLE and "'relu' (ReLU)" in check.reason


def test_big_endian_npy_dump_is_read_by_value(tmp_path, alexnet, alexnet_blobs):
    for name in ("conv2", "norm2"):
        np.save(tmp_path / f"{name}.npy", alexnet_blobs[name].astype(">f4"))
    report = verify_net(alexnet, open_blobs(tmp_path), layers=["norm2"])
    (check,) = report.checks
    assert check.status == PASS and check.dtype == "float32"
    assert check.comparison.compared == 256 * 27 * 27
