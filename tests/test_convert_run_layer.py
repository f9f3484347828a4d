"""run_layer's contract without the frameworks: errors, and the missing-framework message."""
import sys

import numpy as np
import pytest

from caffe_lrn.convert import FRAMEWORKS, run_layer
from caffe_lrn.convert.frameworks import running_window
from caffe_lrn.errors import BlobError, ConversionError, MissingDependencyError
from caffe_lrn.params import LRNParams

PARAMS = LRNParams(local_size=3, alpha=1e-4, beta=0.75)
BOTTOM = np.ones((1, 4, 2, 3), np.float32)


@pytest.mark.parametrize("framework,module,extra", [
    ("tf", "tensorflow", "pip install tensorflow-cpu"),
    ("torch", "torch", "pip install torch==2.13.0"),
    ("onnx", "onnxruntime", "pip install onnx onnxruntime"),
])
def test_missing_framework_names_the_extra(monkeypatch, framework, module, extra):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError) as info:
        run_layer(framework, PARAMS, BOTTOM)
    assert extra in str(info.value) and "not installed" in str(info.value)


def test_unknown_framework_is_refused():
    assert FRAMEWORKS == ("tf", "torch", "onnx")
    with pytest.raises(ConversionError, match="framework must be one of tf, torch, onnx"):
        run_layer("mxnet", PARAMS, BOTTOM)


@pytest.mark.parametrize("bottom,message", [
    (np.ones((4, 2, 3), np.float32), "Input must have 4 axes"),
    (np.ones((1, 4, 2, 3), np.int64), "float32"),
])
def test_bad_bottom_is_refused(bottom, message):
    with pytest.raises(BlobError, match=message):
        run_layer("tf", PARAMS, bottom)


def test_running_window_steps_reproduce_caffes_channel_sums():
    # The uniform scan (add padded[j], subtract padded[j - n]) gives each channel's window.
    n, channels = 5, 7
    steps, pad = running_window(n, channels)
    squares = np.arange(1.0, channels + 1) ** 2
    padded = np.concatenate([np.zeros(pad), squares, np.zeros(pad)])
    assert steps == len(padded)
    acc, sums = 0.0, []
    for j in range(steps):
        acc += padded[j] - (padded[j - n] if j >= n else 0.0)
        if j >= n - 1:
            sums.append(acc)
    expected = [squares[max(0, c - pad):c + pad + 1].sum() for c in range(channels)]
    assert sums == expected
