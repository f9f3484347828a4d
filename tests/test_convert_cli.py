"""``caffe-lrn convert``: whole nets to JSON documents, TF modules, and back to prototxt."""
import importlib.util
import json

import pytest

from caffe_lrn import load_net, lrn_layers
from caffe_lrn.cli import main
from conftest import BVLC_NETS, EXAMPLES

ALEXNET = str(EXAMPLES / "alexnet_deploy.prototxt")
CIFAR_MODEL = str(EXAMPLES / "cifar10_full.caffemodel")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_to_stdout_has_every_key(capsys):
    code, out, err = run(capsys, "convert", ALEXNET, "--to", "tf")
    assert code == 0 and err == ""
    document = json.loads(out)
    assert document["format"] == "caffe-lrn-convert" and document["to"] == "tf"
    assert document["source"] == ALEXNET
    first = document["layers"][0]
    assert set(first) == {"name", "bottom", "top", "caffe", "target", "layout", "exact",
                          "notes"}
    assert (first["name"], first["bottom"], first["top"]) == ("norm1", "conv1", "norm1")
    assert first["caffe"]["local_size"] == 5 and first["caffe"]["norm_region"] == \
        "ACROSS_CHANNELS"
    assert first["target"] == {"framework": "tf", "op": "tf.nn.local_response_normalization",
                               "params": {"depth_radius": 2, "bias": 1.0,
                                          "alpha": 1.9999999494757503e-05, "beta": 0.75}}
    assert first["layout"] == {"from": "NCHW", "to": "NHWC", "perm": [0, 2, 3, 1]}
    assert first["exact"] is True and first["notes"]


@pytest.mark.parametrize("to,op", [("torch", "torch.nn.LocalResponseNorm"), ("onnx", "LRN")])
def test_torch_and_onnx_documents(capsys, to, op):
    code, out, _ = run(capsys, "convert", ALEXNET, "--to", to)
    layer = json.loads(out)["layers"][1]
    assert code == 0 and layer["target"]["op"] == op
    assert layer["layout"]["perm"] == [0, 1, 2, 3]
    assert layer["target"]["params"]["alpha"] == layer["caffe"]["alpha"]


def test_binary_within_net_becomes_composites(capsys):
    code, out, _ = run(capsys, "convert", CIFAR_MODEL, "--to", "tf")
    layers = json.loads(out)["layers"]
    assert code == 0 and [l["target"]["op"] for l in layers] == ["composite", "composite"]
    assert layers[0]["target"]["params"]["norm_region"] == "WITHIN_CHANNEL"
    assert any("VALID" in step for step in layers[0]["target"]["steps"])


def test_output_file_is_never_overwritten_without_force(capsys, tmp_path):
    out = tmp_path / "alexnet.json"
    assert run(capsys, "convert", ALEXNET, "--to", "tf", "-o", str(out))[0] == 0
    first = out.read_text()
    out.write_text("keep me")
    code, stdout, err = run(capsys, "convert", ALEXNET, "--to", "torch", "-o", str(out))
    assert code == 1 and stdout == ""
    assert err.count("\n") == 1 and "exists; pass --force" in err
    assert out.read_text() == "keep me"
    assert run(capsys, "convert", ALEXNET, "--to", "tf", "-o", str(out), "--force")[0] == 0
    assert out.read_text() == first


def test_emit_python_module_with_layers(capsys, tmp_path):
    net = str(BVLC_NETS / "googlenet_deploy.prototxt")
    path = tmp_path / "googlenet_lrn.py"
    code, out, _ = run(capsys, "convert", net, "--to", "tf", "--emit", "python", "-o", str(path))
    assert code == 0 and out == ""
    spec = importlib.util.spec_from_file_location("googlenet_lrn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.LAYERS) == {"pool1/norm1", "conv2/norm2"}
    assert callable(module.LAYERS["conv2/norm2"])


def test_emit_python_is_tf_only(capsys):
    code, _, err = run(capsys, "convert", ALEXNET, "--to", "onnx", "--emit", "python")
    assert code == 2 and "--to tf" in err


@pytest.mark.parametrize("net", sorted(BVLC_NETS.glob("*.prototxt")), ids=lambda p: p.stem)
def test_to_caffe_text_reparses_identically(capsys, tmp_path, net):
    spec = tmp_path / "spec.json"
    back = tmp_path / "back.prototxt"
    assert run(capsys, "convert", str(net), "--to", "tf", "-o", str(spec))[0] == 0
    code, _, err = run(capsys, "convert", str(spec), "--to", "caffe", "-o", str(back))
    assert code == 0 and err == ""
    assert [l.lrn_param for l in lrn_layers(load_net(back))] == \
        [l.lrn_param for l in lrn_layers(load_net(net))]


def test_to_caffe_reports_a_loss_on_stderr(capsys, tmp_path):
    spec = tmp_path / "spec.json"
    run(capsys, "convert", ALEXNET, "--to", "tf", "-o", str(spec))
    document = json.loads(spec.read_text())
    document["layers"][0]["target"]["params"]["alpha"] = 0.20000003278255463
    spec.write_text(json.dumps(document))
    code, out, err = run(capsys, "convert", str(spec), "--to", "caffe")
    assert code == 0
    assert "note: layer 'norm1'" in err and "does not survive" in err
    assert "# alpha_tf 0.20000003278255463 does not survive" in out
    assert "alpha: 1.0000001\n" in out  # float32(0.20000003 * 5)


@pytest.mark.parametrize("content,message", [
    ("{not json", "not a JSON conversion document"),
    ('{"format": "caffe-lrn-convert", "version": 1, '
     '"layers": [{"name": "n", "bottom": "a", "top": "b", '
     '"target": {"framework": "onnx", "op": "LRN", '
     '"params": {"size": 2, "alpha": 1, "beta": 1, "bias": 1}}}]}',
     "Caffe only supports odd local_size"),
])
def test_bad_documents_fail_in_one_line(capsys, tmp_path, content, message):
    spec = tmp_path / "bad.json"
    spec.write_text(content)
    code, out, err = run(capsys, "convert", str(spec), "--to", "caffe")
    assert code == 1 and out == ""
    assert err.startswith("caffe-lrn: error: ") and err.count("\n") == 1 and message in err


def test_missing_net_fails_in_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "convert", str(tmp_path / "none.prototxt"), "--to", "tf")
    assert code == 1 and err.startswith("caffe-lrn: error: ") and err.count("\n") == 1


def test_net_without_lrn_layers_gives_an_empty_document(capsys, tmp_path):
    net = tmp_path / "plain.prototxt"
    net.write_text('layer { name: "r" type: "ReLU" bottom: "a" top: "a" }')
    code, out, err = run(capsys, "convert", str(net), "--to", "tf")
    assert code == 0 and json.loads(out)["layers"] == [] and "no LRN layers" in err
