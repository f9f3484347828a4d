"""What the framework-layer tests share: the bundled nets' LRN layers and their Caffe blobs."""
import importlib.util

import numpy as np
import pytest

from caffe_lrn import load_net, lrn_layers
from conftest import EXAMPLES

#: Caffe's reference cases whose inputs or outputs are not all finite.
NOT_FINITE = {"across_huge", "within_huge", "across_allhuge", "within_allhuge",
              "across_huge1e20", "within_huge1e20", "across_nan", "within_nan", "across_inf"}
MODULES = {"tf": "tensorflow", "torch": "torch", "onnx": "onnxruntime"}


def need(framework):
    if importlib.util.find_spec(MODULES[framework]) is None:
        pytest.skip(f"{MODULES[framework]} is not installed")


def prototxt(net):
    return EXAMPLES / f"{net}_deploy.prototxt"


def net_layers(net):
    """[(layer, bottom blob, top blob)] of a bundled net's LRN layers, from its dump."""
    blobs = np.load(EXAMPLES / f"{net}_blobs.npz")
    return [(layer, blobs[layer.bottom], blobs[layer.top])
            for layer in lrn_layers(load_net(prototxt(net)))]


def finite_bottom_diff(case):
    return all(np.isfinite(case[key]).all() for key in ("x", "top", "top_diff", "bottom_diff"))
