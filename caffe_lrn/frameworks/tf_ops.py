"""Caffe's LRN from TensorFlow ops: the one home of every TF form (the Keras layer, the
``run_layer("tf", ...)`` runner and the benchmark all call these).

Each function takes the ``tf`` module first and a rank-4 tensor whose channel axis is
``channel_axis`` (-1 for NHWC, TF's convention; 1 for NCHW).

The Caffe-order form of ACROSS_CHANNELS follows Caffe's CPU code: a running channel window
(add the head channel, subtract the tail) whose rounding travels along the channel axis.
The channel loop is the only sequential axis: each step is one vectorised operation over
all N*H*W positions. In float32 each ``scale += a * x`` is done in float64 and rounded to
float32 once, the single rounding of Caffe's fused axpy (the float32 product is exact in
float64); the power is taken in float64 and rounded once, like libm's powf. In float64
everything stays float64. Its gradient is Caffe's backward formula (LRN-SPEC section 4),
vectorised: the window sum of ``top_diff * top / scale`` needs no running order to stay
within a few ULP of the largest |bottom_diff|.
"""
import numpy as np

from caffe_lrn.convert.records import WithinComposite
from caffe_lrn.convert.tf_params import caffe_to_tf


def _channels_first(x, channel_axis):
    """(perm to C-first, perm back) for a rank-4 tensor with channels on ``channel_axis``."""
    axis = channel_axis % 4
    perm = [axis] + [a for a in range(4) if a != axis]
    back = [perm.index(a) for a in range(4)]
    return perm, back


def _running_scale(tf, square, local_size, alpha_over_size, k):
    """Caffe's window over channels-first squares: the float scale planes, in Caffe's order.

    A ``tf.scan`` over the squares zero-padded to C + n - 1 channels (the channel count may
    be unknown): step j adds ``alpha_over_size * padded[j]`` and then subtracts
    ``alpha_over_size * padded[j - n]`` (zero for j < n, an exact no-op); steps n-1 .. give
    channels 0, 1, ... exactly as Caffe's loop does. For float32 each step is done in
    float64 and rounded once (Caffe's fused axpy); float64 stays float64.
    """
    narrow, wide = square.dtype, tf.float64
    n = local_size
    pad = (n - 1) // 2
    padded = tf.pad(square, [[pad, pad], [0, 0], [0, 0], [0, 0]])
    steps = tf.shape(padded)[0]
    tails = tf.pad(padded, [[n, 0], [0, 0], [0, 0], [0, 0]])[:steps]
    aos = float(alpha_over_size)

    def step(scale, terms):
        head, tail = terms
        scale = tf.cast(tf.cast(scale, wide) + tf.cast(head, wide) * aos, narrow)
        return tf.cast(tf.cast(scale, wide) - tf.cast(tail, wide) * aos, narrow)

    start = tf.fill(tf.shape(square)[1:], tf.constant(k, narrow))
    return tf.scan(step, (padded, tails), initializer=start)[n - 1:]


def power(tf, scale, beta):
    """scale**(-beta) in float64, from exact-enough pieces where beta allows.

    Caffe's powf is correctly rounded but for rare ties; a float64 result within a few float64
    ULP rounds to the same float32. beta 0.75 (AlexNet's) is rsqrt(s) * sqrt(rsqrt(s)), 0.5
    rsqrt, 1 a reciprocal, 0 the constant 1 (pow(s, 0) is 1 even for 0, inf and NaN); other
    betas exp(-beta * log(s)). All give 0 -> inf, inf -> 0, negative or NaN -> NaN as pow.
    """
    beta = float(beta)
    if beta == 0.0:
        return tf.ones_like(scale)
    if beta == 1.0:
        return 1.0 / scale
    if beta == 0.5:
        return tf.math.rsqrt(scale)
    if beta == 0.75:
        root = tf.math.rsqrt(scale)
        return root * tf.sqrt(root)
    return tf.exp(-beta * tf.math.log(scale))


def _window_sum(tf, values, local_size):
    """sum over c' in c-p .. c+p of values[c'] (channels first, zero outside), vectorised."""
    pad = (local_size - 1) // 2
    padded = tf.pad(values, [[pad, pad], [0, 0], [0, 0], [0, 0]])
    channels = tf.shape(values)[0]
    total = padded[0:channels]
    for offset in range(1, local_size):
        total = total + padded[offset:offset + channels]
    return total


