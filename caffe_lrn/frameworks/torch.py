"""``CaffeLRN``: Caffe's LRN as a ``torch.nn.Module`` (NCHW), and the torch ops behind it.

    from caffe_lrn.frameworks.torch import CaffeLRN
    norm1 = CaffeLRN.from_caffe("deploy.prototxt", "norm1")     # form="caffe-order"
    top = norm1(bottom)                                           # autograd works

The Caffe-order form runs Caffe's running channel window (add the head channel, subtract
the tail) with the channel loop the only sequential axis; each step works on all N*H*W
positions at once, in float64 rounded to float32 once (Caffe's fused axpy). Its backward is
Caffe's (LRN-SPEC section 4), running accumulator included. It works eagerly, under
``torch.compile``, ``torch.export`` and ``torch.onnx.export`` (the exported graph holds the
unrolled window for the traced channel count). ``form="native"`` is
``torch.nn.functional.local_response_norm``. float16/bfloat16 are computed in float32 and
cast back; float64 stays float64. torch is imported on first use (``CaffeLRN`` and the
autograd functions are built then), so the converters can import this module freely.
"""
import functools
import types

from caffe_lrn.convert.records import WithinComposite
from caffe_lrn.convert.tf_params import alpha_over_size
from caffe_lrn.convert.size_scaled import caffe_to_torch
from caffe_lrn.frameworks.deps import LazyModule, import_torch, torch
from caffe_lrn.frameworks.forms import CAFFE_ORDER, NATIVE, caffe_layer_params, check_form
from caffe_lrn.params import LRNParams

F = LazyModule(lambda: import_torch().nn.functional)


def power(scale, beta: float):
    """scale**(-beta) in float64 from exact-enough pieces (see tf_ops.power)."""
    if beta == 0.0:
        return torch.ones_like(scale)
    if beta == 1.0:
        return 1.0 / scale
    if beta == 0.5:
        return torch.rsqrt(scale)
    if beta == 0.75:
        root = torch.rsqrt(scale)
        return root * torch.sqrt(root)
    return torch.exp(-beta * torch.log(scale))


def running_scale(square, local_size: int, alpha_over_size: float, k: float):
    """Caffe's window over channels-first squares (C, ...): the scale planes, Caffe's order.

    Channel 0 is k plus its terms (channels 0 .. p); channel c adds the head c+p and then
    subtracts the tail c-p-1. For float32 each step is done in float64 and rounded once.
    """
    channels = square.shape[0]
    pad = (local_size - 1) // 2
    wide = torch.float64
    narrow = square.dtype
    terms = square.to(wide) * alpha_over_size  # exact: a float32 product fits a float64
    scale = torch.full(square.shape[1:], k, dtype=narrow, device=square.device).to(wide)
    for c in range(min(pad + 1, channels)):
        scale = (scale + terms[c]).to(narrow).to(wide)
    scales = [scale]
    for c in range(1, channels):
        if c + pad < channels:
            scale = (scale + terms[c + pad]).to(narrow).to(wide)
        if c - pad - 1 >= 0:
            scale = (scale - terms[c - pad - 1]).to(narrow).to(wide)
        scales.append(scale)
    return torch.stack(scales)


def running_accum(ratio, local_size: int):
    """Caffe's backward accumulator: sum of ratio[c-p .. c+p], as a running window (subtract
    the tail that left, add the head; plain float adds, Caffe's axpy with alpha = +-1)."""
    channels = ratio.shape[0]
    pad = (local_size - 1) // 2
    accum = torch.zeros_like(ratio[0])
    for c in range(min(pad, channels)):
        accum = accum + ratio[c]
    sums = []
    for c in range(channels):
        if c - pad - 1 >= 0:
            accum = accum - ratio[c - pad - 1]
        if c + pad < channels:
            accum = accum + ratio[c + pad]
        sums.append(accum)
    return torch.stack(sums)


def _forward(window, x, local_size, alpha_over_size, k, beta):
    xc = x.transpose(0, 1)
    scale = window(xc * xc, local_size, alpha_over_size, k)
    scale_power = power(scale, beta).to(x.dtype)
    top = scale_power * xc
    return top.transpose(0, 1), scale.to(x.dtype), scale_power


def across_caffe_order(x, local_size, alpha_over_size, k, beta):
    """ACROSS_CHANNELS on NCHW ``x`` (float32 or float64) in Caffe's order, Caffe's gradient.

    ``alpha_over_size`` is Caffe's float32 alpha / local_size.
    """
    return _built().CaffeOrder.apply(x, int(local_size), float(alpha_over_size), float(k),
                             float(beta))


def across_native(x, size, alpha, beta, k):
    """torch's own LRN with the converted parameters (alpha divided by size, like Caffe)."""
    return F.local_response_norm(x, size, alpha=alpha, beta=beta, k=k)


def _within_forward(x, local_size, alpha, beta):
    pad = (local_size - 1) // 2
    pool = F.avg_pool2d(x * x, local_size, stride=1, padding=pad, count_include_pad=True)
    if x.dtype == torch.float32:
        # Caffe's power layer: scale, then shift, each rounded to float32, then powf.
        base = ((pool.double() * alpha).float().double() + 1.0).float()
        scale_power = power(base.double(), float(beta)).float()  # powf, rounded once
    else:
        base = pool * alpha + 1.0
        scale_power = torch.pow(base, -beta)
    return x * scale_power, base, scale_power


