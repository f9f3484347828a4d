"""The shortest decimal text of a float32: what a prototxt, a table or a JSON value should say.

A proto ``float`` field holds a float32, so ``alpha: 0.0001`` means float32(0.0001), which
prints in float64 as ``9.99999974738e-05``. The shortest decimal that reads back as the
same float32 is the one to show and to write.
"""
import numpy as np


def float32_text(value, positional=False):
    """The shortest decimal string that rounds to the same float32 as ``value``.

    NumPy finds the shortest float32 digits; Python's repr then lays them out (``0.0001``,
    ``5e-05``, ``1.0``): a decimal of at most 9 significant digits reads back from float64
    unchanged, so repr gives the same digits. ``positional``: never an exponent, no
    trailing ``.0`` (``0.00005``, ``1``), for readers that want plain decimals.
    """
    if positional:
        return np.format_float_positional(np.float32(value), unique=True, trim="-")
    digits = np.format_float_scientific(np.float32(value), unique=True)
    return repr(float(digits))
