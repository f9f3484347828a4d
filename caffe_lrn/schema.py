"""The one place that imports the generated Caffe schema (``proto/caffe.proto``).

The ``caffe_pb2`` module is produced by grpcio-tools when the package is installed; nothing
else in caffe_lrn imports generated code directly.
"""
try:
    from caffe_lrn._proto import caffe_pb2
except ImportError as exc:  # pragma: no cover - only on a source tree that was never built
    raise ImportError(
        "caffe_lrn's schema module caffe_pb2 was not generated; install the package "
        "(pip install . or pip install -e .) so proto/caffe.proto is compiled"
    ) from exc

NetParameter = caffe_pb2.NetParameter
NetState = caffe_pb2.NetState
NetStateRule = caffe_pb2.NetStateRule
LayerParameter = caffe_pb2.LayerParameter
V1LayerParameter = caffe_pb2.V1LayerParameter
V0LayerParameter = caffe_pb2.V0LayerParameter
LRNParameter = caffe_pb2.LRNParameter
PowerParameter = caffe_pb2.PowerParameter
PoolingParameter = caffe_pb2.PoolingParameter
EltwiseParameter = caffe_pb2.EltwiseParameter
InputParameter = caffe_pb2.InputParameter
BlobProto = caffe_pb2.BlobProto
BlobProtoVector = caffe_pb2.BlobProtoVector
BlobShape = caffe_pb2.BlobShape
ParamSpec = caffe_pb2.ParamSpec
FillerParameter = caffe_pb2.FillerParameter
Phase = caffe_pb2.Phase

__all__ = [
    "caffe_pb2", "NetParameter", "NetState", "NetStateRule", "LayerParameter",
    "V1LayerParameter", "V0LayerParameter", "LRNParameter", "PowerParameter",
    "PoolingParameter", "EltwiseParameter", "InputParameter", "BlobProto",
    "BlobProtoVector", "BlobShape", "ParamSpec", "FillerParameter", "Phase",
]