def _running_accum(tf, ratio, local_size):
    """Caffe's backward accumulator: for channel c, the sum of ratio[c-p .. c+p], running.

    Caffe adds the head channel, uses the sum, then subtracts the tail (plain float adds:
    its axpy here has alpha = +-1). Kept in that order because a huge ratio that enters and
    leaves the window leaves its rounding behind, and Caffe's bottom_diff carries it.
    """
    n = local_size
    pad = (n - 1) // 2
    padded = tf.pad(ratio, [[pad, pad], [0, 0], [0, 0], [0, 0]])
    steps = tf.shape(padded)[0]
    tails = tf.pad(padded, [[n, 0], [0, 0], [0, 0], [0, 0]])[:steps]

    def step(accum, terms):
        head, tail = terms
        return (accum - tail) + head

    start = tf.zeros(tf.shape(ratio)[1:], ratio.dtype)
    return tf.scan(step, (padded, tails), initializer=start)[n - 1:]


def _fused_sub(tf, base, factor, product):
    """base - factor * product with one rounding (Caffe's fused axpy) for float32."""
    narrow, wide = base.dtype, tf.float64
    if narrow == wide:
        return base - factor * product
    return tf.cast(tf.cast(base, wide) - float(factor) * tf.cast(product, wide), narrow)


def _across_caffe_order(tf, x, local_size, alpha_over_size, k, beta, channel_axis):
    narrow, wide = x.dtype, tf.float64
    perm, back = _channels_first(x, channel_axis)
    beta = float(beta)
    # Caffe's cache_ratio_value = 2 * alpha * beta / size, i.e. 2 * beta * alpha_over_size.
    cache_ratio = 2.0 * float(alpha_over_size) * beta
    if narrow != tf.float64:
        cache_ratio = float(np.float32(cache_ratio))  # Caffe casts it to Dtype

    @tf.custom_gradient
    def across(bottom):
        xc = tf.transpose(bottom, perm)
        scale = _running_scale(tf, tf.square(xc), local_size, alpha_over_size, k)
        scale_power = tf.cast(power(tf, tf.cast(scale, wide), beta), narrow)
        top_c = scale_power * xc

        def grad(top_diff):
            dy = tf.transpose(top_diff, perm)
            accum = _running_accum(tf, dy * top_c / scale, local_size)
            diff = _fused_sub(tf, dy * scale_power, cache_ratio, xc * accum)
            return tf.transpose(diff, back)

        return tf.transpose(top_c, back), grad

    return across(x)


_GRAPHS = {}


def across_caffe_order(tf, x, local_size, alpha_over_size, k, beta, channel_axis=-1):
    """ACROSS_CHANNELS as Caffe's CPU code runs it, from tf ops, with Caffe's gradient.

    scale[c] = k + alpha_over_size * sum of x**2 over channels c-(n-1)/2 .. c+(n-1)/2, kept
    as Caffe's running window: channel 0 sums its terms, channel c adds the head channel to
    channel c-1 and subtracts the tail; top = x * scale**(-beta). Gradient (Caffe's
    backward, vectorised in float32 like Caffe's):
    bottom_diff = top_diff * scale**(-beta)
                  - (2 * alpha_over_size * beta) * x * window_sum(top_diff * top / scale).
    ``x`` is float32 or float64 (the caller widens float16/bfloat16). Eagerly the work runs
    as one cached graph (the channel loop op by op would pay Python's cost per channel).
    """
    args = (int(local_size), float(alpha_over_size), float(k), float(beta), int(channel_axis))
    if not tf.executing_eagerly():
        return _across_caffe_order(tf, x, *args)
    graph = _GRAPHS.get(args)
    if graph is None:
        def run(bottom):
            return _across_caffe_order(tf, bottom, *args)
        graph = _GRAPHS[args] = tf.function(run, autograph=False, reduce_retracing=True)
    return graph(x)


