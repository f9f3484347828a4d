"""The torch module CaffeLRN in real PyTorch: Caffe's tops eager, compiled, exported, ONNX."""
import numpy as np
import pytest

from caffe_lrn.numerics.ulp import ulp_distance
from frameworks_data import need, net_layers, prototxt

pytestmark = pytest.mark.frameworks
ULP_LIMIT = 2
NETS = ("alexnet", "cifar10_full")


@pytest.fixture(scope="module")
def torch_layer():
    need("torch")
    from caffe_lrn.frameworks import torch as module

    return module


def test_layers_reproduce_caffes_tops_eager_and_compiled(torch_layer):
    torch = torch_layer.torch
    worst = {}
    for net in NETS:
        for layer, bottom, top in net_layers(net):
            module = torch_layer.CaffeLRN.from_caffe(prototxt(net), layer.name)
            x = torch.from_numpy(bottom)
            eager = ulp_distance(module(x).numpy(), top).max()
            compiled = ulp_distance(torch.compile(module)(x).numpy(), top).max()
            worst[f"{net}/{layer.name}"] = (int(eager), int(compiled))
    print("max ULP from Caffe (eager, torch.compile):", worst)
    assert max(max(pair) for pair in worst.values()) <= ULP_LIMIT


def test_torch_export_and_onnx_export_run_within_2_ulp(torch_layer, tmp_path):
    """A module holding AlexNet's and cifar10_full's LRN layers, through torch.export and
    through torch.onnx.export into onnxruntime."""
    need("onnx")
    import onnxruntime

    torch = torch_layer.torch

    class Holder(torch.nn.Module):
        def __init__(self, layers):
            super().__init__()
            self.layers = torch.nn.ModuleList(layers)

        def forward(self, *bottoms):
            return tuple(layer(x) for layer, x in zip(self.layers, bottoms))

    for net in NETS:
        found = net_layers(net)
        model = Holder([torch_layer.CaffeLRN.from_caffe(prototxt(net), layer.name)
                        for layer, _, _ in found])
        bottoms = tuple(torch.from_numpy(bottom) for _, bottom, _ in found)
        tops = [top for _, _, top in found]
        exported = torch.export.export(model, bottoms).module()(*bottoms)
        export_ulp = [int(ulp_distance(y.numpy(), t).max()) for y, t in zip(exported, tops)]
        path = tmp_path / f"{net}.onnx"
        torch.onnx.export(model, bottoms, str(path), dynamo=False,
                          input_names=[layer.bottom for layer, _, _ in found],
                          output_names=[layer.top for layer, _, _ in found])
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs = session.run(None, {layer.bottom: bottom for layer, bottom, _ in found})
        onnx_ulp = [int(ulp_distance(y, t).max()) for y, t in zip(outputs, tops)]
        print(f"{net}: max ULP per layer, torch.export {export_ulp}, onnxruntime {onnx_ulp}")
        assert max(export_ulp) <= ULP_LIMIT and max(onnx_ulp) <= ULP_LIMIT


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
def test_dtypes_and_native_form(torch_layer, region):
    torch = torch_layer.torch
    rng = np.random.default_rng(7)
    x = torch.from_numpy((rng.standard_normal((2, 6, 5, 3)) * 10).astype(np.float32))
    layer = torch_layer.CaffeLRN(3, 1e-2, 0.75, 2.0, region)
    top = layer(x)
    for dtype in (torch.float16, torch.bfloat16):
        narrow = x.to(dtype)
        assert layer(narrow).dtype == dtype
        assert torch.equal(layer(narrow), layer(narrow.float()).to(dtype))
    wide = layer(x.double())
    assert wide.dtype == torch.float64
    assert ulp_distance(wide.float().numpy(), top.numpy()).max() <= ULP_LIMIT
    native = torch_layer.CaffeLRN(3, 1e-2, 0.75, 2.0, region, form="native")(x)
    assert ulp_distance(native.numpy(), top.numpy()).max() <= 8
