"""caffe-lrn inspect and upgrade, called through main([...])."""
import json

import pytest

from caffe_lrn.cli import main
from caffe_lrn.nets.loader import load_net, read_net
from caffe_lrn.nets.textproto import parse_text
from caffe_lrn.schema import NetParameter
from conftest import BVLC_NETS, DATA, EXAMPLES

LEGACY = DATA / "nets" / "legacy"
KEYS = ["name", "bottom", "top", "norm_region", "local_size", "alpha", "beta", "k", "engine",
        "rules"]


def across(name, bottom, top):
    return dict(name=name, bottom=bottom, top=top, norm_region="ACROSS_CHANNELS",
                local_size=5, alpha=0.0001, beta=0.75, k=1.0, engine="DEFAULT", rules="")


def within(name, bottom, top):
    return dict(name=name, bottom=bottom, top=top, norm_region="WITHIN_CHANNEL",
                local_size=3, alpha=5e-05, beta=0.75, k=1.0, engine="DEFAULT", rules="")


# Every BVLC net shipped in tests/data/nets/bvlc, with the LRN layers Caffe sees.
BVLC_EXPECTED = {
    "alexnet_deploy.prototxt": [across("norm1", "conv1", "norm1"),
                                across("norm2", "conv2", "norm2")],
    "alexnet_train_val.prototxt": [across("norm1", "conv1", "norm1"),
                                   across("norm2", "conv2", "norm2")],
    "caffenet_deploy.prototxt": [across("norm1", "pool1", "norm1"),
                                 across("norm2", "pool2", "norm2")],
    "rcnn_ilsvrc13_deploy.prototxt": [across("norm1", "pool1", "norm1"),
                                      across("norm2", "pool2", "norm2")],
    "googlenet_deploy.prototxt": [across("pool1/norm1", "pool1/3x3_s2", "pool1/norm1"),
                                  across("conv2/norm2", "conv2/3x3", "conv2/norm2")],
    "cifar10_full_deploy.prototxt": [within("norm1", "pool1", "norm1"),
                                     within("norm2", "pool2", "norm2")],
    "cifar10_full_train_test.prototxt": [within("norm1", "pool1", "norm1"),
                                         within("norm2", "pool2", "norm2")],
}


