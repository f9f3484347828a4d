"""Emitters (standalone TF module, prototxt) and round trips through the conversion document."""
import importlib.util
import json
import sys

import numpy as np
import pytest

from caffe_lrn import load_net, lrn_layers
from caffe_lrn.convert import caffe_to_tf, tf_to_caffe
from caffe_lrn.convert.document import build_document, layers_from_document
from caffe_lrn.convert.emit_prototxt import emit_prototxt
from caffe_lrn.numerics.shortest import float32_text as float_text
from caffe_lrn.convert.emit_python import emit_python
from caffe_lrn.convert.naming import python_name
from caffe_lrn.convert.records import TFLRN
from caffe_lrn.convert.tf_params import alpha_over_size, alpha_times_size
from caffe_lrn.errors import ConversionError, InputFileError, MissingDependencyError
from conftest import BVLC_NETS, EXAMPLES

BVLC = sorted(BVLC_NETS.glob("*.prototxt"))


def import_module_from(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bvlc_nets_are_all_here():
    assert len(BVLC) == 7


@pytest.mark.parametrize("name,expected", [
    ("norm1", "norm1"), ("pool1/norm1", "pool1_norm1"), ("conv2/norm2", "conv2_norm2"),
    ("1norm", "layer_1norm"), ("class", "layer_class"), ("", "layer_"), ("a-b.c", "a_b_c"),
    ("LAYERS", "LAYERS_2"), ("__init__", "layer___init__"),
])
def test_python_names(name, expected):
    assert python_name(name) == expected


def test_python_names_never_collide():
    assert python_name("a/b", taken={"a_b"}) == "a_b_2"
    assert python_name("a/b", taken={"a_b", "a_b_2"}) == "a_b_3"


def test_emitted_module_imports_without_tensorflow(tmp_path, monkeypatch):
    layers = lrn_layers(load_net(BVLC_NETS / "googlenet_deploy.prototxt"))
    path = tmp_path / "googlenet_lrn.py"
    path.write_text(emit_python(layers, source="googlenet_deploy.prototxt"))
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # importing it would fail
    module = import_module_from(path, "googlenet_lrn")
    assert list(module.LAYERS) == ["pool1/norm1", "conv2/norm2"]
    assert module.LAYERS["pool1/norm1"] is module.pool1_norm1
    assert module.SOURCE == "googlenet_deploy.prototxt"
    assert "depth_radius 2" in module.pool1_norm1.__doc__
    with pytest.raises(MissingDependencyError, match="TensorFlow is not installed"):
        module.pool1_norm1(np.ones((1, 2, 2, 3), np.float32))


def test_emitted_module_carries_the_float32_parameters():
    layers = lrn_layers(load_net(EXAMPLES / "alexnet_deploy.prototxt"))
    text = emit_python(layers)
    alpha = layers[0].params.alpha  # Caffe's float32 alpha, as a Python float
    assert alpha != 1e-4 and np.float32(alpha) == np.float32(1e-4)
    assert (f"_lrn(x, caffe_order, local_size=5, alpha={alpha!r}, beta=0.75, k=1.0, "
            "norm_region='ACROSS_CHANNELS')") in text
    alpha_tf = caffe_to_tf(layers[0].params).target.alpha
    assert f"alpha {alpha_tf!r}" in text  # the TF parameters, in the docstring
    compile(text, "emitted", "exec")


def test_emitted_module_keeps_hostile_names_as_data(tmp_path):
    """A layer or blob name closing a docstring or a string stays a string."""
    from caffe_lrn.convert.document import LayerRecord
    from caffe_lrn.params import LRNParams

    hostile = 'x"""\nimport os; os.system("echo pwned")\n"""' + "'" * 3
    record = LayerRecord(hostile, hostile + "b", hostile + "t", LRNParams(local_size=3))
    path = tmp_path / "hostile_lrn.py"
    path.write_text(emit_python([record]))
    module = import_module_from(path, "hostile_lrn")
    assert list(module.LAYERS) == [hostile]
    assert repr(hostile) in module.LAYERS[hostile].__doc__


def test_emitted_within_layer_uses_the_composite():
    layers = lrn_layers(load_net(EXAMPLES / "cifar10_full_deploy.prototxt"))
    text = emit_python(layers)
    assert text.count("norm_region='WITHIN_CHANNEL')") == 2
    assert "norm_region='ACROSS_CHANNELS'" not in text


@pytest.mark.parametrize("value", [1e-4, 5e-05, 0.75, 1.0, 2.0, 1e-10, 3e7, 0.1, 1.9999999e-05])
def test_float_text_reads_back_as_the_same_float32(value):
    assert np.float32(float(float_text(value))) == np.float32(value)


def test_prototxt_reparses_to_identical_lrn_params(tmp_path):
    layers = lrn_layers(load_net(BVLC_NETS / "googlenet_deploy.prototxt"))
    path = tmp_path / "lrn.prototxt"
    path.write_text(emit_prototxt(layers, header=["from googlenet"]))
    again = lrn_layers(load_net(path))
    assert [(l.name, l.bottom, l.top, l.params) for l in again] == \
        [(l.name, l.bottom, l.top, l.params) for l in layers]


@pytest.mark.parametrize("to", ["tf", "torch", "onnx"])
@pytest.mark.parametrize("net", BVLC, ids=lambda p: p.stem)
def test_caffe_target_caffe_round_trip_is_identical(net, to, tmp_path):
    layers = lrn_layers(load_net(net))
    assert layers, f"{net.name} has LRN layers"
    document = json.loads(json.dumps(build_document(net.name, layers, to)))
    assert all(entry["exact"] for entry in document["layers"])
    records = layers_from_document(document)
    assert [r.params for r in records] == [l.params for l in layers]
    assert all(r.exact for r in records)
    # and through prototxt text, as `caffe-lrn convert SPEC.json --to caffe` writes it
    path = tmp_path / "back.prototxt"
    path.write_text(emit_prototxt(records))
    assert [l.lrn_param for l in lrn_layers(load_net(path))] == [l.lrn_param for l in layers]


def test_tf_caffe_tf_round_trip_is_identical_or_reported():
    rng = np.random.default_rng(11)
    lossy = 0
    for _ in range(2000):
        radius = int(rng.integers(0, 5))
        alpha = float(np.float32(10.0 ** rng.uniform(-6, 1)))
        start = TFLRN(depth_radius=radius, bias=1.0, alpha=alpha, beta=0.75)
        there = tf_to_caffe(start)
        again = caffe_to_tf(there.target).target
        if again != start:
            lossy += 1
            assert not there.exact
            assert any("does not survive" in note for note in there.notes)
        else:
            assert there.exact
    assert 0 < lossy < 2000  # both outcomes occur


def test_document_difference_from_source_is_reported():
    layers = lrn_layers(load_net(EXAMPLES / "alexnet_deploy.prototxt"))
    document = build_document("alexnet", layers, "tf")
    document["layers"][0]["target"]["params"]["alpha"] = 3e-05  # an edited alpha_tf
    records = layers_from_document(document)
    assert not records[0].exact
    assert any(note.startswith("differs from the source lrn_param: alpha")
               for note in records[0].notes)
    assert records[1].exact


def test_within_layer_with_k_records_the_loss_in_the_document(tmp_path):
    path = tmp_path / "k.prototxt"
    path.write_text('layer { name: "n" type: "LRN" bottom: "a" top: "b" '
                    'lrn_param { local_size: 3 alpha: 1 norm_region: WITHIN_CHANNEL k: 2 } }')
    layers = lrn_layers(load_net(path))
    entry = build_document("k", layers, "onnx")["layers"][0]
    assert entry["exact"] is False and entry["target"]["op"] == "composite"
    back = layers_from_document(build_document("k", layers, "onnx"))[0]
    assert back.params.k == 1.0 and not back.exact


@pytest.mark.parametrize("document,message", [
    ({"format": "other"}, "not a caffe-lrn conversion document"),
    ({"format": "caffe-lrn-convert", "version": 1}, "missing 'layers'"),
    ({"format": "caffe-lrn-convert", "version": 1, "layers": [{"name": "n"}]},
     "missing 'bottom'"),
    ({"format": "caffe-lrn-convert", "version": 1, "layers": [
        {"name": "n", "bottom": "a", "top": "b",
         "target": {"framework": "mxnet", "op": "LRN", "params": {}}}]}, "framework must be"),
    ({"format": "caffe-lrn-convert", "version": 1, "layers": [
        {"name": "n", "bottom": "a", "top": "b",
         "target": {"framework": "tf", "op": "tf.nn.local_response_normalization",
                    "params": {"radius": 2}}}]}, "bad tf parameters"),
])
def test_malformed_documents_are_refused(document, message):
    with pytest.raises(InputFileError, match=message):
        layers_from_document(document)


def test_even_window_in_a_document_is_refused():
    document = {"format": "caffe-lrn-convert", "version": 1, "layers": [
        {"name": "n", "bottom": "a", "top": "b",
         "target": {"framework": "torch", "op": "torch.nn.LocalResponseNorm",
                    "params": {"size": 4, "alpha": 1e-4, "beta": 0.75, "k": 1.0}}}]}
    with pytest.raises(ConversionError, match="layer 'n': cannot convert an even window"):
        layers_from_document(document)


def test_alpha_helpers_are_float32():
    assert alpha_over_size(1e-4, 5) == float(np.float32(1e-4) / np.float32(5))
    assert alpha_times_size(2e-5, 5) == float(np.float32(2e-5) * np.float32(5))
