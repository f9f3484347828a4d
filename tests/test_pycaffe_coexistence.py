"""caffe_lrn in one process with pycaffe, whose generated ``caffe/proto/caffe_pb2.py`` registers
the file ``caffe.proto`` and the ``caffe.*`` types in protobuf's default descriptor pool.

The stand-in for pycaffe's module is written here the way protoc writes generated code
(``AddSerializedFile`` into the default pool, then the builder), from BVLC's schema: file name
``caffe.proto``, package ``caffe``, the same messages and field numbers as Caffe's.
"""
import json
import subprocess
import sys

import pytest
from google.protobuf import descriptor_pb2

from caffe_lrn import LRNParams
from caffe_lrn.schema import SCHEMA_FILE
from conftest import BVLC_NETS, DATA, EXAMPLES

STAND_IN = '''\
from google.protobuf import descriptor_pool as _descriptor_pool
from google.protobuf.internal import builder as _builder

DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile({serialized!r})
_globals = globals()
_builder.BuildMessageAndEnumDescriptors(DESCRIPTOR, _globals)
_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, "caffe.proto.caffe_pb2", _globals)
'''

# Reads every net with pycaffe's classes and with caffe_lrn's, printing one JSON line per net:
# the bytes each one re-serialises to, and what caffe_lrn's loader makes of the net.
READ_BOTH = '''\
import hashlib, json, sys
from google.protobuf import text_format
{imports}
import caffe_lrn.schema

def read(cls, path):
    message = cls()
    with open(path, "rb") as handle:
        data = handle.read()
    if path.endswith(".caffemodel"):
        message.ParseFromString(data)
    else:
        text_format.Parse(data.decode("utf-8"), message)
    digest = hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()
    # LRNParams from either module's messages (current-format layers; V0/V1 need upgrading).
    params = [repr(caffe_lrn.LRNParams.of(layer)) for layer in message.layer
              if layer.type == "LRN"]
    return digest, params

for path in sys.argv[1:]:
    net = caffe_lrn.load_net(path)
    print(json.dumps({{
        "path": path,
        "pycaffe": read(caffe_pb2.NetParameter, path),
        "caffe_lrn": read(caffe_lrn.schema.NetParameter, path),
        "layers": [layer.name for layer in net.layer],
        "lrn": [info.name for info in caffe_lrn.lrn_layers(net)],
        "pycaffe_file": caffe_pb2.DESCRIPTOR.name,
    }}))
'''

ORDERS = {
    "pycaffe first": "from caffe.proto import caffe_pb2\nimport caffe_lrn",
    "caffe_lrn first": "import caffe_lrn\nfrom caffe.proto import caffe_pb2",
}


@pytest.fixture(scope="module")
def pycaffe_dir(tmp_path_factory):
    """A directory holding the stand-in package ``caffe.proto.caffe_pb2``."""
    with open(SCHEMA_FILE, "rb") as handle:
        files = descriptor_pb2.FileDescriptorSet.FromString(handle.read())
    (schema,) = files.file
    assert (schema.name, schema.package) == ("caffe.proto", "caffe")
    root = tmp_path_factory.mktemp("pycaffe")
    package = root / "caffe" / "proto"
    package.mkdir(parents=True)
    (root / "caffe" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "caffe_pb2.py").write_text(
        STAND_IN.format(serialized=schema.SerializeToString()))
    return root


def _nets():
    paths = sorted(BVLC_NETS.glob("*.prototxt")) + sorted((DATA / "nets" / "legacy").glob("*"))
    paths += sorted(EXAMPLES.glob("*.prototxt")) + sorted(EXAMPLES.glob("*.caffemodel"))
    return [str(p) for p in paths]


def _read_in_subprocess(pycaffe_dir, imports):
    code = READ_BOTH.format(imports=imports)
    env_path = str(pycaffe_dir)
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {env_path!r})\n" + code,
         *_nets()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_stand_in_claims_caffe_proto_in_the_default_pool(pycaffe_dir):
    code = (f"import sys; sys.path.insert(0, {str(pycaffe_dir)!r})\n"
            "from caffe.proto import caffe_pb2\n"
            "from google.protobuf import descriptor_pool\n"
            "print(descriptor_pool.Default().FindFileByName('caffe.proto').package)\n"
            "print(caffe_pb2.LRNParameter.DESCRIPTOR.full_name)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["caffe", "caffe.LRNParameter"]


@pytest.fixture(scope="module")
def rows_by_order(pycaffe_dir):
    return {order: _read_in_subprocess(pycaffe_dir, imports) for order, imports in ORDERS.items()}


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_both_orders_read_every_bundled_net_identically(rows_by_order, order):
    rows = rows_by_order[order]
    assert len(rows) == len(_nets()) >= 15
    for row in rows:
        assert row["pycaffe"] == row["caffe_lrn"], row["path"]
        assert row["pycaffe_file"] == "caffe.proto"
        assert row["layers"], row["path"]
    by_name = {row["path"].rsplit("/", 1)[-1]: row for row in rows}
    alexnet = repr(LRNParams(local_size=5, alpha=1e-4, beta=0.75))
    assert by_name["alexnet_deploy.prototxt"]["pycaffe"][1] == [alexnet, alexnet]
    assert by_name["alexnet_deploy.prototxt"]["lrn"] == ["norm1", "norm2"]
    assert len(by_name["googlenet_deploy.prototxt"]["lrn"]) == 2
    assert len(by_name["cifar10_full.caffemodel"]["lrn"]) == 2


def test_both_orders_agree(rows_by_order):
    first, second = (rows_by_order[order] for order in sorted(ORDERS))
    assert first == second
