"""`caffe-lrn convert --emit onnx`: real models of a net's LRN layers, run in onnxruntime."""
import numpy as np
import pytest

from caffe_lrn import load_net, lrn_layers
from caffe_lrn.cli import main
from caffe_lrn.errors import ConversionError
from caffe_lrn.numerics.ulp import ulp_distance
from conftest import BVLC_NETS
from frameworks_data import need, net_layers, prototxt

pytestmark = pytest.mark.frameworks
ULP_LIMIT = 2
#: The bound the native ops keep on the bundled dumps (from-scratch window sums).
NATIVE_LIMIT = 40


@pytest.fixture(scope="module")
def onnx_layers():
    need("onnx")
    from caffe_lrn.frameworks import onnx as module

    return module


@pytest.mark.parametrize("form", ["native", "caffe-order"])
def test_every_bvlc_net_converts_to_a_checker_valid_model(onnx_layers, tmp_path, form):
    import onnx

    for net in sorted(BVLC_NETS.glob("*.prototxt")):
        out = tmp_path / f"{net.stem}.onnx"
        assert main(["convert", str(net), "--to", "onnx", "--emit", "onnx", "--form", form,
                     "-o", str(out)]) == 0
        model = onnx.load(str(out))
        onnx.checker.check_model(model, full_check=True)
        layers = lrn_layers(load_net(net))
        assert [i.name for i in model.graph.input] == list(
            dict.fromkeys(layer.bottom for layer in layers))
        assert [o.name for o in model.graph.output] == [layer.top for layer in layers]
        ops = {node.op_type for node in model.graph.node}
        across = any(not layer.params.within for layer in layers)
        assert ("LRN" in ops) == (across and form == "native")
        assert ("Scan" in ops) == (across and form == "caffe-order")


@pytest.mark.parametrize("net", ["alexnet", "caffenet", "cifar10_full"])
def test_emitted_models_reproduce_caffes_tops(onnx_layers, tmp_path, capsys, net):
    found = net_layers(net)
    worst = {}
    for form in ("caffe-order", "native"):
        out = tmp_path / f"{net}-{form}.onnx"
        assert main(["convert", str(prototxt(net)), "--to", "onnx", "--emit", "onnx",
                     "--form", form, "-o", str(out)]) == 0
        import onnx

        session = onnx_layers.session(onnx.load(str(out)))
        tops = session.run([layer.top for layer, _, _ in found],
                           {layer.bottom: bottom for layer, bottom, _ in found})
        worst[form] = [int(ulp_distance(y, t).max()) for y, (_, _, t) in zip(tops, found)]
    print(f"{net}: max ULP per layer from Caffe: {worst}")
    assert max(worst["caffe-order"]) <= ULP_LIMIT
    assert max(worst["native"]) <= NATIVE_LIMIT


def test_names_from_the_net_stay_names(onnx_layers):
    from caffe_lrn.convert.document import LayerRecord
    from caffe_lrn.params import LRNParams

    hostile = 'x"); import os #\n caffe_lrn/0/square'
    records = [LayerRecord("a", hostile, "caffe_lrn/0/square", LRNParams(local_size=3)),
               LayerRecord("b", "caffe_lrn/x", "out", LRNParams(local_size=3,
                                                                norm_region="WITHIN_CHANNEL"))]
    model = onnx_layers.net_model(records, form="caffe-order")
    assert [i.name for i in model.graph.input] == [hostile, "caffe_lrn/x"]
    x = np.random.default_rng(8).standard_normal((1, 4, 3, 5)).astype(np.float32)
    tops = onnx_layers.session(model).run(None, {hostile: x, "caffe_lrn/x": x})
    assert [t.shape for t in tops] == [x.shape, x.shape]
    with pytest.raises(ConversionError, match="NUL"):
        onnx_layers.net_model([LayerRecord("a\x00b", "x", "y", LRNParams())])
    with pytest.raises(ConversionError, match="in-place"):
        onnx_layers.net_model([LayerRecord("a", "x", "x", LRNParams())])


def test_emit_onnx_usage_errors(capsys, tmp_path):
    net = str(prototxt("alexnet"))
    assert main(["convert", net, "--to", "tf", "--emit", "onnx", "-o",
                 str(tmp_path / "m.onnx")]) == 2
    assert main(["convert", net, "--to", "onnx", "--emit", "onnx"]) == 2
    assert main(["convert", net, "--to", "onnx", "--form", "native"]) == 2
    err = capsys.readouterr().err
    assert err.count("caffe-lrn: error:") == 3 and "Traceback" not in err
