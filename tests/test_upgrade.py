"""Caffe's upgrade of V0/V1 nets and deprecated inputs, against hand-written expectations."""
import numpy as np
import pytest

from caffe_lrn import load_net, lrn_layers
from caffe_lrn.errors import NetParseError, NetUpgradeError
from caffe_lrn.nets.loader import read_net
from caffe_lrn.schema import LayerParameter, NetParameter
from caffe_lrn.nets.textproto import parse_text
from caffe_lrn.nets.upgrade import (
    BOTH_FORMATS_MESSAGE, V1_LAYER_TYPES, needs_upgrade, upgrade_net,
)
from conftest import BVLC_NETS, DATA

LEGACY = DATA / "nets" / "legacy"
PAIRS = [("alexnet_v1.prototxt", "alexnet_v1_upgraded.prototxt"),
         ("small_v0.prototxt", "small_v0_upgraded.prototxt")]


@pytest.mark.parametrize("legacy,expected", PAIRS)
def test_upgrade_matches_hand_written_current_form(legacy, expected):
    upgraded = load_net(LEGACY / legacy)
    want, _ = read_net(LEGACY / expected)
    assert not needs_upgrade(want)
    assert upgraded == want
    assert upgraded.layer[0].name == "input" and upgraded.layer[0].type == "Input"
    assert len(upgraded.layers) == 0 and len(upgraded.input) == 0
    assert len(upgraded.input_dim) == 0


@pytest.mark.parametrize("legacy,expected", PAIRS)
def test_legacy_lrn_layers_equal_current_form(legacy, expected):
    got = lrn_layers(load_net(LEGACY / legacy))
    want = lrn_layers(load_net(LEGACY / expected))
    assert [(i.name, i.bottom, i.top, i.lrn_param, i.params, i.index) for i in got] == \
        [(i.name, i.bottom, i.top, i.lrn_param, i.params, i.index) for i in want]


def test_v1_lrn_values():
    infos = lrn_layers(load_net(LEGACY / "alexnet_v1.prototxt"))
    assert [i.params.as_dict() for i in infos] == [
        dict(local_size=7, alpha=float(np.float32(0.0002)), beta=float(np.float32(0.8)),
             norm_region="ACROSS_CHANNELS", k=2.0, engine="DEFAULT"),
        dict(local_size=3, alpha=float(np.float32(5e-05)), beta=0.75,
             norm_region="WITHIN_CHANNEL", k=3.0, engine="CAFFE")]
    assert [i.index for i in infos] == [3, 6]  # the Input layer comes first


def test_v0_lrn_values_and_padding_fold():
    net = load_net(LEGACY / "small_v0.prototxt")
    infos = lrn_layers(net)
    assert [(i.name, i.params.local_size, i.params.k) for i in infos] == [
        ("norm1", 3, 1.5), ("norm2", 9, 1.0)]
    assert infos[0].params.beta == pytest.approx(0.6, rel=1e-7)
    conv2 = next(layer for layer in net.layer if layer.name == "conv2")
    assert list(conv2.bottom) == ["norm1"] and list(conv2.convolution_param.pad) == [1]
    assert all(layer.name != "pad2" for layer in net.layer)


def test_input_shape_form_becomes_input_layer():
    net = parse_text('input: "a" input_shape { dim: 1 dim: 2 } input: "b" '
                     'input_shape { dim: 3 } layer { name: "l" type: "ReLU" bottom: "a" '
                     'top: "c" }', NetParameter())
    upgrade_net(net)
    assert [layer.name for layer in net.layer] == ["input", "l"]
    assert list(net.layer[0].top) == ["a", "b"]
    assert [list(s.dim) for s in net.layer[0].input_param.shape] == [[1, 2], [3]]


def test_input_without_shape_is_dropped_like_caffe():
    net = parse_text('input: "data" layer { name: "l" type: "ReLU" }', NetParameter())
    upgrade_net(net)
    assert [layer.name for layer in net.layer] == ["l"] and not net.input


def test_input_dim_count_mismatch_is_refused():
    net = parse_text('input: "data" input_dim: 1 input_dim: 3 input_dim: 4', NetParameter())
    with pytest.raises(NetUpgradeError, match="input_dim needs 4 values per input"):
        upgrade_net(net)


