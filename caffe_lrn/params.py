"""The LRN parameter record and its validation (Caffe's ``LRNLayer::LayerSetUp`` checks).

``LRNParams`` is the one parameter record the engine, the converters and the verifier use.
Values come from the schema's defaults (``proto/caffe.proto``), never from documentation:
local_size 5, alpha 1, beta 0.75, norm_region ACROSS_CHANNELS, k 1, engine DEFAULT.
alpha, beta and k are proto ``float`` fields, so they are held as the float32 values Caffe
sees (``alpha: 0.0001`` in a prototxt is 0.0001 rounded to float32).
"""
import math
import numbers
from dataclasses import dataclass

import numpy as np

from caffe_lrn.errors import ParameterError, shorten
from caffe_lrn.nets.textproto import parse_text
from caffe_lrn.schema import LRNParameter

ACROSS_CHANNELS = "ACROSS_CHANNELS"
WITHIN_CHANNEL = "WITHIN_CHANNEL"
NORM_REGIONS = (ACROSS_CHANNELS, WITHIN_CHANNEL)
ENGINES = ("DEFAULT", "CAFFE", "CUDNN")
INT_MAX = 2**31 - 1  # Caffe's int


def as_float32(value):
    """Round a Python number to the float32 value a proto ``float`` field holds."""
    # Values beyond float32's range become inf (the caller refuses them); NumPy's overflow
    # warning would only add a second line to the one-line error.
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def float32_number(name, value, error=ParameterError,
                   not_finite="{name} must be finite, got {wide}",
                   too_large="{name} must fit a float32, got {wide}"):
    """``value`` as the float32 it becomes in a proto ``float`` field or a framework's float
    attribute, returned as a Python float.

    Refused with ``error``: a value that is not a number (a string or a boolean is not one),
    that is not finite, or that rounds to inf in float32 (Caffe would accept the last two and output NaN everywhere).
    The two messages are format strings with ``name``, ``value`` (as given) and ``wide``
    (as a Python float): Caffe's parameters name the two causes apart, a conversion's
    target attributes state the one type they must have.
    """
    # Only numbers: float() would read the string "1e-4" and the boolean True as numbers.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be a number, got {shorten(repr(value), 60)}")
    try:
        wide = float(value)
    except OverflowError:  # an integer beyond every float: 10**400
        raise error(too_large.format(name=name, value=value,
                                     wide=shorten(repr(value), 60))) from None
    narrow = as_float32(wide)
    if not math.isfinite(wide):
        raise error(not_finite.format(name=name, value=value, wide=wide))
    if not math.isfinite(narrow):
        raise error(too_large.format(name=name, value=value, wide=wide))
    return narrow


