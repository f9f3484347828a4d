"""Caffe's LRN forward built from TensorFlow ops (NHWC in, NHWC out).

These functions take the ``tf`` module as their first argument and use nothing else from
this package: ``run_layer`` calls them, and the Python module emitter copies their source
verbatim into the standalone modules it writes, so both run the same code.
"""


def across_caffe_order(tf, x, local_size, alpha_over_size, k, beta):
    """ACROSS_CHANNELS as Caffe's CPU code runs it, from tf ops.

    scale[c] = k + alpha_over_size * sum of x**2 over channels c-(n-1)/2 .. c+(n-1)/2, kept
    as Caffe's running window: channel 0 sums its n terms, channel c adds the head channel to
    channel c-1 and subtracts the tail. Each step is done in float64 and rounded to float32,
    the single rounding of Caffe's fused axpy; then top = x * scale**(-beta), the power taken
    in float64 and rounded once (as libm's powf).
    """
    n = local_size
    pad = (n - 1) // 2
    steps = x.shape[-1] + n - 1
    square = tf.square(x)
    padded = tf.pad(square, [[0, 0], [0, 0], [0, 0], [pad, pad]])
    heads = tf.cast(padded, tf.float64) * alpha_over_size
    # Step j adds heads[j] and subtracts heads[j - n] (zero for j < n: an exact no-op).
    tails = tf.pad(heads, [[0, 0], [0, 0], [0, 0], [n, 0]])[..., :steps]
    heads = tf.transpose(heads, (3, 0, 1, 2))
    tails = tf.transpose(tails, (3, 0, 1, 2))

    def step(scale, terms):
        head, tail = terms
        scale = tf.cast(tf.cast(scale, tf.float64) + head, tf.float32)
        return tf.cast(tf.cast(scale, tf.float64) - tail, tf.float32)

    start = tf.fill(tf.shape(x)[:-1], tf.constant(k, tf.float32))
    scales = tf.scan(step, (heads, tails), initializer=start)[n - 1:]
    scale = tf.transpose(scales, (1, 2, 3, 0))
    power = tf.cast(tf.pow(tf.cast(scale, tf.float64), -float(beta)), tf.float32)
    return power * x


def across_native(tf, x, depth_radius, bias, alpha, beta):
    """ACROSS_CHANNELS with TF's own kernel and the converted parameters."""
    return tf.nn.local_response_normalization(x, depth_radius=depth_radius, bias=bias,
                                              alpha=alpha, beta=beta)


def within_composite(tf, x, local_size, alpha, beta):
    """WITHIN_CHANNEL: x * (1 + alpha * avg_pool_nxn(zero_pad(x**2)))**(-beta).

    The padding is explicit and the pool VALID, so every window divides by n*n as Caffe's
    does (avg_pool2d with SAME padding would leave the padding out of the count). The shift
    is the constant 1: Caffe ignores k here.
    """
    pad = (local_size - 1) // 2
    square = tf.square(x)
    padded = tf.pad(square, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    pool = tf.nn.avg_pool2d(padded, ksize=local_size, strides=1, padding="VALID")
    return x * tf.pow(pool * alpha + 1.0, -beta)
