"""Caffe's net upgrade: legacy V0 and V1 nets and deprecated fields to the current format.

This follows BVLC Caffe's ``UpgradeNetAsNeeded`` (``src/caffe/util/upgrade_proto.cpp``), in
its order:

1. V0 -> V1 (``layers { layer { type: "lrn" local_size: 3 ... } bottom: ... }``): padding
   layers are folded into the conv/pool layer they feed, then each V0 layer's flat fields
   move into the V1 ``*_param`` messages (``local_size``/``alpha``/``beta``/``k`` into
   ``lrn_param``).
2. Data transformation: ``scale``/``mean_file``/``crop_size``/``mirror`` of V1 data layers
   move into ``transform_param``.
3. V1 -> current (``layers { type: LRN ... }`` -> ``layer { type: "LRN" ... }``): enum types
   become Caffe's type strings, ``blobs_lr``/``weight_decay``/``param``/``blob_share_mode``
   become ``ParamSpec`` entries. A net with both ``layer`` and ``layers`` is refused.
4. Input: deprecated ``input`` + ``input_dim``/``input_shape`` become an ``Input`` layer named
   "input", placed first.
5. BatchNorm: old three-``param`` BatchNorm layers get ``lr_mult`` and ``decay_mult`` 0.

Where Caffe aborts (``LOG(FATAL)``/``CHECK``), :class:`NetUpgradeError` is raised; where it
logs an error and goes on, the same note is returned in the list of warnings.
"""
from caffe_lrn.errors import NetUpgradeError
from caffe_lrn.schema import (
    LayerParameter, NetParameter, ParamSpec, PoolingParameter, V0LayerParameter,
    V1LayerParameter, is_repeated,
)

# Caffe's UpgradeV0LayerType: V0 type strings -> V1 enum names.
V0_LAYER_TYPES = {
    "accuracy": "ACCURACY", "bnll": "BNLL", "concat": "CONCAT", "conv": "CONVOLUTION",
    "data": "DATA", "dropout": "DROPOUT", "euclidean_loss": "EUCLIDEAN_LOSS",
    "flatten": "FLATTEN", "hdf5_data": "HDF5_DATA", "hdf5_output": "HDF5_OUTPUT",
    "im2col": "IM2COL", "images": "IMAGE_DATA", "infogain_loss": "INFOGAIN_LOSS",
    "innerproduct": "INNER_PRODUCT", "lrn": "LRN",
    "multinomial_logistic_loss": "MULTINOMIAL_LOGISTIC_LOSS", "pool": "POOLING",
    "relu": "RELU", "sigmoid": "SIGMOID", "softmax": "SOFTMAX",
    "softmax_loss": "SOFTMAX_LOSS", "split": "SPLIT", "tanh": "TANH",
    "window_data": "WINDOW_DATA",
}

# Caffe's UpgradeV1LayerType: V1 enum names -> current type strings.
V1_LAYER_TYPES = {
    "NONE": "", "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax",
    "BNLL": "BNLL", "CONCAT": "Concat", "CONTRASTIVE_LOSS": "ContrastiveLoss",
    "CONVOLUTION": "Convolution", "DECONVOLUTION": "Deconvolution", "DATA": "Data",
    "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData", "EUCLIDEAN_LOSS": "EuclideanLoss",
    "ELTWISE": "Eltwise", "EXP": "Exp", "FLATTEN": "Flatten", "HDF5_DATA": "HDF5Data",
    "HDF5_OUTPUT": "HDF5Output", "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss",
    "INNER_PRODUCT": "InnerProduct", "LRN": "LRN", "MEMORY_DATA": "MemoryData",
    "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss", "MVN": "MVN",
    "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence",
    "SOFTMAX": "Softmax", "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split",
    "SLICE": "Slice", "TANH": "TanH", "WINDOW_DATA": "WindowData",
    "THRESHOLD": "Threshold",
}

