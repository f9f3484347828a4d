"""The generated schema module: Caffe's field numbers, defaults and enum values."""
import subprocess
import sys

import pytest
from google.protobuf import descriptor_pool

from caffe_lrn.errors import MissingDependencyError
from caffe_lrn.schema import (
    FILE, POOL, PROTOBUF_RANGE, BlobProto, LayerParameter, LRNParameter, NetParameter,
    V0LayerParameter, V1LayerParameter, check_protobuf_version,
)


def test_lrn_parameter_fields_numbers_types_defaults():
    fields = {f.name: f for f in LRNParameter.DESCRIPTOR.fields}
    expected = {  # name: (number, proto type, default)
        "local_size": (1, fields["local_size"].TYPE_UINT32, 5),
        "alpha": (2, fields["alpha"].TYPE_FLOAT, 1.0),
        "beta": (3, fields["beta"].TYPE_FLOAT, 0.75),
        "norm_region": (4, fields["norm_region"].TYPE_ENUM, 0),
        "k": (5, fields["k"].TYPE_FLOAT, 1.0),
        "engine": (6, fields["engine"].TYPE_ENUM, 0),
    }
    assert set(fields) == set(expected)
    for name, (number, kind, default) in expected.items():
        assert fields[name].number == number, name
        assert fields[name].type == kind, name
        assert fields[name].default_value == default, name


def test_lrn_parameter_enums():
    region = LRNParameter.DESCRIPTOR.enum_types_by_name["NormRegion"]
    assert {v.name: v.number for v in region.values} == {"ACROSS_CHANNELS": 0,
                                                        "WITHIN_CHANNEL": 1}
    engine = LRNParameter.DESCRIPTOR.enum_types_by_name["Engine"]
    assert {v.name: v.number for v in engine.values} == {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2}


def test_unset_lrn_parameter_reads_defaults():
    param = LRNParameter()
    assert (param.local_size, param.alpha, param.beta, param.norm_region, param.k,
            param.engine) == (5, 1.0, 0.75, LRNParameter.ACROSS_CHANNELS, 1.0,
                              LRNParameter.DEFAULT)


def test_lrn_param_field_numbers_in_layer_messages():
    assert LayerParameter.DESCRIPTOR.fields_by_name["lrn_param"].number == 118
    assert V1LayerParameter.DESCRIPTOR.fields_by_name["lrn_param"].number == 18
    assert V1LayerParameter.LayerType.Value("LRN") == 15
    v0 = V0LayerParameter.DESCRIPTOR.fields_by_name
    assert [(v0[n].number, v0[n].default_value) for n in ("local_size", "alpha", "beta", "k")] \
        == [(13, 5), (14, 1.0), (15, 0.75), (22, 1.0)]


def test_net_parameter_layer_lists_and_deprecated_inputs():
    fields = NetParameter.DESCRIPTOR.fields_by_name
    assert {name: fields[name].number for name in
            ("name", "layers", "input", "input_dim", "force_backward", "state",
             "debug_info", "input_shape", "layer")} == {
        "name": 1, "layers": 2, "input": 3, "input_dim": 4, "force_backward": 5,
        "state": 6, "debug_info": 7, "input_shape": 8, "layer": 100}


def test_every_caffe_layer_param_is_present():
    names = {f.name: f.number for f in LayerParameter.DESCRIPTOR.fields
             if f.name.endswith("_param")}
    # BVLC master: transform_param and loss_param plus 47 layer-specific messages.
    expected = (
        "transform loss accuracy argmax batch_norm bias clip concat contrastive_loss "
        "convolution crop data dropout dummy_data eltwise elu embed exp flatten hdf5_data "
        "hdf5_output hinge_loss image_data infogain_loss inner_product input log lrn "
        "memory_data mvn parameter pooling power prelu python recurrent reduction relu "
        "reshape scale sigmoid softmax spp slice swish tanh threshold tile window_data")
    assert set(names) == {word + "_param" for word in expected.split()}
    assert len(names) == 49
    assert names["input_param"] == 143 and names["pooling_param"] == 121
    assert names["power_param"] == 122 and names["eltwise_param"] == 110
    assert names["batch_norm_param"] == 139 and names["clip_param"] == 148


def test_blob_fields_are_packed_like_caffe():
    data = BlobProto.DESCRIPTOR.fields_by_name["data"]
    assert data.number == 5 and data.GetOptions().packed
    assert BlobProto.DESCRIPTOR.fields_by_name["shape"].number == 7


def test_schema_is_proto2_package_caffe_in_a_private_pool():
    assert FILE.package == "caffe" and FILE.name == "caffe.proto"
    assert NetParameter.DESCRIPTOR.full_name == "caffe.NetParameter"
    assert FILE.pool is POOL
    # Nothing of ours in protobuf's default pool: pycaffe's caffe_pb2 can register there.
    with pytest.raises(KeyError):
        descriptor_pool.Default().FindFileByName("caffe.proto")


@pytest.mark.parametrize("version, ok", [
    ("4.25.0", True), ("4.25.8", True), ("5.29.3", True), ("6.33.1", True), ("7.36.2", True),
    ("7.99.0rc1", True), ("4.24.4", False), ("3.20.3", False), ("8.0.0", False),
    ("unknown", False)])
def test_protobuf_version_check(version, ok):
    if ok:
        check_protobuf_version(version)
        return
    with pytest.raises(MissingDependencyError) as info:
        check_protobuf_version(version)
    message = str(info.value)
    assert "\n" not in message
    assert f"protobuf {version} is installed" in message and PROTOBUF_RANGE in message


def test_import_needs_no_grpc_tools():
    """grpcio-tools builds the schema; importing caffe_lrn must not need it."""
    code = ("import sys; sys.modules['grpc_tools'] = None; sys.modules['grpc'] = None\n"
            "import caffe_lrn\n"
            "net = caffe_lrn.load_net(sys.argv[1])\n"
            "print(len(caffe_lrn.lrn_layers(net)))\n")
    from conftest import EXAMPLES
    done = subprocess.run([sys.executable, "-c", code,
                           str(EXAMPLES / "cifar10_full.caffemodel")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"
