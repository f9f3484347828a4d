"""LLVM primitives the kernels need and numba does not expose: fused multiply-add, float32
square root, bit casts.

``fma32`` / ``fma64`` are ``llvm.fma.f32`` / ``llvm.fma.f64``: one rounding, a single
instruction on CPUs with FMA. Plain ``a*b + c`` in a kernel stays two roundings: numba
compiles without fast-math flags, so LLVM never contracts it. The bit casts reinterpret a
float's bits as an integer of the same width and back (C's ``asuint``/``asfloat``), which
LLVM lowers to nothing and can vectorise.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic


def _fma(value_type, llvm_type, name):
    """An intrinsic computing ``a*b + c`` of three ``value_type`` values, rounded once."""
    @intrinsic
    def fma(typingctx, a, b, c):
        if not all(arg == value_type for arg in (a, b, c)):
            return None

        def codegen(context, builder, signature, args):
            fnty = ir.FunctionType(llvm_type, [llvm_type] * 3)
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)
            return builder.call(fn, args)

        return value_type(value_type, value_type, value_type), codegen
    return fma


#: ``RN32(a*b + c)`` for float32 ``a``, ``b``, ``c``.
fma32 = _fma(types.float32, ir.FloatType(), "llvm.fma.f32")
#: ``RN64(a*b + c)`` for float64 ``a``, ``b``, ``c``.
fma64 = _fma(types.float64, ir.DoubleType(), "llvm.fma.f64")


@intrinsic
def sqrt32(typingctx, a):
    """Correctly rounded float32 square root (libm's ``sqrtf`` sets errno; this does not)."""
    if a != types.float32:
        return None

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.FloatType(), [ir.FloatType()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.sqrt.f32")
        return builder.call(fn, args)

    return types.float32(types.float32), codegen


def _bitcast(src, dst, llvm_dst):
    @intrinsic
    def cast(typingctx, value):
        if value != src:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_dst)

        return dst(src), codegen
    return cast


#: float32 bits as int32, and back.
f32_bits = _bitcast(types.float32, types.int32, ir.IntType(32))
f32_from_bits = _bitcast(types.int32, types.float32, ir.FloatType())
#: float64 bits as int64, and back.
f64_bits = _bitcast(types.float64, types.int64, ir.IntType(64))
f64_from_bits = _bitcast(types.int64, types.float64, ir.DoubleType())