def inspect_json(path, capsys):
    assert main(["inspect", "--json", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out), captured.out


def test_every_bvlc_net_is_covered():
    assert sorted(p.name for p in BVLC_NETS.glob("*.prototxt")) == sorted(BVLC_EXPECTED)


@pytest.mark.parametrize("name", sorted(BVLC_EXPECTED))
def test_bvlc_net_inspect_json(name, capsys):
    records, raw = inspect_json(BVLC_NETS / name, capsys)
    assert records == BVLC_EXPECTED[name]
    assert all(list(record) == KEYS for record in records)
    assert "9.99999974738e-05" not in raw and "9.999999747378752e-05" not in raw


def test_caffemodel_inspect_json(capsys):
    records, _ = inspect_json(EXAMPLES / "cifar10_full.caffemodel", capsys)
    assert records == BVLC_EXPECTED["cifar10_full_deploy.prototxt"]


@pytest.mark.parametrize("legacy,current", [
    ("alexnet_v1.prototxt", "alexnet_v1_upgraded.prototxt"),
    ("small_v0.prototxt", "small_v0_upgraded.prototxt")])
def test_legacy_nets_inspect_as_their_current_forms(legacy, current, capsys):
    got, _ = inspect_json(LEGACY / legacy, capsys)
    want, _ = inspect_json(LEGACY / current, capsys)
    assert got == want and len(got) == 2


def test_v1_inspect_values(capsys):
    records, _ = inspect_json(LEGACY / "alexnet_v1.prototxt", capsys)
    assert [(r["local_size"], r["alpha"], r["beta"], r["k"], r["engine"]) for r in records] \
        == [(7, 0.0002, 0.8, 2.0, "DEFAULT"), (3, 5e-05, 0.75, 3.0, "CAFFE")]


def test_inspect_table(capsys):
    assert main(["inspect", str(BVLC_NETS / "cifar10_full_deploy.prototxt")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "2 LRN" in out[0]
    assert out[1].split() == ["name", "bottom", "->", "top", "norm_region", "local_size",
                              "alpha", "beta", "k", "engine", "rules"]
    assert out[2].split() == ["norm1", "pool1", "->", "norm1", "WITHIN_CHANNEL", "3",
                              "5e-05", "0.75", "1.0", "(ignored)", "DEFAULT", "-"]


def test_inspect_legacy_table_says_upgraded(capsys):
    assert main(["inspect", str(LEGACY / "small_v0.prototxt")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "V0, upgraded" in out[0]
    assert out[2].split()[:9] == ["norm1", "conv1", "->", "norm1", "ACROSS_CHANNELS", "3",
                                  "0.0005", "0.6", "1.5"]


def test_net_without_lrn(tmp_path, capsys):
    path = tmp_path / "plain.prototxt"
    path.write_text('name: "plain" layer { name: "r" type: "ReLU" bottom: "a" top: "a" }')
    assert main(["inspect", str(path)]) == 0
    assert "no LRN layers" in capsys.readouterr().out
    assert main(["inspect", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_missing_file_one_line_exit_1(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.prototxt")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("caffe-lrn: error: ") and "no such file" in err[0]


def test_truncated_binary_at_cli_names_byte(tmp_path, capsys):
    path = tmp_path / "cut.caffemodel"
    path.write_bytes((EXAMPLES / "cifar10_full.caffemodel").read_bytes()[:1000])
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and ": at byte " in err[0]


# -- upgrade ---------------------------------------------------------------------------------

@pytest.mark.parametrize("legacy,current", [
    ("alexnet_v1.prototxt", "alexnet_v1_upgraded.prototxt"),
    ("small_v0.prototxt", "small_v0_upgraded.prototxt")])
def test_upgrade_output_reparses_to_expected(legacy, current, tmp_path, capsys):
    out = tmp_path / "new.prototxt"
    assert main(["upgrade", str(LEGACY / legacy), "-o", str(out)]) == 0
    written = parse_text(out.read_text(), NetParameter())
    expected, _ = read_net(LEGACY / current)
    assert written == expected
    assert "layers {" not in out.read_text() and "input_dim" not in out.read_text()
    assert "alpha: 0.0" in out.read_text()  # shortest float32 decimals, as Caffe prints


def test_upgrade_binary(tmp_path, capsys):
    out = tmp_path / "new.caffemodel"
    assert main(["upgrade", str(LEGACY / "alexnet_v1.prototxt"), "-o", str(out),
                 "--binary"]) == 0
    assert read_net(out)[1] == "binary"
    assert load_net(out) == load_net(LEGACY / "alexnet_v1_upgraded.prototxt")


def test_upgrade_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "new.prototxt"
    out.write_text("keep me")
    assert main(["upgrade", str(LEGACY / "small_v0.prototxt"), "-o", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--force" in err[0]
    assert out.read_text() == "keep me"
    assert main(["upgrade", str(LEGACY / "small_v0.prototxt"), "-o", str(out),
                 "--force"]) == 0
    assert load_net(out) == load_net(LEGACY / "small_v0_upgraded.prototxt")


def test_upgrade_of_current_net_notes_and_copies(tmp_path, capsys):
    out = tmp_path / "same.prototxt"
    assert main(["upgrade", str(BVLC_NETS / "alexnet_deploy.prototxt"), "-o", str(out)]) == 0
    assert "already in the current format" in capsys.readouterr().err
    assert load_net(out) == load_net(BVLC_NETS / "alexnet_deploy.prototxt")


def test_upgrade_bad_input_writes_nothing(tmp_path, capsys):
    out = tmp_path / "new.prototxt"
    bad = DATA / "nets" / "malformed" / "unknown_field.prototxt"
    assert main(["upgrade", str(bad), "-o", str(out)]) == 1
    assert not out.exists()
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_even_local_size_at_cli_names_file_and_layer(capsys):
    path = DATA / "caffe-reference" / "prototxt" / "bad_even_size.prototxt"
    assert main(["inspect", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"caffe-lrn: error: {path}: LRN layer 'lrn': LRN only supports odd values "
                   "for local_size, got local_size 4"]
