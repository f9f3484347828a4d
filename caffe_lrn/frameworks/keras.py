"""``CaffeLRN``: Caffe's LRN as a Keras 3 layer (TensorFlow backend).

    from caffe_lrn.frameworks.keras import CaffeLRN
    norm1 = CaffeLRN.from_caffe("deploy.prototxt", "norm1")          # channels_last
    norm1 = CaffeLRN(local_size=5, alpha=1e-4, beta=0.75, k=1.0, data_format="channels_first")

The layer is registered as serialisable under the package name ``caffe_lrn.frameworks.keras``
(registered name ``caffe_lrn.frameworks.keras>CaffeLRN``), which is this module's own import
path: a ``.keras`` file holding it loads with no ``custom_objects`` in any process that has
imported this module (Keras registers a class when its module runs and never imports
modules named in a file). A SavedModel (``model.export(path)``) is a traced graph and loads
with ``tf.saved_model.load`` without caffe-lrn at all.

dtypes: float32 in float32 and float64 in float64; float16 and bfloat16 are computed in
float32 and the top cast back (Caffe's window in half precision would lose the bits this
layer exists to keep). Batch, spatial and channel dimensions may all be unknown.
Importing this module imports TensorFlow and Keras; the rest of caffe-lrn never does.
"""
from caffe_lrn.frameworks import tf_ops
from caffe_lrn.frameworks.deps import import_keras, import_tf
from caffe_lrn.frameworks.forms import (
    CAFFE_ORDER, caffe_layer_params, check_data_format, check_form,
)
from caffe_lrn.params import LRNParams

tf = import_tf()
keras = import_keras()

PACKAGE = __name__


@keras.saving.register_keras_serializable(package=PACKAGE)
class CaffeLRN(keras.layers.Layer):
    """Caffe's LRN layer: ACROSS_CHANNELS or WITHIN_CHANNEL, Caffe's parameters as they are.

    ACROSS_CHANNELS::

        scale = k + alpha/n * sum of x**2 over channels c-(n-1)/2 .. c+(n-1)/2
        top = x * scale**(-beta)

    ``form="caffe-order"`` (default) keeps Caffe's running channel window and its gradient
    (within 2 float32 ULP of Caffe); ``form="native"`` calls
    ``tf.nn.local_response_normalization``. WITHIN_CHANNEL (k ignored, the shift is 1)::

        top = x * (1 + alpha/n**2 * boxsum_nxn(x**2))**(-beta)
    """

    def __init__(self, local_size=5, alpha=1.0, beta=0.75, k=1.0,
                 norm_region="ACROSS_CHANNELS", data_format="channels_last",
                 form=CAFFE_ORDER, **kwargs):
        kwargs["autocast"] = False  # the layer picks its own compute dtype
        super().__init__(**kwargs)
        self.params = LRNParams(local_size=int(local_size), alpha=alpha, beta=beta, k=k,
                                norm_region=norm_region)
        self.data_format = check_data_format(data_format)
        self.form = check_form(form)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    @classmethod
    def from_caffe(cls, net, layer_name, **kwargs):
        """The LRN layer ``layer_name`` of ``net`` (a prototxt/caffemodel path or a loaded
        NetParameter); ``kwargs`` (data_format, form, name, ...) go to the constructor."""
        params = caffe_layer_params(net, layer_name)
        kwargs.setdefault("name", None)
        return cls(local_size=params.local_size, alpha=params.alpha, beta=params.beta,
                   k=params.k, norm_region=params.norm_region, **kwargs)

    def call(self, inputs):
        x = tf.convert_to_tensor(inputs)
        dtype = x.dtype
        compute = tf.float64 if dtype == tf.float64 else tf.float32
        if dtype != compute:
            x = tf.cast(x, compute)
        channel_axis = -1 if self.data_format == "channels_last" else 1
        top = tf_ops.lrn(tf, x, self.params, form=self.form, channel_axis=channel_axis)
        return top if dtype == compute else tf.cast(top, dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.pop("autocast", None)
        config.update(local_size=self.params.local_size, alpha=self.params.alpha,
                      beta=self.params.beta, k=self.params.k,
                      norm_region=self.params.norm_region, data_format=self.data_format,
                      form=self.form)
        return config
