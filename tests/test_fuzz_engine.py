"""Fuzzing the engine and ``caffe-lrn run``: any array in, a typed error or Caffe's bits out.

Blobs of ranks 0-6 (zero-sized axes included), every kind of dtype (ints, bool, float16,
complex, object, big-endian floats) and memory layout (Fortran order, strided, negative
strides, read-only) go through ``LRNLayer`` forward and backward. The rules checked:

- rank other than 4, or a dtype other than float32/float64 (either byte order): BlobError,
  and only then;
- otherwise the top and bottom_diff equal, bit for bit, those computed from C-contiguous
  native copies of the same values, and the inputs are never modified;
- parameters anywhere in Caffe's range (odd local_size up to INT_MAX for ACROSS_CHANNELS,
  extreme float32 alpha/beta/k, -0.0) run without an untyped error or a NumPy warning, give
  the same bits image by image as for the whole batch, and the O(C) first window equals
  Caffe's walk over every padding channel.
"""
import pathlib
import tempfile

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from caffe_lrn import LRNLayer
from caffe_lrn.errors import BlobError, CaffeLRNError, ParameterError
from caffe_lrn.layers import lrn as lrn_module
from caffe_lrn.layers.pooling import ave_pool_backward, ave_pool_forward
from caffe_lrn.numerics.caffe_math import axpy, fma32
from caffe_lrn.params import LRNParams
from fuzzing import assert_one_line_error, fuzz_tests, run_cli, typed_or_ok

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FLOAT_DTYPES = ["<f4", "<f8", ">f4", ">f8"]
OTHER_DTYPES = ["<f2", "|i1", "<i4", "<i8", "|u1", "|b1", "<c8", "<c16", "O"]
SPECIAL = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e20, -1e20, 1e19, 3e38, 1e-40, -1e-45, 1.0]


def _narrow(dtype, value):
    with np.errstate(over="ignore"):  # 3e38 as float16 is inf: that is the point
        return float(dtype.type(value))


def _values(dtype):
    if dtype.kind == "f":
        width = 32 if dtype.itemsize == 4 else (16 if dtype.itemsize == 2 else 64)
        return st.one_of(st.floats(width=width, allow_nan=True, allow_infinity=True),
                         st.sampled_from(SPECIAL).map(lambda v: _narrow(dtype, v)))
    if dtype.kind == "c":
        return st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=1e30)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind == "O":
        return st.floats(allow_nan=True)
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


@st.composite
def shapes(draw):
    if draw(st.integers(0, 3)) == 0:  # any rank 0-6
        return tuple(draw(st.lists(st.integers(0, 4), max_size=6)))
    return tuple(draw(st.lists(st.integers(0, 5), min_size=4, max_size=4)))


@st.composite
def layouts(draw, array):
    """The same values in another memory layout: a view or copy the engine must not mind."""
    kind = draw(st.sampled_from(["c", "fortran", "strided", "reversed", "readonly",
                                 "transposed"]))
    if kind == "fortran":
        return np.asfortranarray(array)
    if kind == "strided" and array.ndim:
        # Every other element of a buffer twice as long along the first axis.
        wide = np.repeat(array, 2, axis=0) if array.shape[0] else array
        return wide[::2] if array.shape[0] else wide
    if kind == "reversed" and array.ndim:
        flipped = np.ascontiguousarray(array[::-1, ...])
        return flipped[::-1, ...]  # negative strides, original order of values
    if kind == "readonly":
        view = array.view()
        view.flags.writeable = False
        return view
    if kind == "transposed" and array.ndim >= 2:
        order = list(range(array.ndim))[::-1]
        return np.ascontiguousarray(array.transpose(order)).transpose(order)
    return array


@st.composite
def blobs(draw, dtype_names=FLOAT_DTYPES + OTHER_DTYPES, shape=None):
    dtype = np.dtype(draw(st.sampled_from(dtype_names)))
    shape = shape if shape is not None else draw(shapes())
    if dtype.kind == "O":
        array = np.empty(shape, dtype=object)
        for index in np.ndindex(shape):
            array[index] = draw(st.floats(allow_nan=True))
    else:
        array = draw(hnp.arrays(dtype, shape, elements=_values(dtype)))
    return draw(layouts(array))


