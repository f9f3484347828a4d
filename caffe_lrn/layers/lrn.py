"""Caffe's LRN layer, forward and backward, in Caffe's CPU order of operations.

ACROSS_CHANNELS (``n = local_size``, ``p = (n - 1) / 2``)::

    scale[c] = k + alpha/n * sum_{c' = c-p}^{c+p} bottom[c']^2     (zero outside 0..C-1)
    top      = bottom * scale^(-beta)

computed as Caffe does: ``alpha_over_size = alpha / n`` in the blob's precision, ``scale``
filled with ``k``, channel 0 built by ``n`` axpy calls over zero-padded squares, every later
channel a running window (copy the previous channel, axpy the head with ``alpha_over_size``,
axpy the tail with ``-alpha_over_size``), then ``top = powx(scale, -beta) * bottom``. The
backward pass::

    bottom_diff = top_diff * scale^(-beta)
                  - (2*alpha*beta/n) * bottom * sum_{c' : |c'-c| <= p} top_diff[c'] * top[c'] / scale[c']

with the ratio ``top_diff * top / scale``, a running accumulator (axpy 1 / -1), and
``cache_ratio_value = 2*alpha*beta/n`` computed in double and cast to the blob's precision.

WITHIN_CHANNEL is Caffe's pipeline of five layers: Split, Power (square), Pooling (AVE,
kernel n, pad p, stride 1), Power (power -beta, scale alpha, shift 1: ``k`` is ignored),
Eltwise PROD::

    top = bottom * (1 + alpha/n^2 * boxsum_{n x n}(bottom^2))^(-beta)

and its backward is those layers' backward passes in reverse order, the Split summing the
two diffs of ``bottom``.

The math is in functions (:func:`lrn_forward`, :func:`lrn_backward` and the per-region
steps they call), which work on any (N, C, H, W) blob; :class:`LRNLayer` holds the
parameters and the state between forward and backward, and runs the functions on chunks
of the blob, on threads, or hands the blob to the compiled kernels.

Every step runs on whole channels of a chunk of images at once; the channel recurrence is
the only sequential loop. Images never interact, so a batch processed in chunks gives the
same bits as in one piece, and chunks run in parallel on threads (NumPy releases the GIL).
This NumPy code is the reference engine; with numba installed the same layer runs on the
compiled kernels of :mod:`caffe_lrn.kernels` (:mod:`caffe_lrn.layers.backend` chooses), which give
the same bits.

Memory: forward keeps no ``scale`` blob (a full one would cost as much as the top); the
backward pass recomputes it chunk by chunk from the kept bottom, bit for bit, and
:attr:`LRNLayer.scale` recomputes it on request. The one exception is the fast mode of
WITHIN_CHANNEL on the numba kernels (see :class:`LRNLayer`).
"""
import numpy as np

from caffe_lrn.errors import LayerStateError, ParameterError
from caffe_lrn.layers.backend import numba_kernels, resolve_backend, resolve_threads
from caffe_lrn.layers.checks import BlobSpec, check_blob, check_diff
from caffe_lrn.layers.eltwise import prod_backward, prod_forward
from caffe_lrn.layers.pooling import ave_pool_backward, ave_pool_forward, check_pooling
from caffe_lrn.layers.power import power_backward, power_forward
from caffe_lrn.layers.split import split_backward
from caffe_lrn.numerics.caffe_math import (
    axpy, axpy_keep_y_nan, binary_op, fast_powx, powx,
)
from caffe_lrn.numerics.profiles import DEFAULT_PROFILE, get_profile
from caffe_lrn.parallel import chunks, run_pieces
from caffe_lrn.params import LRNParams

# Elements per chunk of images: small enough that the float64 temporaries of the exact
# axpy and the pipeline's intermediates stay a fraction of the blob, large enough that
# NumPy's per-call cost does not dominate.
CHUNK_ELEMENTS = 1 << 19


def lrn_chunks(shape, within, chunk_images=None):
    """Index tuples cutting an (N, C, H, W) blob into chunks the layer can run apart.

    Runs of images; when one image is larger than a chunk, ACROSS_CHANNELS (whose window
    couples channels only) cuts it into runs of rows, WITHIN_CHANNEL (whose window couples
    the pixels of one plane) into runs of channel planes.
    """
    return chunks(shape, 1 if within else 2, CHUNK_ELEMENTS, chunk_images)


