"""The Keras layer CaffeLRN in real TensorFlow/Keras: Caffe's tops, saving, dtypes, XLA."""
import subprocess
import sys

import numpy as np
import pytest

from caffe_lrn.errors import LayerNotFoundError, ParameterError
from caffe_lrn.numerics.ulp import ulp_distance
from frameworks_data import need, net_layers, prototxt

pytestmark = pytest.mark.frameworks
ULP_LIMIT = 2
XLA_WITHIN_LIMIT = 3


@pytest.fixture(scope="module")
def keras_layer():
    need("tf")
    from caffe_lrn.frameworks import keras as module

    return module


def net_model(module, net, **options):
    """A Keras model holding every LRN layer of ``net``: one input and output per layer."""
    keras = module.keras
    layers = net_layers(net)
    inputs = [keras.Input(shape=(None, None, None), name=layer.bottom) for layer, _, _ in layers]
    outputs = [module.CaffeLRN.from_caffe(prototxt(net), layer.name, name=layer.name,
                                          **options)(x)
               for (layer, _, _), x in zip(layers, inputs)]
    bottoms = [np.ascontiguousarray(bottom.transpose(0, 2, 3, 1)) for _, bottom, _ in layers]
    tops = [top for _, _, top in layers]
    return keras.Model(inputs, outputs), bottoms, tops


def distances(outputs, tops):
    return [int(ulp_distance(np.asarray(y).transpose(0, 3, 1, 2), top).max())
            for y, top in zip(outputs, tops)]


@pytest.mark.parametrize("net", ["alexnet", "cifar10_full"])
def test_model_reproduces_caffes_tops_eager_function_and_xla(keras_layer, net):
    tf = keras_layer.tf
    model, bottoms, tops = net_model(keras_layer, net)
    eager = distances(model(bottoms), tops)
    graph = distances(tf.function(model)(bottoms), tops)
    xla = distances(tf.function(model, jit_compile=True)(bottoms), tops)
    print(f"{net}: max ULP per layer from Caffe: eager {eager}, tf.function {graph}, XLA {xla}")
    assert max(eager) <= ULP_LIMIT and max(graph) <= ULP_LIMIT
    # XLA's reduce_window sums WITHIN's 3x3 windows in its own order: 3 ULP measured there.
    assert max(xla) <= (ULP_LIMIT if net == "alexnet" else XLA_WITHIN_LIMIT)


def test_native_form_is_tfs_op_and_parts_from_caffe(keras_layer):
    model, bottoms, tops = net_model(keras_layer, "alexnet", form="native")
    native = distances(model(bottoms), tops)
    print("alexnet native form, max ULP per layer:", native)
    assert max(native) > ULP_LIMIT  # from scratch: tens of ULP from Caffe's running window


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
def test_channels_first_is_channels_last_transposed(keras_layer, region):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 7, 4, 5)) * 10).astype(np.float32)  # NCHW
    first = keras_layer.CaffeLRN(3, 1e-2, 0.75, 2.0, region, data_format="channels_first")
    last = keras_layer.CaffeLRN(3, 1e-2, 0.75, 2.0, region)
    top_first = first(x).numpy()
    top_last = last(x.transpose(0, 2, 3, 1)).numpy().transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(top_first, top_last)
    assert top_first.shape == x.shape and not np.array_equal(top_first, x)


def test_half_precision_computes_in_float32_and_float64_stays_float64(keras_layer):
    tf = keras_layer.tf
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((2, 3, 5, 6)) * 10).astype(np.float32)
    layer = keras_layer.CaffeLRN(5, 1e-2, 0.75, 1.0)
    for dtype in (tf.float16, tf.bfloat16):
        narrow = tf.cast(x, dtype)
        top = layer(narrow)
        assert top.dtype == dtype
        expected = tf.cast(layer(tf.cast(narrow, tf.float32)), dtype)
        np.testing.assert_array_equal(top.numpy().astype(np.float32),
                                      expected.numpy().astype(np.float32))
    wide = layer(x.astype(np.float64))
    assert wide.dtype == tf.float64
    xd = x.astype(np.float64)
    sums = sum(np.pad(xd ** 2, ((0, 0), (0, 0), (0, 0), (2, 2)))[..., c:c + 6]
               for c in range(5))
    exact = xd * (1.0 + float(np.float32(1e-2)) / 5 * sums) ** -0.75
    assert np.max(np.abs(wide.numpy() - exact) / np.abs(exact).max()) < 1e-13


