"""Caffe's saxpy element ``a*x + y`` as each build profile rounds it, for the kernels.

The compiled counterparts of :func:`caffe_lrn.numerics.caffe_math.axpy` under the profiles
of :mod:`caffe_lrn.numerics.profiles`. Each takes ``fused``: whether the element lies in
the part of its axpy call the build rounds once (``plane position < fused_end``, where
``fused_end = n - n % 32`` for a call of ``n`` elements under ``openblas-avx2``). A kernel
is compiled once per profile with one of these inlined, so the profile is a compile-time
constant: under ``openblas-avx512`` the position test is dead code and the loop is the
plain fused one.
"""
from numba import njit

from caffe_lrn.kernels.intrinsics import fma32

_INLINE = dict(inline="always", error_model="numpy")


@njit(**_INLINE)
def axpy_fused(a, x, y, fused):
    """``openblas-avx512``: every element one rounding."""
    return fma32(a, x, y)


@njit(**_INLINE)
def axpy_blocks(a, x, y, fused):
    """``openblas-avx2``: one rounding in the call's whole blocks, two in the rest."""
    return fma32(a, x, y) if fused else a * x + y


@njit(**_INLINE)
def axpy_twice(a, x, y, fused):
    """``atlas``: two roundings (numba never contracts ``a*x + y`` into an fma)."""
    return a * x + y
