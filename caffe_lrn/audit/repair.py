"""Repairing an ONNX model's LRN operations (placeholder filled below)."""


def repair_model(*args, **kwargs):
    raise NotImplementedError
