"""The fast mode's power for ``beta = 0.75``: ``s^-0.75`` faithful to float32, cheaper than
glibc's ``powf``.

A float32 start ``p0 = t * sqrt(t)`` with ``t = 1 / sqrt(s)`` (a few float32 ulps off) is
corrected once in double: with ``e = p0^4 * s^3 - 1`` (``p0^2`` is exact, the rest within a
few double ulps), ``s^-0.75 = p0 * (1 + e)^(-1/4) ~ p0 * (1 - e/4)``, whose error, about
``5/32 e^2``, is below ``1e-12`` relative. The double result is rounded once to float32, so
the power is a faithful rounding of the true value, as glibc's ``powf`` is: the two never
differ by more than one ulp, and a product ``x * power`` by at most two. No tables, no
gathers: square roots, a division and a handful of multiplies, all vectorised by LLVM.

Zero, inf, NaN and negative scales are left to glibc's scalar ``powf`` (flagged).
"""
import numpy as np
from numba import njit

from caffe_lrn.kernels.intrinsics import sqrt32

#: The exponent this power serves; others use glibc's.
FAST_EXPONENT = np.float32(-0.75)
_ONE = np.float32(1.0)
_INF = np.float32(np.inf)


@njit(inline="always", error_model="numpy")
def pow_075_main(s, y64):
    """``(s ** -0.75, needs_scalar)``; ``needs_scalar`` unless ``0 < s < inf``."""
    t = _ONE / sqrt32(s)
    p0 = np.float64(t * sqrt32(t))
    sd = np.float64(s)
    p2 = p0 * p0
    e = (p2 * p2) * (sd * sd * sd) - 1.0
    return np.float32(p0 - p0 * (e * 0.25)), (s != s) | (s <= 0) | (s == _INF)