@st.composite
def params(draw, max_size=41):
    region = draw(st.sampled_from(["ACROSS_CHANNELS", "WITHIN_CHANNEL"]))
    size = draw(st.one_of(st.integers(0, max_size // 2).map(lambda h: 2 * h + 1),
                          st.sampled_from([2**31 - 1, 46339, 99999] if region ==
                                          "ACROSS_CHANNELS" else [46339, 10001])))
    value = st.one_of(st.floats(width=32, allow_nan=False, allow_infinity=False),
                      st.sampled_from([0.0, -0.0, 1e-4, 0.75, 1.0, 2.0, -1.0, 3.4028235e38,
                                       1e-45, 5e-5]))
    return LRNParams(local_size=size, alpha=draw(value), beta=draw(value),
                     norm_region=region, k=draw(value))


def _bits(array):
    """The array's values as raw bits in a C-contiguous native buffer (NaN payloads kept)."""
    array = np.ascontiguousarray(array)
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    return array.view(np.uint64 if array.dtype.itemsize == 8 else np.uint32)


def _same_bits(a, b):
    """Bit for bit, NaN against NaN whatever its sign and payload.

    NumPy's SIMD loops and their scalar tails pick different operands' NaNs (0 * inf gives
    the default -NaN, NaN * NaN the first operand's), so a NaN's sign bit can depend on
    where an element falls in a vector; Caffe's pattern (which elements are NaN) cannot.
    """
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    return (np.array_equal(nan_a, nan_b)
            and np.array_equal(_bits(a)[~nan_a], _bits(b)[~nan_b]))


def _snapshot(array):
    return np.array(array, copy=True), array.dtype, array.shape, array.strides


def _unchanged(array, snapshot):
    copy, dtype, shape, strides = snapshot
    if (array.dtype, array.shape, array.strides) != (dtype, shape, strides):
        return False
    if dtype.kind in "fc":
        return np.ascontiguousarray(array).tobytes() == np.ascontiguousarray(copy).tobytes()
    if dtype.kind == "O":
        return all(a is b or (a != a and b != b) or a == b
                   for a, b in zip(array.ravel(), copy.ravel()))
    return np.array_equal(array, copy)


def _usable(array):
    return array.ndim == 4 and array.dtype.kind == "f" and array.dtype.itemsize in (4, 8)


def check_forward_backward(bottom, top_diff_seed, lrn_params):
    """Forward and backward on ``bottom`` as given vs on its C-contiguous native copy."""
    before = _snapshot(bottom)
    layer = LRNLayer(lrn_params)
    top, error = typed_or_ok(layer.forward, bottom)
    assert _unchanged(bottom, before), "forward modified its bottom"
    if not _usable(bottom):
        assert isinstance(error, BlobError), f"{bottom.dtype} {bottom.shape}: {error!r}"
        return
    assert error is None, error
    native = np.ascontiguousarray(bottom).astype(bottom.dtype.newbyteorder("="))
    reference_layer = LRNLayer(lrn_params)
    expected = reference_layer.forward(native)
    assert top.dtype == native.dtype and top.dtype.isnative
    assert _same_bits(top, expected)

    rng = np.random.default_rng(top_diff_seed)
    top_diff = rng.standard_normal(top.shape).astype(top.dtype)
    shown = np.asfortranarray(top_diff) if top_diff_seed % 2 else top_diff[..., ::-1][..., ::-1]
    diff_before = _snapshot(shown)
    bottom_diff = layer.backward(shown)
    assert _unchanged(shown, diff_before), "backward modified its top diff"
    assert _unchanged(bottom, before), "backward modified the bottom"
    assert _same_bits(bottom_diff, reference_layer.backward(top_diff))


test_any_blob_quick, test_any_blob_long = fuzz_tests(
    check_forward_backward, blobs(), st.integers(0, 2**16),
    st.just(LRNParams(local_size=3, alpha=2.0, beta=0.75, k=1.0)), quick=200, long=2500)
test_float_blob_params_quick, test_float_blob_params_long = fuzz_tests(
    check_forward_backward, blobs(FLOAT_DTYPES, None), st.integers(0, 2**16), params(),
    quick=150, long=2000)


def check_images_independent(bottom, lrn_params):
    """The whole batch gives the bits of each image run alone (the chunking invariant)."""
    whole = LRNLayer(lrn_params).forward(bottom)
    for n in range(bottom.shape[0]):
        alone = LRNLayer(lrn_params).forward(bottom[n:n + 1])
        assert _same_bits(whole[n:n + 1], alone)


test_images_independent_quick, test_images_independent_long = fuzz_tests(
    check_images_independent,
    blobs(["<f4", "<f8"], shape=(3, 4, 3, 2)), params(), quick=60, long=500)


def _caffe_first_window(bottom, lrn_params):
    """Caffe's first channel of scale: an axpy for every one of the n padded channels."""
    dtype = bottom.dtype.type
    alpha_over_size = dtype(lrn_params.alpha) / dtype(lrn_params.local_size)
    squares = np.square(bottom)
    first = np.full(bottom.shape[:1] + bottom.shape[2:], dtype(lrn_params.k), bottom.dtype)
    zeros = np.zeros_like(first)
    for c in range(lrn_params.local_size):
        real = c - lrn_params.pre_pad
        axpy(alpha_over_size, squares[:, real] if 0 <= real < bottom.shape[1] else zeros,
             first)
    return first


def check_first_window(bottom, lrn_params):
    scale = np.empty_like(bottom)
    with np.errstate(all="ignore"):
        lrn_module.across_scale(bottom, lrn_params, scale)
        expected = _caffe_first_window(bottom, lrn_params)
    assert _same_bits(scale[:, 0], expected)


test_first_window_quick, test_first_window_long = fuzz_tests(
    check_first_window, blobs(["<f4", "<f8"], shape=(2, 3, 2, 2)),
    params(max_size=61).filter(lambda p: p.local_size < 100).map(
        lambda p: LRNParams(**{**p.as_dict(), "norm_region": "ACROSS_CHANNELS"})),
    quick=100, long=1000)


def check_fma_layouts(a, x, x_layout, y_layout):
    """fma32 (the single-rounding axpy) gives the same bits whatever the arrays' layouts."""
    y = (x[::-1] * np.float32(0.5)).copy()
    with np.errstate(over="ignore", invalid="ignore"):
        expected = fma32(a, np.ascontiguousarray(x), np.ascontiguousarray(y))
        got = fma32(a, _layout(x, x_layout), _layout(y, y_layout))
    assert _same_bits(got, expected)


def _layout(array, kind):
    if kind == "fortran":
        return np.asfortranarray(array)
    if kind == "reversed":
        return np.ascontiguousarray(array[::-1, ::-1])[::-1, ::-1]
    if kind == "strided":
        return np.repeat(array, 2, axis=1)[:, ::2]
    return array


# Values near the double-rounding cases the fma emulation corrects: float32 midpoints of
# products, subnormals, and the smallest subnormal as the addend.
FMA_VALUES = st.one_of(st.floats(width=32, allow_nan=False, allow_infinity=False),
                       st.sampled_from([1.5, 2.25, 1e-45, -1e-45, 1.1754942e-38, 3.0, 0.0]))
test_fma_layouts_quick, test_fma_layouts_long = fuzz_tests(
    check_fma_layouts, st.one_of(st.floats(width=32, allow_nan=False, allow_infinity=False,
                                           min_value=-2.0**100, max_value=2.0**100),
                                 st.sampled_from([8.474338e14, 0.5, 3.0, -1e-4])),
    hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 4)),
               elements=FMA_VALUES),
    st.sampled_from(["c", "fortran", "reversed", "strided"]),
    st.sampled_from(["c", "fortran", "reversed", "strided"]), quick=150, long=1500)