# The *_param messages UpgradeV1LayerParameter copies across unchanged (same message types).
V1_COPIED_PARAMS = (
    "accuracy_param", "argmax_param", "concat_param", "contrastive_loss_param",
    "convolution_param", "data_param", "dropout_param", "dummy_data_param", "eltwise_param",
    "exp_param", "hdf5_data_param", "hdf5_output_param", "hinge_loss_param",
    "image_data_param", "infogain_loss_param", "inner_product_param", "lrn_param",
    "memory_data_param", "mvn_param", "pooling_param", "power_param", "relu_param",
    "sigmoid_param", "softmax_param", "slice_param", "tanh_param", "threshold_param",
    "window_data_param", "transform_param", "loss_param",
)

BOTH_FORMATS_MESSAGE = (
    "Refusing to upgrade inconsistent NetParameter input; the definition includes both "
    "'layer' and 'layers' fields. The current format defines 'layer' fields with string "
    "type like layer { type: 'Layer' ... } and not layers { type: LAYER ... }. Manually "
    "switch the definition to 'layer' format to continue.")


# -- what needs upgrading (Caffe's NetNeeds* checks) --------------------------------------

def needs_v0_upgrade(net):
    return any(layer.HasField("layer") for layer in net.layers)


def needs_v1_upgrade(net):
    return len(net.layers) > 0


def needs_data_upgrade(net):
    return any(True for _ in _data_transform_fields(net))


def needs_input_upgrade(net):
    return len(net.input) > 0


def needs_batch_norm_upgrade(net):
    return any(layer.type == "BatchNorm" and len(layer.param) == 3 for layer in net.layer)


def needs_upgrade(net):
    """True when :func:`upgrade_net` would change ``net`` (Caffe's ``NetNeedsUpgrade``)."""
    return (needs_v0_upgrade(net) or needs_v1_upgrade(net) or needs_data_upgrade(net)
            or needs_input_upgrade(net) or needs_batch_norm_upgrade(net))


# -- V0 -> V1 ----------------------------------------------------------------------------

def _fold_padding_layers(net):
    """Caffe's UpgradeV0PaddingLayers: drop V0 "padding" layers, moving their pad into the
    conv or pool layer that reads their output."""
    folded = NetParameter()
    folded.CopyFrom(net)
    del folded.layers[:]
    last_top = {name: -1 for name in net.input}
    for i, connection in enumerate(net.layers):
        v0 = connection.layer
        if v0.type != "padding":
            folded.layers.add().CopyFrom(connection)
        for j, blob in enumerate(connection.bottom):
            if blob not in last_top:
                raise NetUpgradeError(
                    f"Unknown blob input {blob} to layer {j} (V0 layer {v0.name!r}: no "
                    "earlier layer or net input produces it)")
            source_index = last_top[blob]
            if source_index == -1:
                continue
            source = net.layers[source_index]
            if source.layer.type == "padding":
                if v0.type not in ("conv", "pool"):
                    raise NetUpgradeError(
                        "Padding layer input to non-convolutional / non-pooling layer type "
                        f"{v0.type} (layer {v0.name!r})")
                if len(connection.bottom) != 1:
                    raise NetUpgradeError(
                        f"Conv Layer takes a single blob as input (layer {v0.name!r} has "
                        f"{len(connection.bottom)})")
                if len(source.bottom) != 1:
                    raise NetUpgradeError(
                        "Padding Layer takes a single blob as input (layer "
                        f"{source.layer.name!r} has {len(source.bottom)})")
                if len(source.top) != 1:
                    raise NetUpgradeError(
                        "Padding Layer produces a single blob as output (layer "
                        f"{source.layer.name!r} has {len(source.top)})")
                target = folded.layers[len(folded.layers) - 1]
                target.layer.pad = source.layer.pad
                target.bottom[j] = source.bottom[0]
        for blob in connection.top:
            last_top[blob] = i
    return folded


