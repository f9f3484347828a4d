"""Caffe ``lrn_param`` <-> the ONNX ``LRN(alpha, beta, bias, size)`` operator.

ONNX works on NCHW and divides alpha by size, like Caffe: size = local_size, alpha = alpha,
beta = beta, bias = k. Its window is ``[c - floor((size-1)/2), c + ceil((size-1)/2)]``, the
same as Caffe's for an odd size; an even size is refused. WITHIN_CHANNEL becomes a composite
around ``AveragePool(count_include_pad=1)``.
"""
from caffe_lrn.convert.records import (
    Conversion, OnnxLRN, WithinComposite, as_lrn_params, float32_value, int_value,
)
from caffe_lrn.convert.size_scaled import across_to_caffe, note_engine, within_conversion
from caffe_lrn.convert.tf_params import composite_to_caffe
from caffe_lrn.errors import ConversionError

WITHIN_NOTE = ("WITHIN_CHANNEL has no ONNX operator: a composite of Mul(x, x), AveragePool("
               "kernel {n}x{n}, stride 1, pads {p}, count_include_pad=1), 1 + alpha*pool, "
               "Pow(-beta), Mul; k is ignored as in Caffe (the shift is 1)")


def caffe_to_onnx(param):
    """Caffe parameters to ONNX LRN attributes (or the WITHIN composite)."""
    params = as_lrn_params(param)
    n = params.local_size
    if params.within:
        conversion = within_conversion(params, "onnx", WITHIN_NOTE)
    else:
        conversion = Conversion(params, OnnxLRN(size=n, alpha=params.alpha, beta=params.beta,
                                                bias=params.k))
        conversion.notes.append("ONNX divides alpha by size as Caffe does: alpha maps 1:1")
    return note_engine(conversion, params)


def onnx_params(size, alpha=1e-4, beta=0.75, bias=1.0):
    """Validated :class:`OnnxLRN` attributes (ONNX's defaults)."""
    return OnnxLRN(size=int_value("size", size, minimum=1), alpha=float32_value("alpha", alpha),
                   beta=float32_value("beta", beta), bias=float32_value("bias", bias))


def onnx_to_caffe(onnx_param=None, **kwargs):
    """ONNX LRN attributes (OnnxLRN, dict or keywords) to Caffe."""
    if isinstance(onnx_param, WithinComposite):
        return composite_to_caffe(onnx_param)
    if isinstance(onnx_param, dict):
        onnx_param = onnx_params(**onnx_param)
    elif onnx_param is None:
        onnx_param = onnx_params(**kwargs)
    elif isinstance(onnx_param, OnnxLRN):
        onnx_param = onnx_params(**onnx_param.as_dict())
    else:
        raise ConversionError(f"expected ONNX LRN attributes, got {type(onnx_param).__name__}")
    return across_to_caffe("onnx", onnx_param, onnx_param.size, onnx_param.alpha,
                           onnx_param.beta, onnx_param.bias)