def plane_of(part, height):
    """Where a chunk of :func:`lrn_chunks` sits in Caffe's axpy calls (one per channel plane
    of ``height`` rows), for ACROSS_CHANNELS: None for whole images, ``(height, first_row)``
    for a run of rows."""
    if len(part) < 3:
        return None
    return height, part[2].start


def _power_of(exact):
    """The elementwise power: glibc's ``powf`` (Caffe's bits) or the fast mode's."""
    return powx if exact else fast_powx


def lrn_forward(bottom, params, exact=True, profile=DEFAULT_PROFILE, plane=None, power=None):
    """``top`` of an LRN layer with ``params`` (LRNParams) for an (N, C, H, W) ``bottom``.

    ACROSS_CHANNELS (``n = local_size``): ``scale = k + alpha/n * sum of bottom^2 over the
    n channels centred on each channel`` (zero-padded), ``top = bottom * scale^(-beta)``.
    WITHIN_CHANNEL: ``top = bottom * (1 + alpha/n^2 * boxsum_{n x n}(bottom^2))^(-beta)``.
    Both in Caffe's order of operations (see the module docstring); ``exact=False`` takes
    the fast mode's power. inf and NaN propagate as in Caffe, without warnings.
    ``profile``: the Caffe build whose axpy rounding to repeat
    (:mod:`caffe_lrn.numerics.profiles`); ``plane``: see :func:`plane_of`. ``power``: the
    elementwise power, when not ``exact``'s (the same function compiled, say).
    """
    power = power or _power_of(exact)
    with np.errstate(all="ignore"):
        if params.within:
            return within_forward(bottom, params, exact, power)
        return across_forward(bottom, params, power=power, profile=profile, plane=plane)


def lrn_backward(top_diff, bottom, params, exact=True, profile=DEFAULT_PROFILE, plane=None,
                 power=None):
    """``bottom_diff`` of an LRN layer for ``top_diff``, from the ``bottom`` of its forward.

    ACROSS_CHANNELS: ``bottom_diff = top_diff * scale^(-beta) - (2*alpha*beta/n) * bottom *
    sum over the window of top_diff * top / scale``. WITHIN_CHANNEL: the pipeline's layers
    backward in reverse order. The forward's intermediates are recomputed, bit for bit, so
    nothing but ``bottom`` is kept between the two passes.
    """
    power = power or _power_of(exact)
    with np.errstate(all="ignore"):
        if params.within:
            return within_backward(top_diff, bottom, params, exact, power)
        scale = np.empty(bottom.shape, dtype=bottom.dtype)
        across_scale(bottom, params, scale, profile, plane)
        return across_backward(top_diff, bottom, scale, params, power, profile, plane)


# ------------------------------------------------------------------------ ACROSS_CHANNELS
def window_terms(start, stop, pre_pad, channels):
    """Indices ``start .. stop-1`` of a zero-padded channel buffer, each run of padding
    given once.

    Adding a zero (an axpy of zeros, or ``+=`` zeros) is idempotent: it can only turn a -0
    into +0, and only the first time. So a run of padding channels has the effect of one,
    and the first window stays O(C) however large local_size is (Caffe allocates and
    walks all C + n - 1 channels).
    """
    real_start = min(max(start, pre_pad), stop)
    real_stop = max(min(stop, pre_pad + channels), real_start)
    if start < real_start:
        yield start
    yield from range(real_start, real_stop)
    if real_stop < stop:
        yield real_stop


def _non_finite(*blobs):
    """Whether NaN can occur at all (an inf or NaN in an operand): only then is x86's choice
    between two NaNs applied (caffe_math: NaN bits); finite operands make no NaN."""
    return any(not np.isfinite(blob).all() for blob in blobs)


def _plane_call(bottom, plane):
    """axpy's placement arguments for a chunk's channel rows (see :func:`plane_of`)."""
    if plane is None:
        return {}
    height, first_row = plane
    width = bottom.shape[-1]
    return {"plane_size": height * width, "plane_start": first_row * width}


