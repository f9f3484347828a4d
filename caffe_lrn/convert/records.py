"""The small records conversions return, and the target-side parameter records.

Every value a framework reads as a float attribute is held as the float32 it will see.
"""
from dataclasses import dataclass, field

import numpy as np

from caffe_lrn.errors import ConversionError, shorten
from caffe_lrn.params import LRNParams, float32_number

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)
IDENTITY = (0, 1, 2, 3)

#: The frameworks a Caffe LRN layer converts to and runs in (``convert --to``,
#: ``verify --against``), each with a module of parameter conversion.
FRAMEWORKS = ("tf", "torch", "onnx")


def float32_value(name, value):
    """``value`` rounded to float32 (as a Python float); a ConversionError if it is unusable."""
    return float32_number(name, value, ConversionError,
                          not_finite="{name} must be a finite float32, got {value!r}",
                          too_large="{name} must be a finite float32, got {wide}")


def int_value(name, value, minimum=0):
    got = shorten(repr(value), 60)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ConversionError(f"{name} must be an integer, got {got}")
    if value < minimum:
        raise ConversionError(f"{name} must be >= {minimum}, got {got}")
    return int(value)


def as_lrn_params(param):
    """An ``LRNParams`` from LRNParams, a caffe_pb2 LRNParameter or an LRN LayerParameter."""
    return LRNParams.of(param, ConversionError)


@dataclass(frozen=True)
class TFLRN:
    """Parameters of ``tf.nn.local_response_normalization`` (NHWC input)."""

    depth_radius: int
    bias: float
    alpha: float
    beta: float

    op = "tf.nn.local_response_normalization"

    def as_dict(self):
        return {"depth_radius": self.depth_radius, "bias": self.bias, "alpha": self.alpha,
                "beta": self.beta}


@dataclass(frozen=True)
class TorchLRN:
    """Parameters of ``torch.nn.LocalResponseNorm`` (NCHW input; alpha is divided by size)."""

    size: int
    alpha: float
    beta: float
    k: float

    op = "torch.nn.LocalResponseNorm"

    def as_dict(self):
        return {"size": self.size, "alpha": self.alpha, "beta": self.beta, "k": self.k}


@dataclass(frozen=True)
class OnnxLRN:
    """Attributes of the ONNX ``LRN`` operator (NCHW input; alpha is divided by size)."""

    size: int
    alpha: float
    beta: float
    bias: float

    op = "LRN"

    def as_dict(self):
        return {"size": self.size, "alpha": self.alpha, "beta": self.beta, "bias": self.bias}


# How each framework spells Caffe's WITHIN_CHANNEL pipeline.
WITHIN_STEPS = {
    "tf": ["tf.square(x)",
           "tf.pad(square, [[0, 0], [pad, pad], [pad, pad], [0, 0]])",
           "tf.nn.avg_pool2d(padded, ksize=local_size, strides=1, padding='VALID')",
           "1 + alpha * pool",
           "tf.pow(shifted, -beta)",
           "x * scale"],
    "torch": ["x * x",
              "F.avg_pool2d(square, local_size, stride=1, padding=pad, count_include_pad=True)",
              "1 + alpha * pool",
              "torch.pow(shifted, -beta)",
              "x * scale"],
    "onnx": ["Mul(x, x)",
             "AveragePool(kernel_shape=[n, n], strides=[1, 1], pads=[pad]*4, "
             "count_include_pad=1)",
             "Add(Mul(pool, alpha), 1)",
             "Pow(shifted, -beta)",
             "Mul(x, scale)"],
}


@dataclass(frozen=True)
class WithinComposite:
    """Caffe's WITHIN_CHANNEL LRN as a composite of ordinary ops (no framework has it)::

        top = x * (1 + alpha * avg_pool_nxn(zero_pad(x**2, pad)))**(-beta),  pad = (n-1)/2

    The average counts the padding (divisor n² everywhere); the shift is the constant 1.
    """

    local_size: int
    alpha: float
    beta: float
    framework: str

    op = "composite"

    @property
    def pad(self):
        return (self.local_size - 1) // 2

    @property
    def steps(self):
        return list(WITHIN_STEPS[self.framework])

    def as_dict(self):
        return {"local_size": self.local_size, "alpha": self.alpha, "beta": self.beta,
                "pad": self.pad, "shift": 1.0, "norm_region": "WITHIN_CHANNEL"}


@dataclass
class Conversion:
    """One layer's parameters carried from one convention to another.

    ``exact`` is True when nothing is lost: converting ``target`` back gives ``source``'s
    parameters field for field. ``notes`` say what differs and why. ``perm`` is the axis
    permutation from the source layout to the target layout.
    """

    source: object
    target: object
    exact: bool = True
    notes: list = field(default_factory=list)
    perm: tuple = IDENTITY

    def lose(self, note):
        self.exact = False
        self.notes.append(note)
