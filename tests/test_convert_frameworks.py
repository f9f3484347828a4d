"""Converted layers run in real TensorFlow, PyTorch and ONNX Runtime against Caffe's tops.

Marked ``frameworks`` (CI installs them); each skips with a reason if its framework is missing.
"""
import importlib.util

import numpy as np
import pytest

from caffe_lrn import load_net, lrn_layers
from caffe_lrn.numerics.ulp import ulp_distance
from caffe_lrn.convert import run_layer
from caffe_lrn.convert.emit_python import emit_python
from caffe_lrn.params import LRNParams
from conftest import EXAMPLES

pytestmark = pytest.mark.frameworks

NOT_FINITE = {"across_huge", "within_huge", "across_allhuge", "within_allhuge",
              "across_huge1e20", "within_huge1e20", "across_nan", "within_nan", "across_inf"}
NETS = ("alexnet", "caffenet", "cifar10_full")
MODULES = {"tf": "tensorflow", "torch": "torch", "onnx": "onnxruntime"}
ULP_LIMIT = 8


def need(framework):
    if importlib.util.find_spec(MODULES[framework]) is None:
        pytest.skip(f"{MODULES[framework]} is not installed")


def caffe_params(case):
    return LRNParams(local_size=int(case["local_size"]), alpha=float(case["alpha"]),
                     beta=float(case["beta"]), k=float(case["k"]),
                     norm_region=str(case["norm_region"]))


def net_layers():
    """(net, layer, bottom blob, top blob) for every LRN layer of the bundled nets."""
    found = []
    for net in NETS:
        blobs = np.load(EXAMPLES / f"{net}_blobs.npz")
        for layer in lrn_layers(load_net(EXAMPLES / f"{net}_deploy.prototxt")):
            found.append((net, layer, blobs[layer.bottom], blobs[layer.top]))
    return found


@pytest.fixture(scope="module")
def layers():
    return net_layers()


def test_the_bundled_nets_have_six_lrn_layers(layers):
    assert [(net, layer.bottom, layer.top) for net, layer, _, _ in layers] == [
        ("alexnet", "conv1", "norm1"), ("alexnet", "conv2", "norm2"),
        ("caffenet", "pool1", "norm1"), ("caffenet", "pool2", "norm2"),
        ("cifar10_full", "pool1", "norm1"), ("cifar10_full", "pool2", "norm2")]
    assert [layer.params.within for _, layer, _, _ in layers] == [False] * 4 + [True] * 2


@pytest.mark.parametrize("framework", ["tf", "torch", "onnx"])
def test_every_reference_case(refs, framework):
    """Caffe's order in the framework: every case, NaN/inf/overflow patterns included."""
    need(framework)
    worst = {}
    for name, case in refs.items():
        top = run_layer(framework, caffe_params(case), case["x"])
        assert top.dtype == np.float32 and top.shape == case["x"].shape
        worst[name] = ulp_distance(top, case["top"]).max()
    print(framework, worst)
    assert max(worst.values()) <= ULP_LIMIT, worst


@pytest.mark.parametrize("framework", ["tf", "torch", "onnx"])
def test_every_net_lrn_layer(layers, framework):
    need(framework)
    worst = {}
    for net, layer, bottom, expected in layers:
        worst[f"{net}/{layer.name}"] = ulp_distance(
            run_layer(framework, layer.params, bottom), expected).max()
    print(framework, worst)
    assert max(worst.values()) <= ULP_LIMIT, worst


@pytest.mark.parametrize("framework", ["tf", "torch", "onnx"])
def test_native_ops_on_finite_reference_cases(refs, framework):
    """The framework's own LRN op (and the WITHIN composite) on the finite cases."""
    need(framework)
    worst = {}
    for name, case in refs.items():
        if name in NOT_FINITE:
            continue
        top = run_layer(framework, caffe_params(case), case["x"], native=True)
        worst[name] = ulp_distance(top, case["top"]).max()
    print(framework, "native", worst)
    assert len(worst) == 15 and max(worst.values()) <= ULP_LIMIT, worst


@pytest.mark.parametrize("framework", ["tf", "torch", "onnx"])
def test_native_ops_part_from_caffes_running_window_on_alexnet(layers, framework):
    """On AlexNet activations a from-scratch (or unfused) window is tens of ULP from Caffe."""
    need(framework)
    _, layer, bottom, expected = layers[1]  # alexnet conv2 -> norm2
    native = ulp_distance(run_layer(framework, layer.params, bottom, native=True), expected)
    caffe_order = ulp_distance(run_layer(framework, layer.params, bottom), expected)
    print(framework, "alexnet norm2 native", native.max(), "caffe order", caffe_order.max())
    assert native.max() > ULP_LIMIT >= caffe_order.max()