def across_scale(bottom, params, out, profile=DEFAULT_PROFILE, plane=None):
    """Caffe's ``scale_`` for a chunk of images, written into ``out`` (same shape).

    ``profile``: the Caffe build whose axpy rounding to repeat; ``plane``: see
    :func:`plane_of` (None: the chunk holds whole channel planes)."""
    dtype = bottom.dtype.type
    size, pre_pad = params.local_size, params.pre_pad
    channels = bottom.shape[1]
    call = dict(_plane_call(bottom, plane), profile=profile)
    alpha_over_size = dtype(params.alpha) / dtype(size)
    squares = np.square(bottom)  # caffe_sqr
    padding = np.zeros(bottom.shape[:1] + bottom.shape[2:], dtype=bottom.dtype)

    def padded_square(c):  # channel c of Caffe's zero-padded buffer of C + n - 1 channels
        real = c - pre_pad
        return squares[:, real] if 0 <= real < channels else padding

    # Squares overflow to inf, and inf - inf is NaN: the rule is needed when one is not finite.
    add = axpy_keep_y_nan if _non_finite(squares) else axpy  # see caffe_math: NaN bits
    out[...] = dtype(params.k)
    first = out[:, 0]
    for c in window_terms(0, size, pre_pad, channels):
        add(alpha_over_size, padded_square(c), first, **call)
    for c in range(1, channels):
        current = out[:, c]
        current[...] = out[:, c - 1]
        add(alpha_over_size, padded_square(c + size - 1), current, **call)
        add(-alpha_over_size, padded_square(c - 1), current, **call)
    return out


def across_forward(bottom, params, scale_out=None, power=powx, profile=DEFAULT_PROFILE,
                   plane=None):
    """``top`` of ACROSS_CHANNELS for a chunk; ``scale_out`` (if given) receives Caffe's
    ``scale_``. ``power`` is the elementwise power (glibc's ``powf`` for float32)."""
    if scale_out is None:
        scale_out = np.empty(bottom.shape, dtype=bottom.dtype)
    across_scale(bottom, params, scale_out, profile, plane)
    top = power(scale_out, -bottom.dtype.type(params.beta))
    # caffe_mul(top, bottom): a NaN in top (the power) wins over one in bottom.
    return binary_op(np.multiply, top, bottom, out=top, nan_rule=_non_finite(top, bottom))


def across_backward(top_diff, bottom, scale, params, power=powx, profile=DEFAULT_PROFILE,
                    plane=None):
    """``bottom_diff`` of ACROSS_CHANNELS for a chunk, from Caffe's ``scale_``."""
    dtype = bottom.dtype.type
    size, pre_pad = params.local_size, params.pre_pad
    channels = bottom.shape[1]
    # Computed in double (2. * alpha_ * beta_ / size_), then stored in the blob's precision.
    cache_ratio_value = dtype(2.0 * float(dtype(params.alpha)) * float(dtype(params.beta))
                              / size)
    # Caffe's operand order, for x86's choice between two NaNs (see caffe_math).
    rule = _non_finite(scale, bottom, top_diff)
    add = axpy_keep_y_nan if rule else axpy
    scale_power = power(scale, -dtype(params.beta))
    # The forward's top, recomputed bit for bit.
    top = binary_op(np.multiply, scale_power, bottom, nan_rule=rule)
    bottom_diff = binary_op(np.multiply, top_diff, scale_power, out=scale_power, nan_rule=rule)
    ratio = binary_op(np.multiply, top_diff, top, out=top, nan_rule=rule)
    binary_op(np.divide, ratio, scale, out=ratio, nan_rule=rule)
    padding = np.zeros(bottom.shape[:1] + bottom.shape[2:], dtype=bottom.dtype)

    def padded_ratio(c):  # Caffe's padded_ratio buffer, offset inverse_pre_pad = pre_pad
        real = c - pre_pad
        return ratio[:, real] if 0 <= real < channels else padding

    accum = np.zeros_like(padding)
    for c in window_terms(0, size - 1, pre_pad, channels):
        add(1, padded_ratio(c), accum)
    for c in range(channels):
        add(1, padded_ratio(c + size - 1), accum)
        accum_times_bottom = binary_op(np.multiply, bottom[:, c], accum, nan_rule=rule)
        add(-cache_ratio_value, accum_times_bottom, bottom_diff[:, c], profile,
            **_plane_call(bottom, plane))
        add(-1, padded_ratio(c), accum)
    return bottom_diff


