"""The record of one LRN operation found in a converted model.

Every reader turns what it finds into :class:`ConvertedLRN`: the window, alpha, beta and
shift as the format stores them, the convention that says how to read alpha, and where the
window runs in Caffe's NCHW terms. ``caffe_axes`` is what the rules check the layout with:
(1,) for a window across channels, (2, 3) for a window within a channel's plane.
"""
from dataclasses import dataclass, field

import numpy as np

from caffe_lrn.errors import ConvertedModelError

ACROSS = "across"
WITHIN = "within"

# How a format's alpha relates to Caffe's: "caffe" formats divide alpha by the window size
# (by size^2 within a plane) as Caffe does; "tf" formats multiply each square by alpha itself.
CAFFE_CONVENTION = "caffe"
# Caffe reads local_size into an int; no window is wider.
MAX_WINDOW = 2**31 - 1
TF_CONVENTION = "tf"


@dataclass
class ConvertedLRN:
    """One LRN operation of a converted model.

    - ``name``: the node or layer name; ``names``: every name it may be known by (node name,
      output tensor name), used for matching;
    - ``fmt``: "onnx", "tf", "tflite", "ncnn", "openvino"; ``op``: the operation as the format
      names it ("LRN", "LOCAL_RESPONSE_NORMALIZATION", "within-composite", "caffe-order");
    - ``region``: ACROSS or WITHIN (what the operation computes, whatever the Caffe layer is);
    - ``size``: the window width (TF: ``2 * depth_radius + 1``); ``alpha``: as stored;
      ``convention``: how alpha is read (see the module docstring); ``beta``; ``bias``: the
      shift added before the power (Caffe's k);
    - ``stored``: the attributes exactly as the file holds them, for messages;
    - ``perm``: the axes of Caffe's NCHW bottom as the operation sees its input
      (``x_op = bottom.transpose(perm)``); ``axes``: the axes of the operation's input the
      window runs over; ``caffe_axes``: the same axes in NCHW terms;
    - ``input_shape``: the operation's input shape when the file records it (else None);
    - ``input`` and ``output``: tensor names; ``index``: position in the model's op order;
    - ``handle``: what the format's runner and repair need (node indices, tensor ids);
    - ``notes``: what the reader had to assume.
    """

    name: str
    fmt: str
    op: str
    region: str
    size: int
    alpha: float
    convention: str
    beta: float
    bias: float
    perm: tuple
    axes: tuple
    index: int
    input: str = ""
    output: str = ""
    input_shape: tuple = None
    names: tuple = ()
    stored: dict = field(default_factory=dict)
    handle: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def __post_init__(self):
        # What no LRN can hold is refused here, once for every format.
        where = f"{self.fmt} {self.op} {self.name!r}"
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) \
                or not 1 <= self.size <= MAX_WINDOW:
            raise ConvertedModelError(f"{where}: window size must be an integer from 1 to "
                                      f"{MAX_WINDOW}, got {self.size!r}")
        for key in ("alpha", "beta", "bias"):
            value = getattr(self, key)
            if not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
                raise ConvertedModelError(f"{where}: {key} must be a finite number, got "
                                          f"{value!r}")

    @property
    def caffe_axes(self):
        return tuple(sorted(self.perm[a] for a in self.axes))

    @property
    def alpha_caffe(self):
        """alpha in Caffe's convention (float32), as the Caffe layer would have to hold it."""
        if self.convention == TF_CONVENTION:
            area = self.size * self.size if self.region == WITHIN else self.size
            return float(np.float32(self.alpha) * np.float32(area))
        return float(np.float32(self.alpha))

    @property
    def caffe_shape(self):
        """The input shape in NCHW terms, when known."""
        if self.input_shape is None or len(self.input_shape) != 4:
            return None
        inverse = np.argsort(self.perm)
        return tuple(self.input_shape[i] for i in inverse)

    def describe(self):
        stored = ", ".join(f"{key} {_fmt(value)}" for key, value in self.stored.items())
        return f"{self.fmt} {self.op} {self.name!r} ({stored})"

    def as_dict(self):
        return {
            "name": self.name, "format": self.fmt, "op": self.op, "region": self.region,
            "size": self.size, "alpha": self.alpha, "alpha_convention": self.convention,
            "alpha_caffe": self.alpha_caffe, "beta": self.beta, "bias": self.bias,
            "stored": {k: _plain(v) for k, v in self.stored.items()},
            "perm": list(self.perm), "axes": list(self.axes),
            "caffe_axes": list(self.caffe_axes),
            "input": self.input, "output": self.output,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "index": self.index, "notes": list(self.notes),
        }


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.8g}"
    return str(value)


@dataclass
class ConvertedModel:
    """A converted model as read: its format, path, LRN operations, and the format's own
    object (an ``onnx.ModelProto``, a GraphDef, TFLite bytes...) in ``source``."""

    fmt: str
    path: str
    ops: list
    source: object = None
    notes: list = field(default_factory=list)
