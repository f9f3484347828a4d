"""Parameter mapping between Caffe's lrn_param and the TF, PyTorch and ONNX conventions."""
import numpy as np
import pytest

from caffe_lrn.convert import (
    NCHW_TO_NHWC, NHWC_TO_NCHW, OnnxLRN, TFLRN, TorchLRN, WithinComposite, caffe_to_onnx,
    caffe_to_tf, caffe_to_torch, onnx_to_caffe, tf_to_caffe, torch_to_caffe,
)
from caffe_lrn.convert.tf_params import alpha_over_size, alpha_times_size
from caffe_lrn.convert.window import onnx_window, torch_window
from caffe_lrn.errors import ConversionError
from caffe_lrn.params import LRNParams

ALEXNET = LRNParams(local_size=5, alpha=1e-4, beta=0.75)
CIFAR_WITHIN = LRNParams(local_size=3, alpha=5e-05, beta=0.75, norm_region="WITHIN_CHANNEL")


def test_caffe_to_tf_across_maps_every_field():
    params = LRNParams(local_size=7, alpha=0.3, beta=0.6, k=2.0)
    conversion = caffe_to_tf(params)
    target = conversion.target
    assert isinstance(target, TFLRN)
    assert target.depth_radius == 3
    assert target.bias == 2.0
    assert target.beta == params.beta
    # Caffe's alpha_over_size: float32 division of the float32 alpha.
    assert target.alpha == float(np.float32(0.3) / np.float32(7))
    assert target.alpha != 0.3 / 7  # a float64 division would not be Caffe's value
    assert conversion.perm == NCHW_TO_NHWC == (0, 2, 3, 1)


def test_alexnet_parameters_round_trip_exactly():
    conversion = caffe_to_tf(ALEXNET)
    assert conversion.exact
    back = tf_to_caffe(conversion.target)
    assert back.exact and back.notes == []
    assert back.target == ALEXNET
    assert back.perm == NHWC_TO_NCHW


