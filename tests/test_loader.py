"""load_net: text and binary nets by content, the real caffemodel, typed errors."""
import os

import pytest

from caffe_lrn import load_net, lrn_layers
from caffe_lrn.errors import InputFileError, NetParseError
from caffe_lrn.nets.loader import MAX_NET_BYTES, looks_binary, parse_net, read_net
from caffe_lrn.schema import NetParameter
from conftest import BVLC_NETS, DATA, EXAMPLES

CAFFEMODEL = EXAMPLES / "cifar10_full.caffemodel"
LEGACY = DATA / "nets" / "legacy"


def test_caffemodel_written_by_caffe_loads_with_weights():
    net = load_net(CAFFEMODEL)
    assert net.name == "CIFAR10_full_deploy"
    assert [layer.name for layer in net.layer][:5] == ["data", "conv1", "pool1", "relu1",
                                                       "norm1"]
    conv1 = net.layer[1]
    assert conv1.type == "Convolution"
    assert list(conv1.blobs[0].shape.dim) == [32, 3, 5, 5]
    assert len(conv1.blobs[0].data) == 32 * 3 * 5 * 5
    assert len(conv1.blobs[1].data) == 32
    infos = lrn_layers(net)
    assert [(i.name, i.bottom, i.top, i.index) for i in infos] == [
        ("norm1", "pool1", "norm1", 4), ("norm2", "pool2", "norm2", 8)]
    for info in infos:
        assert info.params.norm_region == "WITHIN_CHANNEL"
        assert info.params.local_size == 3
        assert info.lrn_param.alpha == pytest.approx(5e-05, rel=1e-7)


def test_caffemodel_matches_its_deploy_prototxt_lrn_layers():
    binary = lrn_layers(load_net(CAFFEMODEL))
    text = lrn_layers(load_net(EXAMPLES / "cifar10_full_deploy.prototxt"))
    assert [(i.name, i.lrn_param) for i in binary] == [(i.name, i.lrn_param) for i in text]


def test_format_is_decided_by_content_not_name(tmp_path):
    binary_named_text = tmp_path / "weights.prototxt"
    binary_named_text.write_bytes(CAFFEMODEL.read_bytes())
    text_named_binary = tmp_path / "deploy.caffemodel"
    text_named_binary.write_bytes((BVLC_NETS / "alexnet_deploy.prototxt").read_bytes())
    assert read_net(binary_named_text)[1] == "binary"
    assert read_net(text_named_binary)[1] == "text"
    assert load_net(binary_named_text) == load_net(CAFFEMODEL)
    assert load_net(text_named_binary) == load_net(BVLC_NETS / "alexnet_deploy.prototxt")


def test_binary_net_round_trips(tmp_path):
    net = load_net(BVLC_NETS / "googlenet_deploy.prototxt")
    path = tmp_path / "googlenet.binaryproto"
    path.write_bytes(net.SerializeToString())
    again, form = read_net(path)
    assert form == "binary"
    assert again == net
    assert [i.name for i in lrn_layers(again)] == ["pool1/norm1", "conv2/norm2"]


def test_binary_v1_net_upgrades_like_its_text(tmp_path):
    v1, _ = read_net(LEGACY / "alexnet_v1.prototxt")
    path = tmp_path / "v1.caffemodel"
    path.write_bytes(v1.SerializeToString())
    assert load_net(path) == load_net(LEGACY / "alexnet_v1.prototxt")


def test_looks_binary():
    assert looks_binary(CAFFEMODEL.read_bytes())
    assert not looks_binary((BVLC_NETS / "googlenet_deploy.prototxt").read_bytes())
    assert not looks_binary('name: "caf\u00e9"\n'.encode("utf-8"))
    assert looks_binary(b"name: \xff\xfe")


def test_truncated_caffemodel_reports_byte_offset(tmp_path):
    data = CAFFEMODEL.read_bytes()
    path = tmp_path / "cut.caffemodel"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(NetParseError) as info:
        load_net(path)
    error = info.value
    assert error.offset is not None and 0 <= error.offset < len(data) // 2
    assert f"at byte {error.offset}" in str(error)
    assert "truncated" in str(error) and "layer[" in str(error)
    # The cut falls inside a blob's packed floats: named without an element index.
    assert "data: declares" in str(error) and ".blobs[" in str(error)


@pytest.mark.parametrize("cut", [2, 7, 100, 5000, 200_000, 359_000])
def test_every_truncation_is_a_typed_error_with_offset(tmp_path, cut):
    data = CAFFEMODEL.read_bytes()
    assert cut < len(data)
    path = tmp_path / "cut.caffemodel"
    path.write_bytes(data[:cut])
    with pytest.raises(NetParseError) as info:
        load_net(path)
    assert info.value.offset is not None and info.value.offset < cut


def test_invalid_wire_type_offset():
    # A valid name field (bytes 0-4), then a tag with wire type 7 at byte 5.
    data = b'\x0a\x03abc' + bytes([(9 << 3) | 7]) + b'\x00'
    with pytest.raises(NetParseError) as info:
        parse_net(data, source="bad.caffemodel")
    assert info.value.offset == 5
    assert "invalid wire type 7" in str(info.value)


def test_corrupt_length_inside_a_layer_offset():
    net = NetParameter(name="n")
    layer = net.layer.add(name="norm1", type="LRN")
    layer.lrn_param.local_size = 3
    data = bytearray(net.SerializeToString())
    layer_at = 3  # after the 3-byte name field: tag a2 06, length, then the layer
    assert data[layer_at:layer_at + 2] == b"\xa2\x06"
    inner = layer_at + 3  # the layer's first field: name (0a 05 "norm1")
    assert data[inner] == 0x0A
    data[inner + 1] = 0x7F  # the name now claims 127 bytes
    with pytest.raises(NetParseError) as info:
        parse_net(bytes(data), source="x.caffemodel", binary=True)
    assert info.value.offset == inner
    assert "layer[0]" in str(info.value)


def test_garbage_bytes_are_refused(tmp_path):
    path = tmp_path / "noise.caffemodel"
    path.write_bytes(bytes(range(256)) * 3)
    with pytest.raises(NetParseError) as info:
        load_net(path)
    assert info.value.offset is not None


def test_wellformed_wire_data_of_another_message_is_refused():
    # Field 99 (not a NetParameter field) holding a varint: valid wire format, not a net.
    data = bytes([(99 << 3 | 0) & 0x7F | 0x80, (99 << 3) >> 7, 1])
    with pytest.raises(NetParseError) as info:
        parse_net(data, source="other.pb", binary=True)
    assert info.value.offset == 0
    assert "field number 99" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        load_net(tmp_path / "absent.prototxt")


def test_directory(tmp_path):
    with pytest.raises(InputFileError, match="directory"):
        load_net(tmp_path)


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.prototxt"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match="empty"):
        load_net(path)


def test_size_limit_is_two_gib_minus_one_and_enforced(tmp_path, monkeypatch):
    assert MAX_NET_BYTES == 2**31 - 1
    path = tmp_path / "big.caffemodel"
    with open(path, "wb") as handle:  # sparse: no real disk use
        handle.truncate(MAX_NET_BYTES + 1)
    with pytest.raises(InputFileError, match="exceeds the 2147483647-byte limit"):
        load_net(path)
    os.unlink(path)


def test_text_failure_named_binary_still_reports_text_error(tmp_path):
    path = tmp_path / "typo.caffemodel"
    path.write_text('name: "x"\nlayr { }\n')
    with pytest.raises(NetParseError) as info:
        load_net(path)
    assert (info.value.line, info.value.column) == (2, 1)