def across_native(tf, x, depth_radius, bias, alpha, beta, channel_axis=-1):
    """ACROSS_CHANNELS with TF's own kernel and the converted parameters.

    TF's kernel has no float64 version: a float64 input gets the same formula from a
    from-scratch window sum in float64.
    """
    last = channel_axis % 4 == 3
    if x.dtype == tf.float64:
        perm, back = _channels_first(x, channel_axis)
        xc = tf.transpose(x, perm)
        sums = _window_sum(tf, tf.square(xc), 2 * depth_radius + 1)
        return tf.transpose(xc * tf.pow(bias + alpha * sums, -float(beta)), back)
    if not last:
        x = tf.transpose(x, (0, 2, 3, 1))
    top = tf.nn.local_response_normalization(x, depth_radius=depth_radius, bias=bias,
                                             alpha=alpha, beta=beta)
    return top if last else tf.transpose(top, (0, 3, 1, 2))


def _scale_shift(tf, pool, alpha):
    """1 + alpha * pool rounded as Caffe's power layer does: the product, then the sum.

    Each operation is done in float64 and rounded to float32, so no compiler (XLA) can
    contract the two into one fused multiply-add, which would round once.
    """
    narrow, wide = pool.dtype, tf.float64
    if narrow == wide:
        return pool * alpha + 1.0
    scaled = tf.cast(tf.cast(pool, wide) * float(alpha), narrow)
    return tf.cast(tf.cast(scaled, wide) + 1.0, narrow)


def within_composite(tf, x, local_size, alpha, beta, channel_axis=-1):
    """WITHIN_CHANNEL: x * (1 + alpha * avg_pool_nxn(zero_pad(x**2)))**(-beta).

    The padding is explicit and the pool VALID, so every window divides by n*n as Caffe's
    does (avg_pool2d with SAME padding would leave the padding out of the count). The shift
    is the constant 1: Caffe ignores k here. Pooling runs on NHWC (TF's CPU pooling has no
    NCHW kernel). TF sums each window in its own order, Caffe row by row: a chain of adds
    in Caffe's order does not help, since graph optimisers and XLA reorder it. The gradient is Caffe's pipeline of layers in reverse (product, power as
    diff_scale * y / base, the box average, square, split), so a window that overflows to
    inf gives Caffe's 0 where differentiating pow would give NaN.
    """
    last = channel_axis % 4 == 3
    pad = (local_size - 1) // 2
    paddings = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
    diff_scale = -float(beta) * float(alpha)

    def box_average(t):
        return tf.nn.avg_pool2d(tf.pad(t, paddings), ksize=local_size, strides=1,
                                padding="VALID")

    @tf.custom_gradient
    def within(bottom):
        base = _scale_shift(tf, box_average(tf.square(bottom)), alpha)
        # Caffe's power layer: scale, shift, then powf (float64, rounded once).
        scale_power = tf.cast(power(tf, tf.cast(base, tf.float64), beta), bottom.dtype)

        def grad(top_diff):
            pool_diff = top_diff * bottom * (diff_scale * (scale_power / base))
            # Stride 1 with the padding counted: the box average is its own adjoint.
            return top_diff * scale_power + box_average(pool_diff) * (2.0 * bottom)

        return bottom * scale_power, grad

    top = within(x if last else tf.transpose(x, (0, 2, 3, 1)))
    return top if last else tf.transpose(top, (0, 3, 1, 2))


def lrn(tf, x, params, form="caffe-order", channel_axis=-1):
    """Caffe's LRN layer ``params`` (LRNParams) on ``x`` in the chosen form.

    ACROSS_CHANNELS: ``form`` "caffe-order" (Caffe's running window) or "native" (TF's op
    with the converted parameters). WITHIN_CHANNEL: the composite in both forms (TF has no
    op for it). ``x`` is float32 or float64.
    """
    target = caffe_to_tf(params).target
    if isinstance(target, WithinComposite):
        return within_composite(tf, x, target.local_size, target.alpha, target.beta,
                                channel_axis=channel_axis)
    # Caffe's double instantiation divides alpha by the size in double.
    alpha_over_size = (params.alpha / params.local_size if x.dtype == tf.float64
                       else target.alpha)
    if form == "native":
        return across_native(tf, x, target.depth_radius, target.bias, alpha_over_size,
                             target.beta, channel_axis=channel_axis)
    return across_caffe_order(tf, x, params.local_size, alpha_over_size, params.k,
                              params.beta, channel_axis=channel_axis)