def test_fma_fortran_order_keeps_its_corrections():
    # a*x is a float32 midpoint and y the smallest subnormal: the sum must round up. The
    # correction was written to a copy for Fortran-ordered arrays and lost (1 ULP off).
    a = np.float32(3.643965359049933e+16) / np.float32(43)
    x = np.full((2, 2, 2), 2.25, np.float32)
    y = np.full((2, 2, 2), 1e-45, np.float32)
    expected = fma32(a, x, y)
    assert (expected.view(np.uint32) == 1490601225).all()
    assert _same_bits(fma32(a, np.asfortranarray(x), np.asfortranarray(y)), expected)


def _pool_every_offset(bottom, kernel, pad):
    """AVE pooling (stride 1) with a loop over every kernel offset, as Caffe's window."""
    height, width = bottom.shape[-2:]
    top = np.zeros_like(bottom)
    for i in range(kernel):
        for j in range(kernel):
            for ph in range(height):
                h = ph - pad + i
                if not 0 <= h < height:
                    continue
                for pw in range(width):
                    w = pw - pad + j
                    if 0 <= w < width:
                        top[..., ph, pw] += bottom[..., h, w]
    return top / bottom.dtype.type(kernel * kernel)


def check_pooling_offsets(bottom, half):
    kernel, pad = 2 * half + 1, half
    got = ave_pool_forward(bottom, (kernel, kernel), (1, 1), (pad, pad))
    assert _same_bits(got, _pool_every_offset(bottom, kernel, pad))
    back = ave_pool_backward(bottom, bottom.shape, (kernel, kernel), (1, 1), (pad, pad))
    assert back.shape == bottom.shape