def test_tf_to_caffe_maps_every_field():
    conversion = tf_to_caffe(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    params = conversion.target
    assert params.local_size == 5
    assert params.k == 2.0 and params.beta == 0.75
    assert params.alpha == float(np.float32(np.float32(1e-4) * np.float32(5)))
    assert params.norm_region == "ACROSS_CHANNELS"


def test_tf_defaults_are_tfs():
    params = tf_to_caffe(None).target
    assert (params.local_size, params.k, params.alpha, params.beta) == (11, 1.0, 11.0, 0.5)


def test_caffe_alpha_that_does_not_survive_is_reported():
    # alpha 1e-4 with local_size 3: float32(float32(1e-4 / 3) * 3) != float32(1e-4)
    params = LRNParams(local_size=3, alpha=1e-4, beta=0.75)
    assert alpha_times_size(alpha_over_size(params.alpha, 3), 3) != params.alpha
    conversion = caffe_to_tf(params)
    assert not conversion.exact
    assert any("does not survive" in note and "1 ULP" in note for note in conversion.notes)
    back = tf_to_caffe(conversion.target)
    assert back.target.alpha != params.alpha


def _tf_alpha_that_does_not_survive(size, start):
    value = np.float32(start)
    for _ in range(1000):
        if alpha_over_size(alpha_times_size(value, size), size) != value:
            return float(value)
        value = np.nextafter(value, np.float32(1))
    raise AssertionError("no lossy alpha found")


@pytest.mark.parametrize("size,start", [(5, 0.2), (3, 0.1), (5, 0.23)])
def test_tf_alpha_that_does_not_survive_is_reported(size, start):
    alpha_tf = _tf_alpha_that_does_not_survive(size, start)
    conversion = tf_to_caffe(depth_radius=(size - 1) // 2, bias=1.0, alpha=alpha_tf, beta=0.75)
    assert not conversion.exact
    (note,) = conversion.notes
    assert "does not survive the float32 round trip" in note
    assert repr(alpha_tf) in note
    # The note is right: dividing the Caffe alpha again does not give alpha_tf.
    assert alpha_over_size(conversion.target.alpha, size) != alpha_tf


def test_known_lossy_tf_alpha():
    # 0.20000003278255463 is a float32; times 5 it rounds to 1.0000001, which does not divide back
    conversion = tf_to_caffe(depth_radius=2, bias=1.0, alpha=0.20000003278255463, beta=0.75)
    assert not conversion.exact
    assert conversion.target.alpha == float(np.float32(0.20000003278255463) * np.float32(5))


def test_tf_alpha_rounded_to_float32_like_tf():
    conversion = tf_to_caffe(depth_radius=1, bias=1.0, alpha=0.1, beta=0.75)
    assert conversion.source.alpha == float(np.float32(0.1))


@pytest.mark.parametrize("bad,message", [
    ({"depth_radius": -1}, "depth_radius must be >= 0"),
    ({"depth_radius": 1.5}, "depth_radius must be an integer"),
    ({"alpha": float("nan")}, "alpha must be a finite float32"),
    ({"bias": 1e39}, "bias must be a finite float32"),
    ({"beta": "x"}, "beta must be a number"),
])
def test_tf_parameters_caffe_cannot_hold_are_refused(bad, message):
    values = {"depth_radius": 2, "bias": 1.0, "alpha": 1e-4, "beta": 0.75, **bad}
    with pytest.raises(ConversionError, match=message):
        tf_to_caffe(values)


def test_within_becomes_a_composite_not_an_across_layer():
    conversion = caffe_to_tf(CIFAR_WITHIN)
    target = conversion.target
    assert isinstance(target, WithinComposite)
    assert (target.local_size, target.alpha, target.beta, target.pad) == (3, CIFAR_WITHIN.alpha,
                                                                          0.75, 1)
    assert conversion.exact
    text = " ".join(conversion.notes)
    assert "VALID" in text and "SAME" in text and "k is ignored" in text
    assert tf_to_caffe(target).target == CIFAR_WITHIN


def test_within_k_is_reported_as_lost():
    params = LRNParams(local_size=5, alpha=1.0, beta=0.75, k=2.0,
                       norm_region="WITHIN_CHANNEL")
    for convert in (caffe_to_tf, caffe_to_torch, caffe_to_onnx):
        conversion = convert(params)
        assert not conversion.exact
        assert any("k = 2 is ignored" in note for note in conversion.notes)


def test_engine_is_reported_as_lost():
    params = LRNParams(local_size=5, alpha=1e-4, beta=0.75, engine="CAFFE")
    for convert in (caffe_to_tf, caffe_to_torch, caffe_to_onnx):
        conversion = convert(params)
        assert not conversion.exact
        assert any("engine CAFFE" in note for note in conversion.notes)


def test_torch_maps_one_to_one():
    params = LRNParams(local_size=3, alpha=2e-4, beta=0.6, k=2.0)
    conversion = caffe_to_torch(params)
    assert conversion.target == TorchLRN(size=3, alpha=params.alpha, beta=params.beta, k=2.0)
    assert conversion.exact and conversion.perm == (0, 1, 2, 3)
    assert torch_to_caffe(conversion.target).target == params
    assert torch_to_caffe({"size": 3, "alpha": params.alpha, "beta": 0.6, "k": 2.0}).exact


def test_onnx_maps_one_to_one():
    params = LRNParams(local_size=9, alpha=1.0, beta=0.75, k=0.5)
    conversion = caffe_to_onnx(params)
    assert conversion.target == OnnxLRN(size=9, alpha=1.0, beta=0.75, bias=0.5)
    assert onnx_to_caffe(conversion.target).target == params


def test_torch_and_onnx_within_are_composites():
    for convert, framework, word in ((caffe_to_torch, "torch", "count_include_pad=True"),
                                     (caffe_to_onnx, "onnx", "count_include_pad=1")):
        conversion = convert(CIFAR_WITHIN)
        assert isinstance(conversion.target, WithinComposite)
        assert conversion.target.framework == framework
        assert any(word in step for step in conversion.target.steps)
        assert convert(CIFAR_WITHIN).target.as_dict()["shift"] == 1.0


def test_windows_lean_opposite_ways_for_even_sizes():
    assert torch_window(4) == (2, 1)
    assert onnx_window(4) == (1, 2)
    assert torch_window(5) == onnx_window(5) == (2, 2)


def test_even_torch_window_is_refused_with_reason():
    with pytest.raises(ConversionError) as info:
        torch_to_caffe({"size": 4, "alpha": 1e-4, "beta": 0.75, "k": 1.0})
    message = str(info.value)
    assert "Caffe only supports odd local_size" in message
    assert "pads size//2 = 2 channels in front and (size-1)//2 = 1 behind" in message
    assert "window c-2..c+1" in message


def test_even_onnx_window_is_refused_with_reason():
    with pytest.raises(ConversionError) as info:
        onnx_to_caffe(size=6, alpha=1e-4, beta=0.75, bias=1.0)
    message = str(info.value)
    assert "Caffe only supports odd local_size" in message
    assert "c-2..c+3" in message and "ONNX behind" in message


def test_conversion_accepts_proto_free_inputs_only_as_records():
    with pytest.raises(ConversionError, match="expected LRNParams"):
        caffe_to_tf({"local_size": 5})
