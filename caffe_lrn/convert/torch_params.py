"""Caffe ``lrn_param`` <-> ``torch.nn.LocalResponseNorm(size, alpha, beta, k)``.

PyTorch works on NCHW like Caffe and divides alpha by size like Caffe, so the parameters map
one to one: size = local_size, alpha = alpha, beta = beta, k = k. It averages the squares
(sum / size, then times alpha) where Caffe multiplies each square by alpha/size, so the last
bits can differ. An even size has no Caffe equivalent and is refused. WITHIN_CHANNEL becomes
a composite around ``F.avg_pool2d(..., count_include_pad=True)``.
"""
from caffe_lrn.convert.records import (
    Conversion, TorchLRN, WithinComposite, as_lrn_params, float32_value, int_value,
)
from caffe_lrn.convert.size_scaled import across_to_caffe, note_engine, within_conversion
from caffe_lrn.convert.tf_params import composite_to_caffe
from caffe_lrn.errors import ConversionError

WITHIN_NOTE = ("WITHIN_CHANNEL has no torch module: a composite of x*x, F.avg_pool2d(kernel "
               "{n}, stride 1, padding {p}, count_include_pad=True), 1 + alpha*pool, "
               "pow(-beta), multiply; k is ignored as in Caffe (the shift is 1)")


def caffe_to_torch(param):
    """Caffe parameters to torch's LocalResponseNorm (or the WITHIN composite)."""
    params = as_lrn_params(param)
    n = params.local_size
    if params.within:
        conversion = within_conversion(params, "torch", WITHIN_NOTE)
    else:
        conversion = Conversion(params, TorchLRN(size=n, alpha=params.alpha,
                                                 beta=params.beta, k=params.k))
        conversion.notes.append(
            "torch divides alpha by size as Caffe does, but averages the squares first "
            "(sum/size*alpha): the last bits may differ from Caffe's alpha/size*sum")
    return note_engine(conversion, params)


def torch_params(size, alpha=1e-4, beta=0.75, k=1.0):
    """A validated :class:`TorchLRN` (torch's defaults)."""
    return TorchLRN(size=int_value("size", size, minimum=1), alpha=float32_value("alpha", alpha),
                    beta=float32_value("beta", beta), k=float32_value("k", k))


def torch_to_caffe(torch_param=None, **kwargs):
    """torch LocalResponseNorm parameters (TorchLRN, dict, keywords or the module) to Caffe."""
    if isinstance(torch_param, WithinComposite):
        return composite_to_caffe(torch_param)
    if isinstance(torch_param, dict):
        torch_param = torch_params(**torch_param)
    elif torch_param is None:
        torch_param = torch_params(**kwargs)
    elif isinstance(torch_param, TorchLRN):
        torch_param = torch_params(**torch_param.as_dict())
    elif hasattr(torch_param, "size") and hasattr(torch_param, "k"):  # the nn.Module
        torch_param = torch_params(torch_param.size, torch_param.alpha, torch_param.beta,
                                   torch_param.k)
    else:
        raise ConversionError(f"expected torch LRN parameters, got {type(torch_param).__name__}")
    return across_to_caffe("torch", torch_param, torch_param.size, torch_param.alpha,
                           torch_param.beta, torch_param.k)