def _upgrade_v0_layer(connection, out, warnings):
    """Caffe's UpgradeV0LayerParameter: one V0 layer (nested in a V1 entry) to V1."""
    out.Clear()
    out.bottom.extend(connection.bottom)
    out.top.extend(connection.top)
    if not connection.HasField("layer"):
        return
    v0 = connection.layer
    kind = v0.type
    if v0.HasField("name"):
        out.name = v0.name
    if v0.HasField("type"):
        if kind not in V0_LAYER_TYPES:
            raise NetUpgradeError(f"Unknown layer name: {kind} (V0 layer {v0.name!r})")
        out.type = V1LayerParameter.LayerType.Value(V0_LAYER_TYPES[kind])
    for blob in v0.blobs:
        out.blobs.add().CopyFrom(blob)
    out.blobs_lr.extend(v0.blobs_lr)
    out.weight_decay.extend(v0.weight_decay)

    def unknown(field):
        warnings.append(f"Unknown parameter {field} for layer type {kind} "
                        f"(V0 layer {v0.name!r}); it is dropped")

    def route(field, targets, setter):
        """Copy V0 ``field`` into the V1 sub-message chosen by the layer type."""
        if not v0.HasField(field):
            return
        target = targets.get(kind)
        if target is None:
            unknown(field)
        else:
            setter(getattr(out, target), getattr(v0, field))

    conv_ip = {"conv": "convolution_param", "innerproduct": "inner_product_param"}
    conv_pool = {"conv": "convolution_param", "pool": "pooling_param"}

    def set_scalar(name):
        return lambda msg, value: setattr(msg, name, value)

    def copy_message(name):
        return lambda msg, value: getattr(msg, name).CopyFrom(value)

    def conv_or_pool(name):
        # ConvolutionParameter's pad/kernel_size/stride are repeated; PoolingParameter's
        # are single values.
        def setter(msg, value):
            field = msg.DESCRIPTOR.fields_by_name[name]
            if is_repeated(field):
                getattr(msg, name).append(value)
            else:
                setattr(msg, name, value)
        return setter

    route("num_output", conv_ip, set_scalar("num_output"))
    route("biasterm", conv_ip, set_scalar("bias_term"))
    route("weight_filler", conv_ip, copy_message("weight_filler"))
    route("bias_filler", conv_ip, copy_message("bias_filler"))
    route("pad", conv_pool, conv_or_pool("pad"))
    route("kernelsize", conv_pool, conv_or_pool("kernel_size"))
    route("group", {"conv": "convolution_param"}, set_scalar("group"))
    route("stride", conv_pool, conv_or_pool("stride"))
    if v0.HasField("pool"):
        if kind == "pool":
            name = V0LayerParameter.PoolMethod.Name(v0.pool)
            out.pooling_param.pool = PoolingParameter.PoolMethod.Value(name)
        else:
            unknown("pool")
    route("dropout_ratio", {"dropout": "dropout_param"}, set_scalar("dropout_ratio"))
    lrn = {"lrn": "lrn_param"}
    route("local_size", lrn, set_scalar("local_size"))
    route("alpha", lrn, set_scalar("alpha"))
    route("beta", lrn, set_scalar("beta"))
    route("k", lrn, set_scalar("k"))
    route("source", {"data": "data_param", "hdf5_data": "hdf5_data_param",
                     "images": "image_data_param", "window_data": "window_data_param",
                     "infogain_loss": "infogain_loss_param"}, set_scalar("source"))
    if v0.HasField("scale"):
        out.transform_param.scale = v0.scale
    if v0.HasField("meanfile"):
        out.transform_param.mean_file = v0.meanfile
    route("batchsize", {"data": "data_param", "hdf5_data": "hdf5_data_param",
                        "images": "image_data_param", "window_data": "window_data_param"},
          set_scalar("batch_size"))
    if v0.HasField("cropsize"):
        out.transform_param.crop_size = v0.cropsize
    if v0.HasField("mirror"):
        out.transform_param.mirror = v0.mirror
    route("rand_skip", {"data": "data_param", "images": "image_data_param"},
          set_scalar("rand_skip"))
    images = {"images": "image_data_param"}
    route("shuffle_images", images, set_scalar("shuffle"))
    route("new_height", images, set_scalar("new_height"))
    route("new_width", images, set_scalar("new_width"))
    route("concat_dim", {"concat": "concat_param"}, set_scalar("concat_dim"))
    window = {"window_data": "window_data_param"}
    route("det_fg_threshold", window, set_scalar("fg_threshold"))
    route("det_bg_threshold", window, set_scalar("bg_threshold"))
    route("det_fg_fraction", window, set_scalar("fg_fraction"))
    route("det_context_pad", window, set_scalar("context_pad"))
    route("det_crop_mode", window, set_scalar("crop_mode"))
    if v0.HasField("hdf5_output_param"):
        if kind == "hdf5_output":
            out.hdf5_output_param.CopyFrom(v0.hdf5_output_param)
        else:
            unknown("hdf5_output_param")


