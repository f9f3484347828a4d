"""Caffe ``lrn_param`` <-> ``tf.nn.local_response_normalization`` parameters.

Caffe → TF (ACROSS_CHANNELS)::

    depth_radius = (local_size - 1) / 2     bias = k     beta = beta
    alpha_tf     = float32(alpha) / float32(local_size)   (Caffe's own alpha_over_size)
    layout       NCHW → NHWC, permutation (0, 2, 3, 1)

TF → Caffe::

    local_size = 2 * depth_radius + 1       k = bias     beta = beta
    alpha      = float32(alpha_tf * local_size)

Multiplying and dividing by n in float32 is not always the identity, so both directions check
the round trip and report any loss. WITHIN_CHANNEL has no TF op: it becomes a
:class:`~caffe_lrn.convert.records.WithinComposite`, never a silent ACROSS layer.
"""
import numpy as np

from caffe_lrn.convert.records import (
    NCHW_TO_NHWC, NHWC_TO_NCHW, Conversion, TFLRN, WithinComposite, as_lrn_params,
    float32_value, int_value,
)
from caffe_lrn.errors import ConversionError
from caffe_lrn.numerics.ulp import ulp_distance
from caffe_lrn.params import ACROSS_CHANNELS, WITHIN_CHANNEL, LRNParams

MAX_LOCAL_SIZE = 0xFFFFFFFF


def alpha_over_size(alpha, local_size):
    """Caffe's ``alpha_over_size``: float32 alpha divided by float32 local_size, in float32."""
    return float(np.float32(alpha) / np.float32(local_size))


def alpha_times_size(alpha_tf, local_size):
    """TF's alpha back to Caffe's: ``float32(alpha_tf * local_size)``."""
    return float(np.float32(alpha_tf) * np.float32(local_size))


def _ulps(a, b):
    return int(np.max(ulp_distance(np.float32(a), np.float32(b))))


def _nearest_exact_alpha(alpha_tf, local_size, start, reach=4):
    """A float32 alpha within ``reach`` ULPs of ``start`` whose alpha/n is exactly alpha_tf."""
    up = down = np.float32(start)
    for _ in range(reach):
        up = np.nextafter(up, np.float32(np.inf))
        down = np.nextafter(down, np.float32(-np.inf))
        for candidate in (up, down):
            if alpha_over_size(candidate, local_size) == alpha_tf:
                return float(candidate)
    return None


def _engine_note(conversion, params):
    if params.engine != "DEFAULT":
        conversion.lose(f"engine {params.engine} is a Caffe implementation choice with no "
                        f"counterpart; converting back gives engine DEFAULT")


def caffe_to_tf(param):
    """Convert a Caffe LRN layer's parameters to TF's convention.

    ``param``: LRNParams, caffe_pb2 LRNParameter or LRN LayerParameter.
    Returns a :class:`Conversion` whose target is :class:`TFLRN` (ACROSS_CHANNELS) or a TF
    :class:`WithinComposite` (WITHIN_CHANNEL), with ``perm`` NCHW → NHWC.
    """
    params = as_lrn_params(param)
    n = params.local_size
    if params.within:
        target = WithinComposite(local_size=n, alpha=params.alpha, beta=params.beta,
                                 framework="tf")
        conversion = Conversion(params, target, perm=NCHW_TO_NHWC)
        conversion.notes.append(
            "WITHIN_CHANNEL has no TF op: a composite of square, explicit zero padding, VALID "
            f"{n}x{n} average pool (divisor {n * n} everywhere, padding counted as in Caffe), "
            "1 + alpha*pool, pow(-beta), multiply. tf.nn.avg_pool2d with SAME padding would "
            "leave the padding out of the count and be wrong at the borders")
        conversion.notes.append(
            f"alpha is not divided here: the average pool divides the box sum by n*n = {n * n}")
        if params.k != 1.0:
            conversion.lose(
                f"k = {params.k:g} is ignored by Caffe for WITHIN_CHANNEL (the shift is the "
                "constant 1), so it is not carried; converting back gives k = 1 (same numbers)")
        else:
            conversion.notes.append(
                "k is ignored by Caffe for WITHIN_CHANNEL: the shift is the constant 1")
        _engine_note(conversion, params)
        return conversion

    alpha_tf = alpha_over_size(params.alpha, n)
    target = TFLRN(depth_radius=params.pre_pad, bias=params.k, alpha=alpha_tf,
                   beta=params.beta)
    conversion = Conversion(params, target, perm=NCHW_TO_NHWC)
    conversion.notes.append(
        f"alpha_tf = float32(alpha) / {n} = {alpha_tf!r}, exactly Caffe's alpha_over_size")
    back = alpha_times_size(alpha_tf, n)
    if back != params.alpha:
        conversion.lose(
            f"alpha {params.alpha!r} does not survive the float32 round trip: alpha_tf * {n} "
            f"= {back!r} ({_ulps(back, params.alpha)} ULP away); Caffe and TF still compute "
            "with the same alpha_tf")
    if params.beta not in (1.0, 0.5):
        conversion.notes.append(
            "TF's CPU kernel raises to -beta as exp(-beta*log(t)) and sums each window from "
            "scratch (Caffe: powf and a running window): expect a few float32 ULPs apart")
    _engine_note(conversion, params)
    return conversion


