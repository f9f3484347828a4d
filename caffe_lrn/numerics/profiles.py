"""Build profiles: the arithmetic of the BLAS library a Caffe build was linked against.

Real BVLC Caffe, rebuilt against other BLAS libraries with every layer's machine code
unchanged, gives different ACROSS_CHANNELS bits, and only ``caffe_axpy`` (``saxpy`` /
``daxpy``) makes the difference: whether ``y <- a*x + y`` is rounded once (a fused
multiply-add) or twice (``a*x``, then ``+ y``), and for which elements of a call.

Every axpy of Caffe's LRN layer covers one channel plane of one image, ``height * width``
elements per call (forward: the first window's ``n`` calls, then the head and the tail of
each channel; backward: the accumulator's head and tail, and ``bottom_diff -=
cache_ratio_value * (x * accum)`` per channel). A profile says which elements of a call of
``n`` elements are fused:

=================== ============================================================ ==================
profile             Caffe linked to                                              fused elements
=================== ============================================================ ==================
``openblas-avx512`` OpenBLAS with its AVX-512 kernels (SkylakeX, Cooperlake)      all ``n``
``openblas-avx2``   OpenBLAS with its AVX2 kernels (Haswell; AMD Zen)             the first
                                                                                 ``n - n % 32``
                                                                                 (float; double:
                                                                                 ``n - n % 16``)
``atlas``           ATLAS (Caffe's default BLAS), reference BLAS, OpenBLAS on     none
                    pre-AVX2 kernels (Sandybridge, Nehalem)
=================== ============================================================ ==================

So with ``openblas-avx2`` a 13 x 13 plane (169 floats) is fused in 5 whole blocks of 32
counted from the plane's first element, and its last 9 elements are rounded twice; a
3 x 3 plane (9 floats) is rounded twice throughout, as with ``atlas``.

Everything else is the same in every build: WITHIN_CHANNEL (its only axpby is ``a*x + 0``,
one rounding either way), axpy with ``a = +-1`` (an exact product), the powers (glibc's
``powf`` and ``pow``), ``scal``, and the element-wise ``caffe_mul``/``caffe_div``.
Measured on the same cases: the three builds' outputs differ in up to a few percent of the
ACROSS_CHANNELS elements, and each profile reproduces its own build bit for bit.
"""
import os
from dataclasses import dataclass

import numpy as np

from caffe_lrn.errors import ParameterError

ENV_PROFILE = "CAFFE_LRN_PROFILE"


@dataclass(frozen=True)
class Profile:
    """One Caffe build's axpy rounding.

    ``float_block`` / ``double_block``: ``None`` when every element of a call is fused,
    ``0`` when none is, else the block length (elements) of which only whole blocks from
    the start of each call are fused. ``code`` is the compiled kernels' constant.
    """

    name: str
    build: str
    float_block: object
    double_block: object
    code: int

    def fused_count(self, length, dtype):
        """How many leading elements of one axpy call of ``length`` elements are fused."""
        block = self.float_block if np.dtype(dtype) == np.float32 else self.double_block
        if block is None:
            return length
        if block == 0:
            return 0
        return length - length % block

    def block(self, dtype):
        """The block for ``dtype`` as an int for the kernels (-1: all fused, 0: none)."""
        block = self.float_block if np.dtype(dtype) == np.float32 else self.double_block
        return -1 if block is None else block


OPENBLAS_AVX512 = Profile(
    "openblas-avx512", "Caffe on OpenBLAS with its AVX-512 kernels (SkylakeX, Cooperlake)",
    None, None, 0)
OPENBLAS_AVX2 = Profile(
    "openblas-avx2", "Caffe on OpenBLAS with its AVX2 kernels (Haswell to Skylake desktops, "
    "AMD Zen)", 32, 16, 1)
ATLAS = Profile(
    "atlas", "Caffe on ATLAS, reference BLAS, or OpenBLAS without AVX2", 0, 0, 2)

#: The profiles, the default first (the build the bundled reference data came from).
PROFILES = (OPENBLAS_AVX512, OPENBLAS_AVX2, ATLAS)
DEFAULT_PROFILE = OPENBLAS_AVX512

#: Other names users know the same builds by.
ALIASES = {
    "default": OPENBLAS_AVX512,
    "openblas-skylakex": OPENBLAS_AVX512,
    "openblas-cooperlake": OPENBLAS_AVX512,
    "openblas-haswell": OPENBLAS_AVX2,
    "openblas-zen": OPENBLAS_AVX2,
    "reference": ATLAS,
    "reference-blas": ATLAS,
    "netlib": ATLAS,
    "openblas-sse": ATLAS,
    "openblas-sandybridge": ATLAS,
    "openblas-nehalem": ATLAS,
}


def profile_names():
    """Every accepted name: the profiles', then the aliases."""
    return tuple(p.name for p in PROFILES) + tuple(ALIASES)


def get_profile(profile=None):
    """The :class:`Profile` for a name, an alias or a Profile; ``None``: the environment
    variable ``CAFFE_LRN_PROFILE`` if set, else ``openblas-avx512``."""
    if isinstance(profile, Profile):
        return profile
    source = "profile"
    if profile is None:
        profile = os.environ.get(ENV_PROFILE) or DEFAULT_PROFILE.name
        source = ENV_PROFILE
    name = str(profile).strip().lower()
    for known in PROFILES:
        if name == known.name:
            return known
    if name in ALIASES:
        return ALIASES[name]
    raise ParameterError(f"{source} must be one of {', '.join(profile_names())}, "
                         f"got {profile!r}")


def profile_groups(params, shape, dtype):
    """The profiles as groups that give identical bits for this layer and blob, the default's
    group first (each group in :data:`PROFILES` order).

    WITHIN_CHANNEL (and ``alpha = 0``) never depend on the build: one group. ACROSS_CHANNELS
    depends only on how many leading elements of each channel-plane call are fused, so
    profiles with equal :meth:`Profile.fused_count` for ``H*W`` agree: with planes of fewer
    than 32 floats ``openblas-avx2`` is ``atlas``; with a multiple of 32, it is
    ``openblas-avx512``.
    """
    if params.within or params.alpha == 0 or len(shape) != 4:
        return [list(PROFILES)]
    plane = int(shape[2]) * int(shape[3])
    groups = {}
    for profile in PROFILES:
        groups.setdefault(profile.fused_count(plane, dtype), []).append(profile)
    return list(groups.values())


def describe_builds(profiles):
    """Words for the Caffe builds behind a set of profiles (in :data:`PROFILES` order)."""
    profiles = [p for p in PROFILES if p in profiles]
    if not profiles:
        return "no known Caffe build"
    if len(profiles) == len(PROFILES):
        return "any of the Caffe builds (every BLAS gives these bits)"
    return ", or ".join(p.build for p in profiles)
