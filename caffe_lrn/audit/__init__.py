"""Auditing converted models: a Caffe net's LRN layers against the model a converter made of it.

A converter (caffe2onnx, MMdnn, ncnn's caffe2ncnn, OpenVINO's Caffe front end...) moves a Caffe
net to another framework; its LRN layers are where the conventions differ (alpha divided by the
window or not, a radius instead of a width, k dropped, WITHIN_CHANNEL with no native op). This
room reads the converted model, finds every LRN operation in it, pairs each with its Caffe
layer, checks the parameters against rules, runs the converted operation in its own runtime
against caffe-lrn's exact Caffe output, and repairs ONNX models.

- :mod:`.ops`: the record of one LRN operation found in a converted model.
- :mod:`.model_files`: reading a model file's bytes (one size limit for every format).
- :mod:`.formats`: which format a file is (by content), and the reader for it.
- :mod:`.read_onnx`, :mod:`.read_tf`, :mod:`.read_text`: ONNX; TF SavedModel, GraphDef and
  TFLite; ncnn ``.param`` and OpenVINO IR ``.xml`` (text formats, standard library only).
- :mod:`.matching`: Caffe layer <-> converted operation, by name, then by order and shape.
- :mod:`.rules`: the parameter rules, each with a stable id and a severity.
- :mod:`.numbers`: running the converted operation and measuring it in float32 ULPs.
- :mod:`.repair`: rewriting an ONNX model's LRN operations to Caffe's semantics.
- :mod:`.report`: the audit report, its table and its JSON (schema ``caffe-lrn/audit/1``).

Entry points: :func:`audit_model` and :func:`repair_model`.
"""
from caffe_lrn.audit.audit import audit_model
from caffe_lrn.audit.repair import repair_model

__all__ = ["audit_model", "repair_model"]
