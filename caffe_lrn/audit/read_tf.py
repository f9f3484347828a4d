"""TensorFlow models: SavedModel directories, frozen GraphDef ``.pb`` and TFLite flatbuffers.

The files are parsed as data, never loaded as programs: a SavedModel's ``saved_model.pb``
and a GraphDef are read with TensorFlow's protobuf classes (graph nodes and every function of
the library), a ``.tflite`` with TFLite's flatbuffer schema. TF's ``LRN`` op (and TFLite's
``LOCAL_RESPONSE_NORMALIZATION``) normalise the last axis of an NHWC tensor over
``2 * depth_radius + 1`` channels, multiplying each square by alpha itself (not alpha/n).
"""
import numpy as np

from caffe_lrn.audit.model_files import read_model_bytes
from caffe_lrn.audit.ops import ACROSS, TF_CONVENTION, ConvertedLRN, ConvertedModel
from caffe_lrn.frameworks.deps import import_tf
from caffe_lrn.convert.records import NCHW_TO_NHWC
from caffe_lrn.errors import ConvertedModelError

TF_LRN_DEFAULTS = {"depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}
TFLITE_LRN = 13  # BuiltinOperator.LOCAL_RESPONSE_NORMALIZATION


def _attr(node, key):
    if key not in node.attr:
        return TF_LRN_DEFAULTS[key]
    value = node.attr[key]
    return value.i if key == "depth_radius" else value.f


def _output_shape(node):
    """The LRN's output shape (its input's) when the graph recorded ``_output_shapes``."""
    if "_output_shapes" not in node.attr or not node.attr["_output_shapes"].list.shape:
        return None
    shape = node.attr["_output_shapes"].list.shape[0]
    dims = tuple(int(d.size) for d in shape.dim)
    if shape.unknown_rank or not dims or any(d < 0 for d in dims):
        return None
    return dims


def _tf_op(node, index, where):
    input_shape = _output_shape(node)
    stored = {key: _attr(node, key) for key in TF_LRN_DEFAULTS}
    stored["depth_radius"] = int(stored["depth_radius"])
    name = node.name
    op = ConvertedLRN(
        name=name, fmt="tf", op="LRN", region=ACROSS, size=2 * stored["depth_radius"] + 1,
        alpha=float(np.float32(stored["alpha"])), convention=TF_CONVENTION,
        beta=float(np.float32(stored["beta"])), bias=float(np.float32(stored["bias"])),
        perm=NCHW_TO_NHWC, axes=(3,), index=index,
        input=node.input[0].split(":")[0] if node.input else "", output=name,
        input_shape=input_shape, names=tuple(dict.fromkeys(
            [name] + name.split("/"))), stored=stored, handle={"where": where})
    op.notes.append("layout assumed NHWC (TF's LRN normalises the last axis)")
    return op


def _graph_ops(graph_def, where, start=0):
    ops = []
    for offset, node in enumerate(graph_def.node):
        if node.op == "LRN":
            ops.append(_tf_op(node, start + offset, where))
    start += len(graph_def.node)
    for function in graph_def.library.function:
        for offset, node in enumerate(function.node_def):
            if node.op == "LRN":
                ops.append(_tf_op(node, start + offset, f"{where} function "
                                  f"{function.signature.name}"))
        start += len(function.node_def)
    return ops


def _dedupe(ops):
    """A SavedModel keeps one copy of a layer's graph per traced signature: keep the first."""
    seen, kept = set(), []
    for op in ops:
        key = (op.name, tuple(sorted(op.stored.items())))
        if key not in seen:
            seen.add(key)
            kept.append(op)
    return kept


def read_tf(path):
    import pathlib

    import_tf()
    from google.protobuf.message import DecodeError

    path = pathlib.Path(path)
    if path.is_dir():
        from tensorflow.core.protobuf import saved_model_pb2

        pb = path / "saved_model.pb"
        if not pb.is_file():
            raise ConvertedModelError(f"{path}: a SavedModel directory needs saved_model.pb "
                                      "(the text saved_model.pbtxt is not read)")
        message = saved_model_pb2.SavedModel()
        try:
            message.ParseFromString(read_model_bytes(pb))
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise ConvertedModelError(f"{pb}: not a valid SavedModel ({exc})") from None
        ops = []
        for number, meta in enumerate(message.meta_graphs):
            ops += _graph_ops(meta.graph_def, f"meta graph {number}")
        return ConvertedModel(fmt="tf", path=str(path), ops=_dedupe(ops), source=message)
    from tensorflow.core.framework import graph_pb2

    graph_def = graph_pb2.GraphDef()
    try:
        graph_def.ParseFromString(read_model_bytes(path))
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ConvertedModelError(f"{path}: not a valid TF GraphDef ({exc})") from None
    if not len(graph_def.node) and not len(graph_def.library.function):
        raise ConvertedModelError(f"{path}: not a TF GraphDef (no nodes)")
    return ConvertedModel(fmt="tf", path=str(path), ops=_dedupe(_graph_ops(graph_def, "graph")),
                          source=graph_def)


def read_tflite(path):
    import_tf()
    from tensorflow.lite.python import schema_py_generated as schema

    data = read_model_bytes(path)
    try:
        model = schema.Model.GetRootAsModel(data, 0)
        codes = [max(model.OperatorCodes(i).BuiltinCode(),
                     model.OperatorCodes(i).DeprecatedBuiltinCode())
                 for i in range(model.OperatorCodesLength())]
        ops = []
        index = 0
        for s in range(model.SubgraphsLength()):
            subgraph = model.Subgraphs(s)
            for o in range(subgraph.OperatorsLength()):
                operator = subgraph.Operators(o)
                index += 1
                if codes[operator.OpcodeIndex()] != TFLITE_LRN:
                    continue
                table = operator.BuiltinOptions()
                options = schema.LocalResponseNormalizationOptions()
                if table is not None:
                    options.Init(table.Bytes, table.Pos)
                stored = {"radius": int(options.Radius()), "bias": float(options.Bias()),
                          "alpha": float(options.Alpha()), "beta": float(options.Beta())}
                source = subgraph.Tensors(operator.Inputs(0))
                target = subgraph.Tensors(operator.Outputs(0))
                shape = tuple(int(d) for d in source.ShapeAsNumpy()) \
                    if source.ShapeLength() else None
                out_name = target.Name().decode("utf-8", "replace")
                op = ConvertedLRN(
                    name=out_name, fmt="tflite", op="LOCAL_RESPONSE_NORMALIZATION",
                    region=ACROSS, size=2 * stored["radius"] + 1,
                    alpha=float(np.float32(stored["alpha"])), convention=TF_CONVENTION,
                    beta=float(np.float32(stored["beta"])),
                    bias=float(np.float32(stored["bias"])), perm=NCHW_TO_NHWC, axes=(3,),
                    index=index, input=source.Name().decode("utf-8", "replace"),
                    output=out_name, input_shape=shape,
                    names=tuple(dict.fromkeys([out_name] + out_name.replace(";", "/")
                                              .split("/"))),
                    stored=stored, handle={"subgraph": s, "operator": o})
                op.notes.append("layout NHWC (TFLite's LRN normalises the last axis)")
                ops.append(op)
    except ConvertedModelError:
        raise
    except Exception as exc:  # a damaged flatbuffer fails anywhere inside the accessors
        raise ConvertedModelError(f"{path}: not a valid TFLite model ({exc})") from None
    return ConvertedModel(fmt="tflite", path=str(path), ops=ops, source=data)