def upgrade_v0_net(net, warnings):
    """Caffe's UpgradeV0Net: returns a new V1 net (only name, layers, inputs and
    force_backward survive, as in Caffe)."""
    padded = _fold_padding_layers(net)
    upgraded = NetParameter()
    if padded.HasField("name"):
        upgraded.name = padded.name
    for connection in padded.layers:
        _upgrade_v0_layer(connection, upgraded.layers.add(), warnings)
    upgraded.input.extend(padded.input)
    upgraded.input_dim.extend(padded.input_dim)
    if padded.HasField("force_backward"):
        upgraded.force_backward = padded.force_backward
    return upgraded


# -- data transformation fields ------------------------------------------------------------

_DATA_PARAMS = {V1LayerParameter.DATA: "data_param",
                V1LayerParameter.IMAGE_DATA: "image_data_param",
                V1LayerParameter.WINDOW_DATA: "window_data_param"}
_TRANSFORM_FIELDS = ("scale", "mean_file", "crop_size", "mirror")


def _data_transform_fields(net):
    """(layer, data param, field) for every transformation field a V1 data layer still sets
    in its data parameter."""
    for layer in net.layers:
        name = _DATA_PARAMS.get(layer.type)
        if name is None:
            continue
        param = getattr(layer, name)
        for field in _TRANSFORM_FIELDS:
            if param.HasField(field):
                yield layer, param, field


def upgrade_data_transformation(net):
    """Caffe's UpgradeNetDataTransformation: move V1 data layers' scale/mean_file/crop_size/
    mirror into transform_param."""
    for layer, param, field in list(_data_transform_fields(net)):
        setattr(layer.transform_param, field, getattr(param, field))
        param.ClearField(field)


# -- V1 -> current ---------------------------------------------------------------------------

def _upgrade_v1_layer(v1, out, index, warnings):
    """Caffe's UpgradeV1LayerParameter."""
    out.Clear()
    out.bottom.extend(v1.bottom)
    out.top.extend(v1.top)
    if v1.HasField("name"):
        out.name = v1.name
    for rule in v1.include:
        out.include.add().CopyFrom(rule)
    for rule in v1.exclude:
        out.exclude.add().CopyFrom(rule)
    if v1.HasField("type"):
        try:
            enum_name = V1LayerParameter.LayerType.Name(v1.type)
        except ValueError:
            enum_name = None
        if enum_name not in V1_LAYER_TYPES:
            raise NetUpgradeError(
                f"Unknown V1LayerParameter layer type: {v1.type} (layer {v1.name!r})")
        out.type = V1_LAYER_TYPES[enum_name]
    for blob in v1.blobs:
        out.blobs.add().CopyFrom(blob)

    def param(i):
        while len(out.param) <= i:
            out.param.add()
        return out.param[i]

    for i, name in enumerate(v1.param):
        param(i).name = name
    for i, mode in enumerate(v1.blob_share_mode):
        mode_name = V1LayerParameter.DimCheckMode.Name(mode)
        param(i).share_mode = ParamSpec.DimCheckMode.Value(mode_name)
    for i, value in enumerate(v1.blobs_lr):
        param(i).lr_mult = value
    for i, value in enumerate(v1.weight_decay):
        param(i).decay_mult = value
    out.loss_weight.extend(v1.loss_weight)
    for name in V1_COPIED_PARAMS:
        if v1.HasField(name):
            getattr(out, name).CopyFrom(getattr(v1, name))
    if v1.HasField("layer"):
        warnings.append(f"Input NetParameter has V0 layer -- ignoring (layer {index})")