# ------------------------------------------------------------------------ WITHIN_CHANNEL
def _within_pool(params):
    """The Pooling layer's (kernel, stride, pad) pairs: kernel n, stride 1, pad p."""
    size, pad = params.local_size, params.pre_pad
    return (size, size), (1, 1), (pad, pad)


def _within_steps(bottom, params, exact, power=None):
    """The pipeline's forward blobs: the square, its pooled average, and the power
    ``(1 + alpha * pool)^(-beta)`` (Power layers: power 2; power -beta, scale alpha,
    shift 1)."""
    raise_to = power or _power_of(exact)
    square = power_forward(bottom, 2.0, 1.0, 0.0, raise_to)
    pool = ave_pool_forward(square, *_within_pool(params))
    power = power_forward(pool, -params.beta, params.alpha, 1.0, raise_to)
    return square, pool, power


def within_forward(bottom, params, exact=True, power=None):
    """``top = bottom * (1 + alpha/n^2 * boxsum(bottom^2))^(-beta)`` by Caffe's five layers:
    Split, Power (square), Pooling (AVE), Power, Eltwise PROD."""
    _, _, power = _within_steps(bottom, params, exact, power)
    return prod_forward([bottom, power])


def within_backward(top_diff, bottom, params, exact=True, power=None):
    """``bottom_diff`` of WITHIN_CHANNEL: Eltwise PROD, Power, Pooling and Power backward,
    then the Split's sum of the diffs of its two tops (the product's input first)."""
    square, pool, power = _within_steps(bottom, params, exact, power)
    product_input_diff, power_diff = prod_backward(top_diff, [bottom, power])
    pool_diff = power_backward(power_diff, power, pool, -params.beta, params.alpha, 1.0)
    square_diff = ave_pool_backward(pool_diff, square.shape, *_within_pool(params))
    square_input_diff = power_backward(square_diff, square, bottom, 2.0, 1.0, 0.0)
    return split_backward([product_input_diff, square_input_diff])


# ------------------------------------------------------------------------ the layer
def _window_exceeds(params, blob):
    """True when local_size reaches far past the blob (ACROSS: 2C + 1 channels; WITHIN:
    2 max(H, W) + 1 pixels). The kernels walk every window position (O(local_size) per
    pixel, O(local_size^2) WITHIN_CHANNEL), so local_size 2**31 - 1 would run for hours;
    the NumPy path skips what only ever sees padding and gives the same bits."""
    shape = np.shape(blob)
    if len(shape) != 4:
        return False
    extent = max(shape[2], shape[3]) if params.within else shape[1]
    return params.local_size > 2 * extent + 1


