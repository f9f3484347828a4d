"""Which format a converted model is in, told by its content, and the reader for it.

Detection looks at bytes, not at the file name: a TFLite flatbuffer carries ``TFL3`` at
offset 4; an ncnn ``.param`` starts with the magic number ``7767517``; an OpenVINO IR is
XML whose root is ``<net>``; a directory holding ``saved_model.pb`` is a TF SavedModel. The
two protobuf formats are told apart by their first field: an ONNX ModelProto starts with
``ir_version`` (field 1, a varint: byte 0x08), a TF GraphDef with ``node`` (field 1,
length-delimited: byte 0x0a).
"""
import pathlib

from caffe_lrn.audit.model_files import NCNN_MAGIC, read_model_bytes
from caffe_lrn.audit.read_onnx import read_onnx
from caffe_lrn.audit.read_text import read_ncnn, read_openvino
from caffe_lrn.audit.read_tf import read_tf, read_tflite
from caffe_lrn.errors import ConvertedModelError

FORMATS = ("onnx", "tf", "tflite", "ncnn", "openvino")


def detect_format(path):
    """"onnx", "tf", "tflite", "ncnn" or "openvino" for the model at ``path``."""
    path = pathlib.Path(path)
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "tf"
        read_model_bytes(path)  # raises the directory error
    head = read_model_bytes(path)[:64]
    if head[4:8] == b"TFL3":
        return "tflite"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(NCNN_MAGIC):
        return "ncnn"
    if text.startswith(b"<"):
        return "openvino"
    if head[:1] == b"\x0a":
        return "tf"
    if head[:1] == b"\x08":
        return "onnx"
    raise ConvertedModelError(
        f"{path}: not a model format audit reads (ONNX, TF SavedModel or frozen GraphDef, "
        f"TFLite, ncnn .param, OpenVINO IR .xml); it starts with bytes {head[:8]!r}")


def read_converted(path, fmt=None):
    """Read the model at ``path`` (format ``fmt``, else told by content): a
    :class:`~caffe_lrn.audit.ops.ConvertedModel` with every LRN operation found."""
    readers = {"onnx": read_onnx, "tf": read_tf, "tflite": read_tflite, "ncnn": read_ncnn,
               "openvino": read_openvino}
    fmt = fmt or detect_format(path)
    if fmt in readers:
        return readers[fmt](path)
    raise ConvertedModelError(f"unknown model format {fmt!r}; expected one of "
                              f"{', '.join(FORMATS)}")