def upgrade_v1_net(net, warnings):
    """Caffe's UpgradeV1Net: returns a new net whose ``layers`` became ``layer``."""
    if len(net.layer) > 0:
        raise NetUpgradeError(BOTH_FORMATS_MESSAGE)
    upgraded = NetParameter()
    upgraded.CopyFrom(net)
    del upgraded.layers[:]
    del upgraded.layer[:]
    for i, v1 in enumerate(net.layers):
        _upgrade_v1_layer(v1, upgraded.layer.add(), i, warnings)
    return upgraded


# -- deprecated net inputs -------------------------------------------------------------------

def upgrade_net_input(net):
    """Caffe's UpgradeNetInput: ``input`` + shapes become a first layer of type "Input".

    An ``input`` with neither ``input_shape`` nor ``input_dim`` (old caffemodels) is simply
    dropped, as Caffe does.
    """
    has_shape = len(net.input_shape) > 0
    has_dim = len(net.input_dim) > 0
    if has_shape or has_dim:
        count = len(net.input)
        # Caffe indexes these without checking; a mismatch there reads out of bounds.
        if has_shape and len(net.input_shape) != count:
            raise NetUpgradeError(
                f"Exactly one input_shape must be specified per input: {count} input(s), "
                f"{len(net.input_shape)} input_shape(s)")
        if not has_shape and len(net.input_dim) != 4 * count:
            raise NetUpgradeError(
                f"Incorrect input blob dimension specifications: input_dim needs 4 values "
                f"per input ({4 * count} for {count} input(s)), got {len(net.input_dim)}")
        layer = LayerParameter(name="input", type="Input")
        for i, name in enumerate(net.input):
            layer.top.append(name)
            shape = layer.input_param.shape.add()
            if has_shape:
                shape.CopyFrom(net.input_shape[i])
            else:
                shape.dim.extend(net.input_dim[4 * i:4 * i + 4])
        # Caffe appends the layer and swaps it to the front; copying gives the same order.
        existing = []
        for item in net.layer:
            copy = LayerParameter()
            copy.CopyFrom(item)
            existing.append(copy)
        del net.layer[:]
        net.layer.add().CopyFrom(layer)
        for item in existing:
            net.layer.add().CopyFrom(item)
    net.ClearField("input")
    net.ClearField("input_shape")
    net.ClearField("input_dim")


# -- BatchNorm -------------------------------------------------------------------------------

def upgrade_batch_norm(net):
    """Caffe's UpgradeNetBatchNorm: old BatchNorm layers declared three ``param`` entries;
    their statistics must not be learned, so lr_mult and decay_mult become 0."""
    for layer in net.layer:
        if layer.type == "BatchNorm" and len(layer.param) == 3:
            for spec in layer.param:
                spec.lr_mult = 0.0
                spec.decay_mult = 0.0


# -- everything --------------------------------------------------------------------------------

def upgrade_net(net):
    """Upgrade ``net`` (a NetParameter) in place as Caffe's ``UpgradeNetAsNeeded`` does.

    Returns the list of warnings (Caffe's non-fatal "LOG(ERROR)" notes). Raises
    :class:`NetUpgradeError` where Caffe would abort, e.g. for a net with both ``layer``
    and ``layers``.
    """
    warnings = []
    if needs_v1_upgrade(net) and len(net.layer) > 0:
        # Caffe makes this check after the V0 step, which drops `layer` entries of a V0
        # net silently; refusing every mixed net up front is the safer reading.
        raise NetUpgradeError(BOTH_FORMATS_MESSAGE)
    current = net
    if needs_v0_upgrade(current):
        current = upgrade_v0_net(current, warnings)
    if needs_data_upgrade(current):
        upgrade_data_transformation(current)
    if needs_v1_upgrade(current):
        current = upgrade_v1_net(current, warnings)
    if needs_input_upgrade(current):
        upgrade_net_input(current)
    if needs_batch_norm_upgrade(current):
        upgrade_batch_norm(current)
    if current is not net:
        net.CopyFrom(current)
    return warnings