def within_composite(x, local_size, alpha, beta):
    """WITHIN_CHANNEL: x * (1 + alpha * avg_pool_nxn(x**2, padding counted))**(-beta), with
    Caffe's backward (its pipeline of layers in reverse, so an overflowing window gives 0
    where autograd through pow would give NaN)."""
    return _built().Within.apply(x, int(local_size), float(alpha), float(beta))


def lrn(x, params, form=CAFFE_ORDER):
    """Caffe's LRN layer ``params`` on NCHW ``x`` (float32 or float64) in ``form``."""
    target = caffe_to_torch(params).target
    if isinstance(target, WithinComposite):
        return within_composite(x, target.local_size, target.alpha, target.beta)
    if form == NATIVE:
        return across_native(x, target.size, target.alpha, target.beta, target.k)
    # Caffe's double instantiation divides alpha by the size in double.
    ratio = (params.alpha / params.local_size if x.dtype == torch.float64
             else alpha_over_size(params.alpha, params.local_size))
    return across_caffe_order(x, params.local_size, ratio, params.k, params.beta)


@functools.lru_cache(maxsize=None)
def _built():
    """torch's classes: built once, when torch is first needed (it is imported here)."""
    import_torch()
    # The channel loops run outside torch.compile's graph: unrolled over C they would take
    # minutes to compile; outside it, compiled models still run them eagerly.
    window = torch.compiler.disable(running_scale)
    accumulator = torch.compiler.disable(running_accum)

    class _CaffeOrder(torch.autograd.Function):
        # One output only: exporters take a Function's outputs for the model's.
        @staticmethod
        def forward(ctx, x, local_size, alpha_over_size, k, beta):
            top, scale, scale_power = _forward(window, x, local_size, alpha_over_size, k, beta)
            ctx.save_for_backward(x, top, scale, scale_power)
            ctx.local_size, ctx.cache_ratio = local_size, 2.0 * alpha_over_size * beta
            return top

        @staticmethod
        def backward(ctx, top_diff):
            x, top, scale, scale_power = ctx.saved_tensors
            dy, xc, tc = top_diff.transpose(0, 1), x.transpose(0, 1), top.transpose(0, 1)
            accum = accumulator(dy * tc / scale, ctx.local_size)
            base = dy * scale_power
            if x.dtype == torch.float64:
                diff = base - ctx.cache_ratio * (xc * accum)
            else:
                # Caffe casts cache_ratio to float, then one fused axpy.
                ratio = float(torch.tensor(ctx.cache_ratio, dtype=x.dtype))
                diff = (base.double() - ratio * (xc * accum).double()).to(x.dtype)
            return diff.transpose(0, 1), None, None, None, None

    class _Within(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, local_size, alpha, beta):
            top, base, scale_power = _within_forward(x, local_size, alpha, beta)
            ctx.save_for_backward(x, base, scale_power)
            ctx.local_size, ctx.diff_scale = local_size, -beta * alpha
            return top

        @staticmethod
        def backward(ctx, top_diff):
            x, base, scale_power = ctx.saved_tensors
            n = ctx.local_size
            # Caffe's pipeline in reverse: product, power (diff_scale * y / base), average pool
            # (stride 1, padding counted: its adjoint is the same box average), square, split.
            pool_diff = top_diff * x * (ctx.diff_scale * (scale_power / base))
            square_diff = F.avg_pool2d(pool_diff, n, stride=1, padding=(n - 1) // 2,
                                       count_include_pad=True)
            return top_diff * scale_power + square_diff * (2.0 * x), None, None, None

    class CaffeLRN(torch.nn.Module):
        """Caffe's LRN layer (NCHW), ACROSS_CHANNELS or WITHIN_CHANNEL, from Caffe's parameters.

        ``form="caffe-order"`` (default): Caffe's running window and backward, within 2 float32
        ULP of Caffe. ``form="native"``: ``F.local_response_norm``.
        """

        def __init__(self, local_size=5, alpha=1.0, beta=0.75, k=1.0,
                     norm_region="ACROSS_CHANNELS", form=CAFFE_ORDER):
            super().__init__()
            self.params = LRNParams(local_size=int(local_size), alpha=alpha, beta=beta, k=k,
                                    norm_region=norm_region)
            self.form = check_form(form)

        @classmethod
        def from_caffe(cls, net, layer_name, **kwargs):
            """The LRN layer ``layer_name`` of ``net`` (a path or a loaded NetParameter)."""
            params = caffe_layer_params(net, layer_name)
            return cls(local_size=params.local_size, alpha=params.alpha, beta=params.beta,
                       k=params.k, norm_region=params.norm_region, **kwargs)

        def forward(self, x):
            dtype = x.dtype
            compute = torch.float64 if dtype == torch.float64 else torch.float32
            top = lrn(x.to(compute), self.params, self.form)
            return top.to(dtype)

        def extra_repr(self):
            p = self.params
            return (f"local_size={p.local_size}, alpha={p.alpha}, beta={p.beta}, k={p.k}, "
                    f"norm_region={p.norm_region}, form={self.form!r}")

    CaffeLRN.__module__, CaffeLRN.__qualname__ = __name__, "CaffeLRN"
    return types.SimpleNamespace(CaffeOrder=_CaffeOrder, Within=_Within, CaffeLRN=CaffeLRN)


def __getattr__(name):
    if name == "CaffeLRN":
        return _built().CaffeLRN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