@dataclass(frozen=True)
class LRNParams:
    """Caffe's ``LRNParameter`` as a validated, immutable record.

    Rules (Caffe's ``LayerSetUp``, with Caffe's own messages):
    ``local_size`` must be odd ("LRN only supports odd values for local_size"), so 0 and every
    even size fail; ``norm_region`` is ACROSS_CHANNELS or WITHIN_CHANNEL ("Unknown
    normalization region."). caffe-lrn also refuses non-finite alpha, beta or k, which Caffe
    would accept and turn into NaN everywhere.
    """

    local_size: int = 5
    alpha: float = 1.0
    beta: float = 0.75
    norm_region: str = ACROSS_CHANNELS
    k: float = 1.0
    engine: str = "DEFAULT"

    def __post_init__(self):
        size = self.local_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise ParameterError(f"local_size must be an integer, got {size!r}")
        if size < 0 or size > 0xFFFFFFFF:
            raise ParameterError(f"local_size must fit a uint32, got {size}")
        if size % 2 != 1:
            raise ParameterError(
                f"LRN only supports odd values for local_size, got local_size {size}")
        if size > INT_MAX:
            # Caffe's size_ is an int: a larger uint32 wraps to a negative value, whose
            # remainder -1 fails the same check.
            raise ParameterError(
                f"LRN only supports odd values for local_size, got local_size {size} (Caffe "
                f"reads it into an int, where it wraps to {size - 2**32})")
        object.__setattr__(self, "local_size", int(size))
        for name in ("alpha", "beta", "k"):
            object.__setattr__(self, name, float32_number(name, getattr(self, name)))
        if self.norm_region not in NORM_REGIONS:
            raise ParameterError(
                f"Unknown normalization region. norm_region must be one of "
                f"{', '.join(NORM_REGIONS)}, got {self.norm_region!r}")
        if self.engine not in ENGINES:
            raise ParameterError(
                f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")

    @property
    def pre_pad(self):
        """Caffe's ``pre_pad_ = (local_size - 1) / 2``: the channels (or pixels) each side."""
        return (self.local_size - 1) // 2

    @property
    def within(self):
        return self.norm_region == WITHIN_CHANNEL

    @classmethod
    def of(cls, param, error=ParameterError):
        """The one way in from every form a layer's parameters come in: ``param`` itself
        when it is an LRNParams, else :meth:`from_layer` for an LRN ``LayerParameter`` or
        :meth:`from_proto` for an ``LRNParameter`` (any ``caffe_pb2`` module's: the fields
        are read by name). Anything else is refused with ``error``."""
        if isinstance(param, cls):
            return param
        if hasattr(param, "lrn_param") and hasattr(param, "type"):
            return cls.from_layer(param)
        if hasattr(param, "local_size") and hasattr(param, "norm_region"):
            return cls.from_proto(param)
        raise error(f"expected LRNParams, an LRNParameter or an LRN LayerParameter, got "
                    f"{type(param).__name__}")

    @classmethod
    def from_proto(cls, lrn_param):
        """From a ``caffe_pb2.LRNParameter`` (unset fields take the schema's defaults)."""
        region_enum = LRNParameter.NormRegion
        engine_enum = LRNParameter.Engine
        region = lrn_param.norm_region
        try:
            region_name = region_enum.Name(region)
        except ValueError:
            raise ParameterError(
                f"Unknown normalization region. norm_region value {region}") from None
        try:
            engine_name = engine_enum.Name(lrn_param.engine)
        except ValueError:
            raise ParameterError(f"engine value {lrn_param.engine} is unknown") from None
        return cls(local_size=lrn_param.local_size, alpha=lrn_param.alpha,
                   beta=lrn_param.beta, norm_region=region_name, k=lrn_param.k,
                   engine=engine_name)

    @classmethod
    def from_layer(cls, layer_param):
        """From a ``caffe_pb2.LayerParameter`` of type "LRN"."""
        if layer_param.type != "LRN":
            raise ParameterError(
                f"layer {layer_param.name!r} has type {layer_param.type!r}, not 'LRN'")
        return cls.from_proto(layer_param.lrn_param)

    @classmethod
    def from_text(cls, text):
        """From Caffe's text format of an LRNParameter, e.g. ``"local_size: 3 alpha: 5e-05"``.

        A ``lrn_param { ... }`` wrapper is accepted too.
        """
        body = text.strip()
        if body.startswith("lrn_param"):
            rest = body[len("lrn_param"):].lstrip()
            if rest.startswith(":"):
                rest = rest[1:].lstrip()
            if rest.startswith("{") and rest.endswith("}"):
                body = rest[1:-1]
        message = parse_text(body, LRNParameter(), source="lrn_param")
        return cls.from_proto(message)

    def to_proto(self):
        """A ``caffe_pb2.LRNParameter`` with every field set explicitly."""
        message = LRNParameter()
        message.local_size = self.local_size
        message.alpha = self.alpha
        message.beta = self.beta
        message.norm_region = LRNParameter.NormRegion.Value(self.norm_region)
        message.k = self.k
        message.engine = LRNParameter.Engine.Value(self.engine)
        return message

    def as_dict(self):
        return {"local_size": self.local_size, "alpha": self.alpha, "beta": self.beta,
                "norm_region": self.norm_region, "k": self.k, "engine": self.engine}
