"""The parameter rules: what a converted LRN operation must hold to compute Caffe's layer.

Each rule has a stable id and a severity: ``semantics`` (the operation computes something
else than the Caffe layer) or ``rounding`` (the same computation with a parameter a few
float32 ULP off, which moves the output by rounding only). Alpha is compared in the format's
own convention: formats like Caffe (ONNX, PyTorch, ncnn, OpenVINO) store Caffe's alpha and
divide by the window themselves; TF's convention stores ``alpha / local_size`` (Caffe's
``alpha_over_size``: float32 alpha divided by float32 local_size) and a radius
``depth_radius = (local_size - 1) / 2``.

Rounding bound for parameters: ``PARAM_ROUNDING_ULP`` float32 ULP. An alpha that far off
changes alpha by at most 64 * 2^-23 = 7.6e-6 relative, and the top by at most beta times
that (5.7e-6, under 48 ULP): inside the output bound the numbers use (see
:mod:`caffe_lrn.audit.numbers`).
"""
from dataclasses import dataclass

import numpy as np

from caffe_lrn.audit.ops import ACROSS, TF_CONVENTION, WITHIN
from caffe_lrn.convert.tf_params import alpha_over_size
from caffe_lrn.numerics.shortest import float32_text
from caffe_lrn.numerics.ulp import ulp_distance

SEMANTICS = "semantics"
ROUNDING = "rounding"
PARAM_ROUNDING_ULP = 64

# id -> (severity, what it means); README and the JSON schema list the same ids.
RULES = {
    "within-as-across": (SEMANTICS, "a WITHIN_CHANNEL layer became an across-channel LRN"),
    "across-as-within": (SEMANTICS, "an ACROSS_CHANNELS layer became a within-channel op"),
    "k-on-within": (SEMANTICS, "a shift other than 1 on a WITHIN_CHANNEL layer (Caffe "
                               "ignores k there and adds 1)"),
    "size-mismatch": (SEMANTICS, "the window is not local_size wide"),
    "even-size": (SEMANTICS, "an even window: asymmetric, and Caffe refuses even sizes"),
    "alpha-mismatch": (SEMANTICS, "alpha differs from Caffe's in the format's convention"),
    "alpha-rounding": (ROUNDING, "alpha is Caffe's up to float32 rounding"),
    "beta-mismatch": (SEMANTICS, "beta differs from Caffe's"),
    "bias-not-k": (SEMANTICS, "the shift (bias) is not Caffe's k"),
    "wrong-axis": (SEMANTICS, "the window runs over the wrong axis (layout)"),
    "numbers-beyond-rounding": (SEMANTICS, "the converted op's output is farther from "
                                           "Caffe's than framework rounding explains"),
}


@dataclass(frozen=True)
class Finding:
    """One rule that fired: ``rule`` id, ``severity``, one-line ``message``, and the Caffe
    and converted values it compared."""

    rule: str
    message: str
    caffe: object = None
    converted: object = None

    @property
    def severity(self):
        return RULES[self.rule][0]

    def as_dict(self):
        return {"rule": self.rule, "severity": self.severity, "message": self.message,
                "caffe": self.caffe, "converted": self.converted}


def short(value):
    """The shortest decimal that reads back as the same float32 (0.0001, not
    9.99999975e-05), without a trailing ``.0`` (k 2, not k 2.0)."""
    text = float32_text(value)
    return text[:-2] if text.endswith(".0") else text




def _ulps(a, b):
    return int(ulp_distance(np.float32(a), np.float32(b)).max())


def expected_alpha(params, op):
    """The alpha ``op``'s format must store for Caffe's layer ``params``."""
    if op.convention == TF_CONVENTION:
        area = params.local_size ** 2 if op.region == WITHIN else params.local_size
        return alpha_over_size(params.alpha, area)
    return float(np.float32(params.alpha))


def _size_finding(params, op):
    n = params.local_size
    if op.convention == TF_CONVENTION and op.region == ACROSS:
        radius = (op.size - 1) // 2
        return Finding("size-mismatch",
                       f"depth_radius {radius} is a window of {op.size} channels; Caffe "
                       f"local_size {n} needs depth_radius {(n - 1) // 2}", n, op.size)
    what = "channels" if op.region == ACROSS else "pixels square"
    return Finding("size-mismatch", f"window {op.size} {what}; Caffe local_size {n}",
                   n, op.size)