def test_unknown_batch_spatial_and_channel_dims(keras_layer):
    tf = keras_layer.tf
    rng = np.random.default_rng(5)
    layer = keras_layer.CaffeLRN(5, 1e-2, 0.75, 1.0)
    traced = tf.function(layer, input_signature=[tf.TensorSpec([None] * 4, tf.float32)])
    for shape in ((2, 5, 4, 7), (1, 3, 6, 9)):
        x = (rng.standard_normal(shape) * 10).astype(np.float32)
        np.testing.assert_array_equal(traced(x).numpy(), layer(x).numpy())


def test_saved_model_files_load_in_a_fresh_process(keras_layer, tmp_path):
    """.keras needs only this module imported (no custom_objects); SavedModel needs nothing."""
    model, bottoms, _ = net_model(keras_layer, "alexnet")
    model.save(tmp_path / "m.keras")
    model.export(str(tmp_path / "saved"), verbose=False)
    for index, bottom in enumerate(bottoms):
        np.save(tmp_path / f"bottom{index}.npy", bottom)
        np.save(tmp_path / f"top{index}.npy", model(bottoms)[index].numpy())
    code = f"""
import sys
import numpy as np
import tensorflow as tf
folder = {str(tmp_path)!r}
bottoms = [np.load(f"{{folder}}/bottom{{i}}.npy") for i in range(2)]
tops = [np.load(f"{{folder}}/top{{i}}.npy") for i in range(2)]
saved = tf.saved_model.load(folder + "/saved")
assert "caffe_lrn" not in sys.modules
print("savedmodel", all(np.array_equal(a.numpy(), b) for a, b in zip(saved.serve(bottoms), tops)))
import keras
import caffe_lrn.frameworks.keras
loaded = keras.saving.load_model(folder + "/m.keras")
print("keras", all(np.array_equal(a.numpy(), b) for a, b in zip(loaded(bottoms), tops)))
print(type(loaded.layers[-1]).__module__, loaded.layers[-1].form)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:3] == [
        "savedmodel True", "keras True", "caffe_lrn.frameworks.keras caffe-order"]


def test_gradients_are_defined_in_every_mode(keras_layer):
    tf = keras_layer.tf
    rng = np.random.default_rng(6)
    x = tf.constant((rng.standard_normal((2, 4, 3, 7)) * 10).astype(np.float32))
    layer = keras_layer.CaffeLRN(3, 1e-2, 0.75, 1.0)

    def grad(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = tf.reduce_sum(layer(v) * v)
        return tape.gradient(y, v)

    eager = grad(x).numpy()
    np.testing.assert_array_equal(tf.function(grad)(x).numpy(), eager)
    xla = tf.function(grad, jit_compile=True)(x).numpy()
    assert np.max(np.abs(xla - eager)) <= 1e-6 * np.max(np.abs(eager))
    assert np.all(np.isfinite(eager)) and np.any(eager != 0)


def test_from_caffe_takes_a_loaded_net_and_names_missing_layers(keras_layer):
    from caffe_lrn import load_net

    net = load_net(prototxt("cifar10_full"))
    layer = keras_layer.CaffeLRN.from_caffe(net, "norm2")
    assert layer.params.within and layer.params.local_size == 3
    with pytest.raises(LayerNotFoundError, match="'norm1', 'norm2'"):
        keras_layer.CaffeLRN.from_caffe(net, "conv1")
    with pytest.raises(ParameterError, match="form must be one of"):
        keras_layer.CaffeLRN(form="fast")
    with pytest.raises(ParameterError, match="odd values for local_size"):
        keras_layer.CaffeLRN(local_size=4)
