"""The C library's double ``pow``, compiled: Caffe's double ``caffe_powx``, fast.

:func:`caffe_lrn.numerics.caffe_math.pow64` calls libm's ``pow`` one element at a time
from Python; here numba's ``math.pow`` calls the same C function (LLVM's ``llvm.pow.f64``
is a call to libm's ``pow``, never an approximation: numba compiles without fast-math) in a
loop, several times faster, with the same bits (the kernel tests compare them).
"""
import math

import numpy as np
from numba import njit

from caffe_lrn.kernels.jit import JIT
from caffe_lrn.numerics.caffe_math import powx as numpy_powx


@njit(**JIT)
def _pow64(x, p, out):
    for i in range(x.size):
        out[i] = math.pow(x[i], p)


def pow64(x, p):
    """libm's ``pow(x, p)`` elementwise for a float64 array ``x`` and a scalar ``p``."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty(x.shape, np.float64)
    _pow64(x.reshape(-1), float(p), out.reshape(-1))
    return out


def powx(x, p):
    """Caffe's ``caffe_powx`` with the double power compiled (float32: glibc's ``powf``
    emulation of :func:`caffe_lrn.numerics.caffe_math.powx`)."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        return pow64(x, p)
    return numpy_powx(x, p)