def _alpha_finding(params, op):
    want = expected_alpha(params, op)
    have = float(np.float32(op.alpha))
    if have == want:
        return None
    distance = _ulps(have, want)
    name = "alpha_tf" if op.convention == TF_CONVENTION else "alpha"
    if distance <= PARAM_ROUNDING_ULP:
        return Finding("alpha-rounding",
                       f"{name} {short(have)} is {distance} float32 ULP from {short(want)} "
                       f"(Caffe alpha {short(params.alpha)}): rounding only", params.alpha,
                       op.alpha)
    ratio = have / want if want else float("inf")
    hint = ""
    if op.convention == TF_CONVENTION and np.isclose(ratio, params.local_size, rtol=1e-5):
        hint = f": not divided by local_size {params.local_size}"
    elif op.convention != TF_CONVENTION and np.isclose(ratio, 1 / params.local_size,
                                                       rtol=1e-5):
        hint = f": divided by local_size {params.local_size} although the op divides again"
    elif np.isfinite(ratio):
        hint = f" ({ratio:.4g} times)"
    if op.convention == TF_CONVENTION:
        text = (f"{name} {short(have)}; Caffe alpha {short(params.alpha)} needs {name} "
                f"{short(want)} (TF convention: alpha / local_size){hint}")
    else:
        text = (f"{name} {short(have)}; Caffe alpha {short(params.alpha)} (this op divides alpha "
                f"by the window itself, as Caffe){hint}")
    return Finding("alpha-mismatch", text, params.alpha, op.alpha)


def _layout_finding(params, op, caffe_shape):
    want = (2, 3) if params.within else (1,)
    if op.caffe_axes != want:
        where = {(1,): "channels", (2,): "height", (3,): "width", (0,): "images",
                 (2, 3): "height x width"}.get(op.caffe_axes, f"NCHW axes {op.caffe_axes}")
        return Finding("wrong-axis",
                       f"the window runs over {where} (axes {list(op.axes)} of its input, "
                       f"layout {op.perm}); Caffe's {params.norm_region} runs over "
                       f"{'channels' if not params.within else 'height x width'}",
                       list(want), list(op.caffe_axes))
    return None


def check_rules(params, op, caffe_shape=None):
    """Every rule ``op`` breaks as a conversion of Caffe's layer ``params``: a list of
    :class:`Finding`, semantics first."""
    findings = []
    if params.within and op.region == ACROSS:
        findings.append(Finding(
            "within-as-across",
            f"{op.op} normalises across {op.size} channels; Caffe's layer is WITHIN_CHANNEL "
            f"({params.local_size}x{params.local_size} pixels of one channel)",
            "WITHIN_CHANNEL", "across channels"))
        if op.bias != 1.0:
            findings.append(Finding(
                "k-on-within", f"bias {short(op.bias)} on a WITHIN_CHANNEL layer; Caffe "
                f"ignores k ({short(params.k)}) there and adds 1", 1.0, op.bias))
        return findings
    if not params.within and op.region == WITHIN:
        findings.append(Finding(
            "across-as-within",
            f"{op.op} normalises within a channel ({op.size}x{op.size} pixels); Caffe's layer "
            f"is ACROSS_CHANNELS ({params.local_size} channels)", "ACROSS_CHANNELS",
            "within a channel"))
        return findings
    if op.size % 2 == 0:
        findings.append(Finding(
            "even-size", f"window {op.size} is even: its window is asymmetric "
            f"[c - {(op.size - 1) // 2}, c + {op.size // 2}]; Caffe local_size "
            f"{params.local_size} is odd and centred", params.local_size, op.size))
    elif op.size != params.local_size:
        findings.append(_size_finding(params, op))
    alpha = _alpha_finding(params, op)
    if alpha is not None:
        findings.append(alpha)
    if float(np.float32(op.beta)) != params.beta:
        findings.append(Finding("beta-mismatch",
                                f"beta {short(op.beta)}; Caffe beta {short(params.beta)}",
                                params.beta, op.beta))
    if params.within:
        if op.bias != 1.0:
            findings.append(Finding(
                "k-on-within", f"shift {short(op.bias)} on a WITHIN_CHANNEL layer; Caffe "
                f"ignores k ({short(params.k)}) there and adds 1", 1.0, op.bias))
    elif float(np.float32(op.bias)) != params.k:
        findings.append(Finding("bias-not-k",
                                f"bias {short(op.bias)}; Caffe k {short(params.k)}", params.k,
                                op.bias))
    layout = _layout_finding(params, op, caffe_shape)
    if layout is not None:
        findings.append(layout)
    findings.sort(key=lambda f: f.severity != SEMANTICS)
    return findings