def tf_params(depth_radius=5, bias=1.0, alpha=1.0, beta=0.5):
    """A validated :class:`TFLRN` (TF's defaults), floats rounded to the float32 TF uses."""
    radius = int_value("depth_radius", depth_radius)
    if 2 * radius + 1 > MAX_LOCAL_SIZE:
        raise ConversionError(f"depth_radius {radius} gives a window wider than Caffe's "
                              f"uint32 local_size allows")
    return TFLRN(depth_radius=radius, bias=float32_value("bias", bias),
                 alpha=float32_value("alpha", alpha), beta=float32_value("beta", beta))


def tf_to_caffe(tf_param=None, **kwargs):
    """Convert TF LRN parameters (a :class:`TFLRN`, a dict, or keyword arguments) to Caffe.

    Returns a :class:`Conversion` with an ``LRNParams`` target and ``perm`` NHWC → NCHW.
    ``exact`` is False, with a note, when ``alpha_tf * local_size`` divided again by
    ``local_size`` in float32 does not give ``alpha_tf`` back.
    """
    if isinstance(tf_param, WithinComposite):
        return composite_to_caffe(tf_param, perm=NHWC_TO_NCHW)
    if isinstance(tf_param, dict):
        tf_param = tf_params(**tf_param)
    elif tf_param is None:
        tf_param = tf_params(**kwargs)
    elif isinstance(tf_param, TFLRN):
        tf_param = tf_params(**tf_param.as_dict())
    else:
        raise ConversionError(f"expected TF LRN parameters, got {type(tf_param).__name__}")
    n = 2 * tf_param.depth_radius + 1
    alpha = alpha_times_size(tf_param.alpha, n)
    try:
        params = LRNParams(local_size=n, alpha=alpha, beta=tf_param.beta,
                           norm_region=ACROSS_CHANNELS, k=tf_param.bias)
    except Exception as exc:  # ParameterError: a value Caffe cannot hold
        raise ConversionError(f"TF parameters {tf_param.as_dict()} have no Caffe "
                              f"equivalent: {exc}") from None
    conversion = Conversion(tf_param, params, perm=NHWC_TO_NCHW)
    again = alpha_over_size(alpha, n)
    if again != tf_param.alpha:
        better = _nearest_exact_alpha(tf_param.alpha, n, alpha)
        hint = (f"; alpha {better!r} would divide back exactly" if better is not None else
                f"; no float32 alpha near it divides back to {tf_param.alpha!r}")
        conversion.lose(
            f"alpha_tf {tf_param.alpha!r} does not survive the float32 round trip: alpha = "
            f"alpha_tf * {n} = {alpha!r}, and Caffe's alpha / {n} = {again!r} "
            f"({_ulps(again, tf_param.alpha)} ULP from alpha_tf){hint}")
    return conversion


def composite_to_caffe(composite, perm=None):
    """A WITHIN_CHANNEL composite back to Caffe's lrn_param (k = 1, the shift it used)."""
    n = int_value("local_size", composite.local_size)
    try:
        params = LRNParams(local_size=n, alpha=composite.alpha, beta=composite.beta,
                           norm_region=WITHIN_CHANNEL, k=1.0)
    except Exception as exc:
        raise ConversionError(f"WITHIN_CHANNEL composite {composite.as_dict()} has no Caffe "
                              f"equivalent: {exc}") from None
    return Conversion(composite, params, perm=perm or tuple(range(4)))
