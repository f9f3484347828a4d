"""Compiled kernels (numba) for the exact engine and the fast mode: the default backend.

numba is a dependency of the package, so a plain install runs these. Nothing in the core
imports this package unless the numba backend is selected (:mod:`caffe_lrn.layers.backend`),
and where numba cannot load the NumPy engine runs instead; the NumPy code in
:mod:`caffe_lrn.layers` and :mod:`caffe_lrn.numerics.powf` stays the reference, and the tests prove
these kernels give the same bits.

- :mod:`~caffe_lrn.kernels.intrinsics`: fused multiply-add, square root and bit casts.
- :mod:`~caffe_lrn.kernels.powf`: glibc's ``powf`` (FMA build), vectorisable.
- :mod:`~caffe_lrn.kernels.fastpow`: the fast mode's power for ``beta = 0.75``.
- :mod:`~caffe_lrn.kernels.axpy`: Caffe's saxpy element under each build profile.
- :mod:`~caffe_lrn.kernels.libm`: libm's double ``pow`` in a compiled loop (float64 blobs).
- :mod:`~caffe_lrn.kernels.across`, :mod:`~caffe_lrn.kernels.within`: the fused layers.
- :mod:`~caffe_lrn.kernels.jit`: the compile options and where the compiled code is cached.
- :mod:`~caffe_lrn.kernels.lrn`: constants, tiles and threads for the layer.
- :mod:`~caffe_lrn.kernels.compiling`: compile before the threads start; say so on a terminal.

The kernels are compiled on first use, each one only when a call needs it (WITHIN_CHANNEL
has one kernel per pass and power: exact and fast are separate), and cached by numba next to these modules (or
in ``NUMBA_CACHE_DIR``, or the user's cache folder; :mod:`~caffe_lrn.kernels.jit` finds a
private one when none is writable), so later processes start in well under a second. numba
checks only a kernel's own module for changes: after editing ``intrinsics.py``, ``powf.py``
or ``fastpow.py`` in a development checkout, delete ``caffe_lrn/kernels/__pycache__``.
"""
