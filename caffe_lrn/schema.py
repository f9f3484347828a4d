"""The one place that loads Caffe's schema (``proto/caffe.proto``) and hands out its messages.

grpcio-tools compiles ``proto/caffe.proto`` when the package is built, into
``caffe_lrn/_proto/caffe.desc`` (a serialized ``FileDescriptorSet``, never committed). It is
loaded here into a descriptor pool of caffe-lrn's own, not protobuf's default pool, for two
reasons:

- pycaffe's generated ``caffe/proto/caffe_pb2.py`` registers the file ``caffe.proto`` and the
  ``caffe.*`` types in the default pool, and protobuf refuses a second file of that name in one
  pool; a private pool lets both live in one process. The messages keep Caffe's package name
  (``caffe.NetParameter``), so error messages read as Caffe's do; the wire and text formats
  carry no package name, so every net reads the same either way.
- No generated Python code means no coupling between the generator's and the runtime's
  protobuf versions (generated modules check it at import): the same wheel runs on every
  protobuf in :data:`PROTOBUF_RANGE`.
"""
import os
import re

import google.protobuf
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal import enum_type_wrapper

from caffe_lrn.errors import MissingDependencyError

# The protobuf runtimes this schema is tested on (CI runs the core suite on both ends).
PROTOBUF_MIN = (4, 25)
PROTOBUF_BELOW = (8,)
PROTOBUF_RANGE = ">=4.25,<8"

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_proto", "caffe.desc")
PACKAGE = "caffe"


def _version_tuple(text):
    """(major, minor) of a version string such as ``"5.29.3"`` or ``"7.36.0rc1"``; () if none."""
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else ()


def check_protobuf_version(version=None):
    """MissingDependencyError unless protobuf ``version`` (default: the installed one) is in
    :data:`PROTOBUF_RANGE`, naming the version found and the range."""
    version = google.protobuf.__version__ if version is None else version
    found = _version_tuple(version)
    if not found or found < PROTOBUF_MIN or found >= PROTOBUF_BELOW:
        raise MissingDependencyError(
            f"protobuf {version} is installed; caffe-lrn needs protobuf{PROTOBUF_RANGE} "
            f"(pip install 'protobuf{PROTOBUF_RANGE}')")


def is_repeated(field):
    """True when ``field`` (a FieldDescriptor) is repeated, on every protobuf in range:
    protobuf 4.25 has only ``label``, 7.x only ``is_repeated``."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return field.label == field.LABEL_REPEATED


def _load_pool(path=SCHEMA_FILE):
    try:
        with open(path, "rb") as handle:
            files = descriptor_pb2.FileDescriptorSet.FromString(handle.read())
    except FileNotFoundError:
        raise MissingDependencyError(
            f"caffe_lrn's schema {path} was not built; install the package (pip install . or "
            f"pip install -e .) so proto/caffe.proto is compiled") from None
    pool = descriptor_pool.DescriptorPool()
    for file_proto in files.file:
        pool.AddSerializedFile(file_proto.SerializeToString())
    return pool


check_protobuf_version()
POOL = _load_pool()


def _message(name):
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))


NetParameter = _message("NetParameter")
NetState = _message("NetState")
NetStateRule = _message("NetStateRule")
LayerParameter = _message("LayerParameter")
V1LayerParameter = _message("V1LayerParameter")
V0LayerParameter = _message("V0LayerParameter")
LRNParameter = _message("LRNParameter")
PowerParameter = _message("PowerParameter")
PoolingParameter = _message("PoolingParameter")
EltwiseParameter = _message("EltwiseParameter")
InputParameter = _message("InputParameter")
BlobProto = _message("BlobProto")
BlobProtoVector = _message("BlobProtoVector")
BlobShape = _message("BlobShape")
ParamSpec = _message("ParamSpec")
FillerParameter = _message("FillerParameter")
Phase = enum_type_wrapper.EnumTypeWrapper(POOL.FindEnumTypeByName(f"{PACKAGE}.Phase"))
FILE = POOL.FindFileByName("caffe.proto")

__all__ = [
    "POOL", "FILE", "PROTOBUF_RANGE", "NetParameter", "NetState", "NetStateRule",
    "LayerParameter", "V1LayerParameter", "V0LayerParameter", "LRNParameter", "PowerParameter",
    "PoolingParameter", "EltwiseParameter", "InputParameter", "BlobProto", "BlobProtoVector",
    "BlobShape", "ParamSpec", "FillerParameter", "Phase", "check_protobuf_version",
    "is_repeated",
]
