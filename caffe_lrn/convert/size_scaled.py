"""What PyTorch's and ONNX's LRN conventions share: like Caffe, both divide alpha by the size.

So an ACROSS_CHANNELS layer maps one to one (size = local_size, alpha, beta, k/bias), an even
size has no Caffe counterpart, and WITHIN_CHANNEL becomes a composite around the framework's
average pool that counts the padding.
"""
from caffe_lrn.convert.records import Conversion, WithinComposite
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
