"""The frameworks room imports no framework until a layer module is imported."""
import subprocess
import sys

import pytest

from caffe_lrn.errors import LayerNotFoundError, ParameterError
from caffe_lrn.frameworks.forms import caffe_layer_params, check_data_format, check_form
from conftest import EXAMPLES


def test_core_and_converters_import_no_framework():
    code = ("import sys, caffe_lrn, caffe_lrn.convert, caffe_lrn.frameworks, "
            "caffe_lrn.frameworks.forms, caffe_lrn.bench.forms, caffe_lrn.cli; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'torch', 'onnx', 'onnxruntime') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_layer_options_are_checked():
    assert check_form("caffe-order") == "caffe-order"
    assert check_data_format("channels_first") == "channels_first"
    with pytest.raises(ParameterError, match="form must be one of caffe-order, native"):
        check_form("exact")
    with pytest.raises(ParameterError, match="got 'NCHW'"):
        check_data_format("NCHW")


def test_caffe_layer_params_from_a_path():
    params = caffe_layer_params(EXAMPLES / "alexnet_deploy.prototxt", "norm2")
    assert (params.local_size, params.k, params.within) == (5, 1.0, False)
    with pytest.raises(LayerNotFoundError, match="no LRN layer named 'norm3'"):
        caffe_layer_params(EXAMPLES / "alexnet_deploy.prototxt", "norm3")