class LRNLayer:
    """Caffe's LRN layer on NCHW float32/float64 arrays, bit for bit as Caffe's CPU code.

    ``param`` is an :class:`~caffe_lrn.params.LRNParams`, a ``caffe_pb2.LRNParameter`` or
    a ``caffe_pb2.LayerParameter`` of type "LRN"; it is validated at construction (Caffe's
    LayerSetUp). ``forward(bottom) -> top`` and ``backward(top_diff) -> bottom_diff``;
    backward uses the bottom given to the last forward (Caffe's bottom blob, not copied:
    do not modify it in between).

    ``exact=True`` (default): axpy rounds as the Caffe build ``profile`` does and powers are
    glibc's ``powf`` / ``pow``: Caffe's bits. ``exact=False``, the fast mode: the same
    computation (window sums, pooling, products in Caffe's order) with a cheaper power
    ``scale^-beta``. Bound, checked by the tests on every reference case: top within 2
    float32 ULP of the exact engine's, NaN and inf in the same places; bottom_diff within
    ``2^-22`` of its largest magnitude (in ULP it can be hundreds off where its two terms
    cancel). On the numba backend the fast power serves ``beta = 0.75`` (a float32 start
    and one correction in double, faithfully rounded like ``powf``, so the two powers are
    at most 1 ULP apart and top at most 2); other betas keep glibc's power. On NumPy it is
    NumPy's float32 ``np.power`` (measured: top within 2 ULP).

    Memory in the fast mode: WITHIN_CHANNEL on the numba backend with the fast power keeps,
    from forward to backward, the Power layer's input ``1 + alpha/n^2 * boxsum(bottom^2)``
    and output: two float32 blobs of the bottom's size (Caffe keeps four such blobs), so
    backward recomputes neither the square, the pool nor the power and gives the same bits
    as recomputing them. Every other configuration keeps only the bottom.

    ``profile``: which Caffe build to reproduce (:mod:`caffe_lrn.numerics.profiles`):
    ``"openblas-avx512"`` (OpenBLAS on AVX-512 kernels, every axpy element fused),
    ``"openblas-avx2"`` (fused in blocks of 32 from the start of each channel plane, the rest
    rounded twice) or ``"atlas"`` (ATLAS, reference BLAS, pre-AVX2 OpenBLAS: rounded twice);
    aliases such as ``"reference"`` are accepted. Default: ``CAFFE_LRN_PROFILE``, else
    ``"openblas-avx512"``. Only ACROSS_CHANNELS depends on it.

    ``backend``: ``"numpy"``, ``"numba"`` or ``"auto"`` (default: ``CAFFE_LRN_BACKEND``,
    else ``"auto"``, numba when installed); float64 blobs always run on NumPy.
    ``threads``: how many threads share the work (default: ``CAFFE_LRN_THREADS``, else
    every available core). ``chunk_images`` fixes how many images are processed at once
    (default: automatic; an image is cut into rows or channel planes when large). Results
    depend on none of these three.

    Example::

        >>> import numpy as np
        >>> layer = LRNLayer(LRNParams(local_size=3, alpha=1e-4, beta=0.75))
        >>> x = np.ones((1, 4, 2, 3), np.float32)
        >>> top = layer.forward(x)
        >>> bottom_diff = layer.backward(np.ones_like(top))
    """

    def __init__(self, param, exact=True, chunk_images=None, threads=None, backend=None,
                 profile=None):
        self.params = LRNParams.of(param)
        self.exact = bool(exact)
        self.profile = get_profile(profile)
        if chunk_images is not None and int(chunk_images) < 1:
            raise ParameterError(f"chunk_images must be at least 1, got {chunk_images}")
        self.chunk_images = None if chunk_images is None else int(chunk_images)
        self.threads = resolve_threads(threads)
        self.backend = resolve_backend(backend)
        self._bottom = None
        self._kept = None  # the fast mode's WITHIN_CHANNEL power input and output
        self._top = None  # the last top's BlobSpec: all backward checks its diff against
        if self.params.within:
            # Caffe's LayerSetUp sets up the pipeline's Pooling layer here, with its checks
            # (the kernel's area must fit Caffe's int).
            check_pooling(*_within_pool(self.params))

    @classmethod
    def from_text(cls, text, **kwargs):
        """From Caffe's text format, e.g. ``"local_size: 3 alpha: 5e-05 norm_region: WITHIN_CHANNEL"``.

        Keyword arguments (``exact``, ``profile``, ``threads``, ...) go to the constructor."""
        return cls(LRNParams.from_text(text), **kwargs)

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in self.params.as_dict().items())
        mode = "" if self.exact else ", exact=False"
        if self.profile is not DEFAULT_PROFILE:
            mode += f", profile={self.profile.name!r}"
        return f"LRNLayer({fields}{mode})"

    def _kernels(self, blob):
        """The numba kernel module when it serves this blob, else None (NumPy)."""
        if self.backend != "numba":
            return None
        kernels = numba_kernels()
        if not kernels.supports(self.params, blob.dtype) or _window_exceeds(self.params, blob):
            return None
        return kernels

    def forward(self, bottom):
        """``top`` for an (N, C, H, W) float32 or float64 ``bottom`` (never modified)."""
        bottom = check_blob(bottom, "LRN")
        kernels = self._kernels(bottom)
        kept, self._kept = self._kept, None
        if kernels is not None and bottom.size and kernels.keeps(self.params, not self.exact):
            # The blobs kept for the last backward are this layer's own: overwrite them.
            top, self._kept = kernels.forward_keep(bottom, self.params, threads=self.threads,
                                                   chunk_images=self.chunk_images, reuse=kept)
        elif kernels is not None and bottom.size:
            top = kernels.forward(bottom, self.params, fast=not self.exact,
                                  threads=self.threads, chunk_images=self.chunk_images,
                                  profile=self.profile)
            self._nan_bits_from_numpy(top, lrn_forward, bottom)
        else:
            top = np.empty(bottom.shape, dtype=bottom.dtype)
            if bottom.size:
                self._numpy_forward(bottom, top)
        self._bottom = bottom
        self._top = BlobSpec(top.shape, top.dtype)
        return top

    def _nan_bits_from_numpy(self, out, function, *blobs):
        """Give the images of ``out`` that hold a NaN the NumPy engine's bits.

        Which of two NaNs an operation returns is x86's first operand, and LLVM orders the
        operands of the ACROSS kernels' commutative operations as it likes: their NaN bits
        depended on the tiling. The NumPy engine applies Caffe's operand order
        (:mod:`caffe_lrn.numerics.caffe_math`); images with a NaN are rare and recomputed.
        WITHIN_CHANNEL's kernels already agree with it (the pipeline's operations meet no
        two NaNs in a different order).
        """
        if self.params.within:
            return out
        images = np.flatnonzero(np.isnan(out).reshape(out.shape[0], -1).any(axis=1))
        if images.size:
            with np.errstate(all="ignore"):
                for image in images:
                    part = slice(image, image + 1)
                    out[part] = function(*(blob[part] for blob in blobs), self.params,
                                         self.exact, self.profile)
        return out

    def _numpy_power(self):
        """The NumPy engine's power: on the numba backend, exact, libm's double ``pow`` runs
        compiled (the same bits as calling it from Python, several times faster)."""
        if self.backend == "numba" and self.exact:
            return numba_kernels().powx
        return None

    def _numpy_forward(self, bottom, top):
        params, exact, profile, height = self.params, self.exact, self.profile, bottom.shape[2]
        power = self._numpy_power()

        def work(part):
            top[part] = lrn_forward(bottom[part], params, exact, profile,
                                    plane_of(part, height), power)
        run_pieces(work, lrn_chunks(bottom.shape, params.within, self.chunk_images),
                   self.threads)

    def backward(self, top_diff):
        """``bottom_diff`` for ``top_diff`` (the top's shape and dtype) of the last forward."""
        if self._bottom is None:
            raise LayerStateError("LRN backward called before forward: run forward(bottom) "
                                  "first")
        top_diff = check_diff(top_diff, self._top)
        bottom = self._bottom
        kernels = self._kernels(bottom)
        if self._kept is not None:
            return kernels.backward_kept(bottom, top_diff, self.params, self._kept,
                                         threads=self.threads, chunk_images=self.chunk_images)
        if kernels is not None and bottom.size:
            bottom_diff = kernels.backward(bottom, top_diff, self.params, fast=not self.exact,
                                           threads=self.threads,
                                           chunk_images=self.chunk_images,
                                           profile=self.profile)
            return self._nan_bits_from_numpy(bottom_diff, lrn_backward, top_diff, bottom)
        bottom_diff = np.empty(bottom.shape, dtype=bottom.dtype)
        if bottom.size:
            self._numpy_backward(bottom, top_diff, bottom_diff)
        return bottom_diff

    def _numpy_backward(self, bottom, top_diff, bottom_diff):
        params, exact, profile, height = self.params, self.exact, self.profile, bottom.shape[2]
        power = self._numpy_power()

        def work(part):
            # The chunk's forward intermediates are recomputed, not kept between calls, so
            # memory stays one chunk's worth.
            bottom_diff[part] = lrn_backward(top_diff[part], bottom[part], params, exact,
                                             profile, plane_of(part, height), power)
        run_pieces(work, lrn_chunks(bottom.shape, params.within, self.chunk_images),
                   self.threads)

    @property
    def scale(self):
        """Caffe's ``scale_`` blob of the last ACROSS_CHANNELS forward, recomputed from its
        bottom on each access (None for WITHIN_CHANNEL or before a forward)."""
        if self.params.within or self._bottom is None:
            return None
        bottom = self._bottom
        kernels = self._kernels(bottom)
        if kernels is not None and bottom.size:
            return kernels.scale(bottom, self.params, threads=self.threads,
                                 profile=self.profile)
        scale = np.empty(bottom.shape, dtype=bottom.dtype)
        if bottom.size:
            with np.errstate(all="ignore"):
                for part in lrn_chunks(bottom.shape, False, self.chunk_images):
                    across_scale(bottom[part], self.params, scale[part], self.profile,
                                 plane_of(part, bottom.shape[2]))
        return scale