test_pooling_offsets_quick, test_pooling_offsets_long = fuzz_tests(
    check_pooling_offsets,
    hnp.arrays(np.float32, st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 4),
                                     st.integers(1, 4)),
               elements=st.floats(-1e3, 1e3, width=32)),
    st.integers(0, 5), quick=60, long=400)


# -- caffe-lrn run on random files -------------------------------------------------------------

LRN_TEXTS = st.one_of(
    st.sampled_from(["local_size: 3", "local_size: 5 alpha: 0.0001 beta: 0.75",
                     "local_size: 3 norm_region: WITHIN_CHANNEL", "local_size: 1 k: 2",
                     "local_size: 4", "alpha: nan", "local_size: 2147483647",
                     "local_size: 2147483649", "norm_region: WITHIN_CHANNEL local_size: 99999",
                     "beta: -0.0 k: -0.0", "lrn_param { local_size: 3 }", "", "}{",
                     "local_size: 3 local_size: 5"]),
    st.text(max_size=20))


def check_run_cli(bottom, lrn_text, with_diff, npy_output):
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        np.save(folder / "x.npy", bottom, allow_pickle=bottom.dtype.kind == "O")
        argv = ["run", "--lrn-param", lrn_text, "--input", str(folder / "x.npy")]
        if with_diff:
            np.save(folder / "dy.npy", np.ones(bottom.shape, np.float32))
            argv += ["--top-diff", str(folder / "dy.npy")]
        output = folder / ("top.npy" if npy_output else "out.npz")
        inputs = {p.name: p.read_bytes() for p in folder.iterdir()}
        code, out, err = run_cli(argv + ["-o", str(output), "--max-memory", "1K"])
        assert {p.name: p.read_bytes() for p in folder.iterdir() if p != output} == inputs
        if code == 2:  # usage: an .npy output with a top diff
            assert npy_output and with_diff and not output.exists()
            return
        if code != 0:
            assert_one_line_error(code, err)
            assert not output.exists()
            return
        assert err == ""
        params = LRNParams.from_text(lrn_text)
        assert _usable(bottom)
        expected = LRNLayer(params).forward(np.ascontiguousarray(bottom))
        top = (np.load(output) if npy_output else np.load(output)["top"])
        assert _same_bits(top, expected)


test_run_cli_quick, test_run_cli_long = fuzz_tests(
    check_run_cli, blobs(), LRN_TEXTS, st.booleans(), st.booleans(), quick=60, long=800)


def test_empty_blobs_give_empty_results():
    for region in ("ACROSS_CHANNELS", "WITHIN_CHANNEL"):
        for shape in [(0, 3, 5, 4), (2, 0, 5, 4), (2, 3, 0, 4), (2, 3, 5, 0), (0, 0, 0, 0)]:
            layer = LRNLayer(LRNParams(local_size=3, norm_region=region))
            top = layer.forward(np.zeros(shape, np.float32))
            bottom_diff = layer.backward(np.zeros(shape, np.float32))
            assert top.shape == bottom_diff.shape == shape
            assert top.dtype == bottom_diff.dtype == np.float32


def test_huge_local_size_runs_in_linear_time():
    # Caffe's int allows local_size up to 2**31 - 1 ACROSS_CHANNELS: the window then spans
    # every channel (scale = k + alpha/n * sum of all squares), computed in O(C).
    x = np.arange(1, 2 * 5 * 3 * 2 + 1, dtype=np.float32).reshape(2, 5, 3, 2)
    layer = LRNLayer(LRNParams(local_size=2**31 - 1, alpha=2.0**31 - 1, beta=1.0, k=1.0))
    top = layer.forward(x)
    bottom_diff = layer.backward(np.ones_like(top))
    assert np.isfinite(top).all() and np.isfinite(bottom_diff).all()
    expected = x / (1 + np.float32(2.0**31 - 1) / np.float32(2**31 - 1) * (x * x).sum(axis=1,
                                                                                  keepdims=True))
    assert np.allclose(top, expected, rtol=1e-5)
    with pytest.raises(ParameterError, match="wraps to -2147483647"):
        LRNParams(local_size=2**31 + 1)
    with pytest.raises(ParameterError, match="must be at most 46339"):
        LRNLayer(LRNParams(local_size=46341, norm_region="WITHIN_CHANNEL"))


def test_errors_are_project_errors():
    # The two refusals the table above relies on, with their messages.
    with pytest.raises(BlobError, match="Input must have 4 axes"):
        LRNLayer(LRNParams()).forward(np.zeros((2, 3), np.float32))
    with pytest.raises(BlobError, match="got dtype complex64"):
        LRNLayer(LRNParams()).forward(np.zeros((1, 2, 3, 4), np.complex64))
    assert issubclass(BlobError, CaffeLRNError)