@pytest.fixture(scope="module")
def emitted(tmp_path_factory):
    """The emitted TF modules of the three bundled nets, imported."""
    modules = {}
    folder = tmp_path_factory.mktemp("emitted")
    for net in NETS:
        path = folder / f"{net}_lrn.py"
        path.write_text(emit_python(lrn_layers(load_net(EXAMPLES / f"{net}_deploy.prototxt"))))
        spec = importlib.util.spec_from_file_location(f"{net}_lrn", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[net] = module
    return modules


def test_emitted_module_on_every_net_layer(layers, emitted):
    need("tf")
    worst = {}
    for net, layer, bottom, expected in layers:
        function = emitted[net].LAYERS[layer.name]
        top = function(np.transpose(bottom, (0, 2, 3, 1))).numpy()
        worst[f"{net}/{layer.name}"] = ulp_distance(np.transpose(top, (0, 3, 1, 2)),
                                                    expected).max()
    print("emitted", worst)
    assert max(worst.values()) <= ULP_LIMIT, worst


def test_emitted_module_on_every_finite_reference_case(refs, tmp_path):
    need("tf")
    worst = {}
    for name, case in refs.items():
        if name in NOT_FINITE:
            continue
        from caffe_lrn.convert.document import LayerRecord

        record = LayerRecord(name, "x", "top", caffe_params(case))
        path = tmp_path / f"{name}.py"
        path.write_text(emit_python([record]))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for caffe_order in (True, False):
            top = module.LAYERS[name](np.transpose(case["x"], (0, 2, 3, 1)),
                                      caffe_order=caffe_order).numpy()
            distance = ulp_distance(np.transpose(top, (0, 3, 1, 2)), case["top"]).max()
            worst[(name, caffe_order)] = distance
    assert max(worst.values()) <= ULP_LIMIT, worst


def test_real_tf_on_the_seed_examples():
    """TF 2.21's approximate reciprocal lands up to 2 ULP below the seeds' exact one."""
    need("tf")
    from caffe_lrn.convert.frameworks import import_tf
    import tf_semantics as ts

    tf = import_tf()
    x = np.arange(1, 33, dtype=np.float32).reshape(2, 2, 2, 4)
    seed = ts.local_response_normalization(x, 2, 0, 1, 1)
    real = tf.nn.local_response_normalization(x, 2, 0.0, 1.0, 1.0).numpy()
    distance = ulp_distance(real, seed)
    assert 0 < distance.max() <= 2
    assert np.all(real <= seed)


@pytest.mark.parametrize("size", [2, 4, 6])
def test_torch_even_window_leans_forward(size):
    need("torch")
    import torch

    x = np.random.default_rng(size).standard_normal((2, 7, 3, 5)).astype(np.float32)
    top = torch.nn.LocalResponseNorm(size, alpha=1.0, beta=1.0, k=1.0)(
        torch.from_numpy(x)).numpy()
    front, behind = size // 2, (size - 1) // 2
    sums = np.stack([np.sum(x[:, max(0, c - front):c + behind + 1] ** 2, axis=1)
                     for c in range(7)], axis=1)
    assert ulp_distance(top, x / (1.0 + sums / size)).max() <= 4


def onnx_even_model(size, shape):
    from onnx import TensorProto, helper

    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=1.0, beta=1.0, bias=1.0)
    graph = helper.make_graph(
        [node], "even", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("size", [2, 4, 6])
def test_onnx_even_window_leans_backward(size):
    """ONNX's own reference evaluator: window c-floor((size-1)/2) .. c+ceil((size-1)/2).

    onnx 1.23's reference LRN loops over the batch axis where it means channels, so only a
    batch as large as the channel count fills every channel: hence N == C here.
    """
    need("onnx")
    from onnx.reference import ReferenceEvaluator

    x = np.random.default_rng(size).standard_normal((7, 7, 3, 5)).astype(np.float32)
    (top,) = ReferenceEvaluator(onnx_even_model(size, x.shape)).run(None, {"x": x})
    front, behind = (size - 1) // 2, size // 2
    sums = np.stack([np.sum(x[:, max(0, c - front):c + behind + 1] ** 2, axis=1)
                     for c in range(7)], axis=1)
    assert ulp_distance(top, x / (1.0 + sums / size)).max() <= 4


def test_onnxruntime_refuses_even_windows_itself():
    need("onnx")
    import onnxruntime

    model = onnx_even_model(4, (1, 6, 2, 3))
    with pytest.raises(Exception, match="size_ % 2 == 1"):
        onnxruntime.InferenceSession(model.SerializeToString(),
                                     providers=["CPUExecutionProvider"])