def test_both_layer_and_layers_refused_with_caffes_message(tmp_path):
    path = tmp_path / "mixed.prototxt"
    path.write_text('layer { name: "a" type: "ReLU" }\nlayers { name: "b" type: RELU }\n')
    with pytest.raises(NetUpgradeError) as info:
        load_net(path)
    assert str(info.value) == f"{path}: {BOTH_FORMATS_MESSAGE}"
    assert "Refusing to upgrade inconsistent NetParameter input" in str(info.value)


def test_both_formats_at_cli_exit_1(tmp_path, capsys):
    from caffe_lrn.cli import main
    path = tmp_path / "mixed.prototxt"
    path.write_text('layer { name: "a" type: "ReLU" }\nlayers { name: "b" type: RELU }\n')
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "both 'layer' and 'layers'" in err[0]


def test_every_v1_type_maps_to_a_string():
    from caffe_lrn.schema import V1LayerParameter
    names = [v.name for v in V1LayerParameter.LayerType.DESCRIPTOR.values]
    assert sorted(names) == sorted(V1_LAYER_TYPES)
    assert V1_LAYER_TYPES["SOFTMAX_LOSS"] == "SoftmaxWithLoss"
    assert V1_LAYER_TYPES["LRN"] == "LRN"


def test_unknown_v0_type_is_refused():
    net = parse_text('layers { layer { name: "x" type: "mystery" } }', NetParameter())
    with pytest.raises(NetUpgradeError, match="Unknown layer name: mystery"):
        upgrade_net(net)


def test_v0_misplaced_parameter_is_a_warning_not_an_error():
    net = parse_text('input: "d" input_dim: 1 input_dim: 2 input_dim: 3 input_dim: 4 '
                     'layers { layer { name: "r" type: "relu" local_size: 3 } '
                     'bottom: "d" top: "d" }', NetParameter())
    notes = upgrade_net(net)
    assert notes == ["Unknown parameter local_size for layer type relu (V0 layer 'r'); "
                     "it is dropped"]
    assert not net.layer[1].HasField("lrn_param")


def test_v1_data_fields_move_to_transform_param():
    net = parse_text('layers { name: "d" type: DATA top: "data" data_param { source: "db" '
                     'scale: 0.5 mirror: true crop_size: 9 } }', NetParameter())
    upgrade_net(net)
    layer = net.layer[0]
    assert layer.type == "Data"
    assert (layer.transform_param.scale, layer.transform_param.mirror,
            layer.transform_param.crop_size) == (0.5, True, 9)
    assert not layer.data_param.HasField("scale") and layer.data_param.source == "db"


def test_old_batch_norm_params_get_zero_rates():
    net = parse_text('layer { name: "bn" type: "BatchNorm" param { lr_mult: 1 } '
                     'param { lr_mult: 1 } param { lr_mult: 1 decay_mult: 2 } }',
                     NetParameter())
    upgrade_net(net)
    assert [(p.lr_mult, p.decay_mult) for p in net.layer[0].param] == [(0, 0)] * 3


def test_current_nets_are_left_unchanged():
    for path in sorted(BVLC_NETS.glob("*.prototxt")):
        net, _ = read_net(path)
        before = net.SerializeToString()
        assert not needs_upgrade(net)
        assert upgrade_net(net) == []
        assert net.SerializeToString() == before


def test_lrn_layer_with_two_bottoms_is_refused():
    net = NetParameter()
    net.layer.add(name="n2", type="LRN", bottom=["a", "b"], top=["c"])
    with pytest.raises(NetParseError, match="'n2' must have exactly one bottom and one top"):
        lrn_layers(net)


def test_even_local_size_names_the_layer():
    from caffe_lrn.errors import ParameterError
    net = NetParameter()
    layer = net.layer.add(name="bad", type="LRN", bottom=["a"], top=["b"])
    layer.lrn_param.local_size = 4
    with pytest.raises(ParameterError, match="'bad'.*odd values for local_size"):
        lrn_layers(net)


def test_lrn_param_defaults_are_filled_explicitly():
    net = NetParameter()
    net.layer.add(name="n", type="LRN", bottom=["a"], top=["b"])
    (info,) = lrn_layers(net)
    for field in ("local_size", "alpha", "beta", "norm_region", "k", "engine"):
        assert info.lrn_param.HasField(field)
    assert (info.lrn_param.local_size, info.lrn_param.beta) == (5, 0.75)
    assert isinstance(net.layer[0], LayerParameter)
