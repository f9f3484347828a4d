"""PyTorch's and ONNX's LRN conventions: like Caffe, both divide alpha by the size.

So an ACROSS_CHANNELS layer maps one to one (size = local_size, alpha = alpha, beta = beta,
and k, which ONNX calls bias), an even size has no Caffe counterpart and is refused, and
WITHIN_CHANNEL becomes a composite around the framework's average pool that counts the
padding. One :class:`SizeScaledConvention` holds the rules; ``TORCH`` and ``ONNX`` name the
two frameworks' operators, and the public functions are thin names for them:

* ``torch.nn.LocalResponseNorm(size, alpha, beta, k)``: NCHW. It averages the squares
  (sum / size, then times alpha) where Caffe multiplies each square by alpha/size, so the
  last bits can differ. WITHIN_CHANNEL: ``F.avg_pool2d(..., count_include_pad=True)``.
* ONNX ``LRN(alpha, beta, bias, size)``: NCHW. Its window is ``[c - floor((size-1)/2),
  c + ceil((size-1)/2)]``, Caffe's for an odd size. WITHIN_CHANNEL:
  ``AveragePool(count_include_pad=1)``.
"""
from dataclasses import dataclass

from caffe_lrn.convert.records import (
    Conversion, OnnxLRN, TorchLRN, WithinComposite, as_lrn_params, float32_value, int_value,
)
from caffe_lrn.convert.tf_params import composite_to_caffe
from caffe_lrn.convert.window import refuse_even
from caffe_lrn.errors import ConversionError
from caffe_lrn.params import ACROSS_CHANNELS, LRNParams


def within_conversion(params, framework, note):
    """The WITHIN_CHANNEL composite for ``framework``; ``note`` names its ops ({n}, {p})."""
    composite = WithinComposite(local_size=params.local_size, alpha=params.alpha,
                                beta=params.beta, framework=framework)
    conversion = Conversion(params, composite)
    conversion.notes.append(note.format(n=params.local_size, p=composite.pad))
    if params.k != 1.0:
        conversion.lose(f"k = {params.k:g} is ignored by Caffe for WITHIN_CHANNEL and is "
                        "not carried; converting back gives k = 1 (same numbers)")
    return conversion


def note_engine(conversion, params):
    """Record a non-default Caffe engine as lost: no framework carries it."""
    if params.engine != "DEFAULT":
        conversion.lose(f"engine {params.engine} is not carried; converting back gives "
                        "engine DEFAULT")
    return conversion


def across_to_caffe(framework, source, size, alpha, beta, k):
    """Caffe ACROSS_CHANNELS parameters from a size-scaled LRN (``source``: its record)."""
    refuse_even(framework, size)
    try:
        params = LRNParams(local_size=size, alpha=alpha, beta=beta,
                           norm_region=ACROSS_CHANNELS, k=k)
    except Exception as exc:  # ParameterError: a value Caffe cannot hold
        raise ConversionError(f"{framework} parameters {source.as_dict()} have no Caffe "
                              f"equivalent: {exc}") from None
    return Conversion(source, params)


@dataclass(frozen=True)
class SizeScaledConvention:
    """One framework's size-scaled LRN: its record type and the words its notes use."""

    framework: str      # "torch", "onnx"
    record: type        # TorchLRN, OnnxLRN
    shift: str          # the record's name for Caffe's k ("k", "bias")
    what: str           # what its parameters are called in errors
    across_note: str
    within_note: str    # the WITHIN composite's ops ({n}: window, {p}: padding)

    def from_caffe(self, param):
        """Caffe parameters to the framework's LRN (or the WITHIN composite)."""
        params = as_lrn_params(param)
        if params.within:
            conversion = within_conversion(params, self.framework, self.within_note)
        else:
            conversion = Conversion(params, self.record(
                size=params.local_size, alpha=params.alpha, beta=params.beta,
                **{self.shift: params.k}))
            conversion.notes.append(self.across_note)
        return note_engine(conversion, params)

    def validated(self, size, alpha=1e-4, beta=0.75, shift=1.0):
        """A validated record (the framework's defaults)."""
        return self.record(size=int_value("size", size, minimum=1),
                           alpha=float32_value("alpha", alpha),
                           beta=float32_value("beta", beta),
                           **{self.shift: float32_value(self.shift, shift)})

    def to_caffe(self, source=None, **kwargs):
        """The framework's parameters (record, dict, keywords, or an object with the
        record's attributes such as torch's module) to Caffe."""
        if isinstance(source, WithinComposite):
            return composite_to_caffe(source)
        if source is None or isinstance(source, dict):
            values = dict(kwargs if source is None else source)
            if self.shift in values:
                values["shift"] = values.pop(self.shift)
            record = self.validated(**values)
        elif isinstance(source, self.record) or all(
                hasattr(source, name) for name in ("size", "alpha", "beta", self.shift)):
            record = self.validated(source.size, source.alpha, source.beta,
                                    getattr(source, self.shift))
        else:
            raise ConversionError(f"expected {self.what}, got {type(source).__name__}")
        return across_to_caffe(self.framework, record, record.size, record.alpha,
                               record.beta, getattr(record, self.shift))


TORCH = SizeScaledConvention(
    "torch", TorchLRN, "k", "torch LRN parameters",
    across_note="torch divides alpha by size as Caffe does, but averages the squares first "
                "(sum/size*alpha): the last bits may differ from Caffe's alpha/size*sum",
    within_note="WITHIN_CHANNEL has no torch module: a composite of x*x, F.avg_pool2d(kernel "
                "{n}, stride 1, padding {p}, count_include_pad=True), 1 + alpha*pool, "
                "pow(-beta), multiply; k is ignored as in Caffe (the shift is 1)")

ONNX = SizeScaledConvention(
    "onnx", OnnxLRN, "bias", "ONNX LRN attributes",
    across_note="ONNX divides alpha by size as Caffe does: alpha maps 1:1",
    within_note="WITHIN_CHANNEL has no ONNX operator: a composite of Mul(x, x), AveragePool("
                "kernel {n}x{n}, stride 1, pads {p}, count_include_pad=1), 1 + alpha*pool, "
                "Pow(-beta), Mul; k is ignored as in Caffe (the shift is 1)")


def caffe_to_torch(param):
    """Caffe parameters to torch's LocalResponseNorm (or the WITHIN composite)."""
    return TORCH.from_caffe(param)


def torch_to_caffe(torch_param=None, **kwargs):
    """torch LocalResponseNorm parameters (TorchLRN, dict, keywords or the module) to Caffe."""
    return TORCH.to_caffe(torch_param, **kwargs)


def caffe_to_onnx(param):
    """Caffe parameters to ONNX LRN attributes (or the WITHIN composite)."""
    return ONNX.from_caffe(param)


def onnx_to_caffe(onnx_param=None, **kwargs):
    """ONNX LRN attributes (OnnxLRN, dict or keywords) to Caffe."""
    return ONNX.to_caffe(onnx_param, **kwargs)
