"""Fuzzing array files: mutated .npy/.npz bytes load as plain arrays or fail with InputFileError.

Header fields, magic bytes, lengths and data are mutated and truncated; zip archives get
members that are not arrays. Nothing may raise anything but caffe_lrn's own errors (no
MemoryError from a header that promises terabytes, no unpickling), and ``load_npy`` with
``mmap=True`` must give the same values as without.
"""
import io
import pathlib
import tempfile
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import strategies as st

from caffe_lrn.errors import InputFileError, OutputExistsError
from caffe_lrn.io.files import load_npy, load_npz, save_npz, write_text
from fuzzing import fuzz_tests, typed_or_ok

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

DTYPES = ["<f4", ">f4", "<f8", "<f2", "<i4", "|u1", "|b1", "<c8", "<i8"]


def _npy_bytes(array, version=None):
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array, allow_pickle=True)
    else:
        np.lib.format.write_array(buffer, array, version=version, allow_pickle=True)
    return buffer.getvalue()


@st.composite
def arrays(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    raw = draw(st.binary(min_size=int(np.prod(shape)) * dtype.itemsize,
                         max_size=int(np.prod(shape)) * dtype.itemsize))
    array = np.frombuffer(raw, dtype=dtype).reshape(shape)
    if draw(st.booleans()) and array.ndim >= 2:
        array = np.asfortranarray(array)
    return array


HEADER_PIECES = [b"'descr'", b"'shape'", b"'fortran_order'", b"True", b"False", b"(", b")",
                 b",", b"{", b"}", b"'|O'", b"'<f4'", b"'V8'", b"10000000000000", b"-1",
                 b"__import__('os')", b"\x00", b"\n", b"\x93NUMPY", b"PK\x03\x04"]


@st.composite
def mutated_npy(draw):
    array = draw(arrays())
    data = _npy_bytes(array, version=draw(st.sampled_from([None, (1, 0), (2, 0), (3, 0)])))
    for _ in range(draw(st.integers(1, 3))):
        n = len(data)
        kind = draw(st.sampled_from(["byte", "truncate", "insert", "delete", "header"]))
        i = draw(st.integers(0, max(n - 1, 0)))
        if kind == "byte" and n:
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
        elif kind == "truncate":
            data = data[:i]
        elif kind == "insert":
            data = data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
        elif kind == "delete":
            data = data[:i] + data[i + draw(st.integers(1, 8)):]
        else:  # replace a piece inside the header text
            end = min(n, 128)
            i = draw(st.integers(0, end))
            data = data[:i] + draw(st.sampled_from(HEADER_PIECES)) + data[i + 2:]
    return data


def _object_npy():
    return _npy_bytes(np.array([{"a": 1}, None], dtype=object))


def check_npy(data):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "blob.npy"
        path.write_bytes(data)
        plain, error = typed_or_ok(load_npy, path)
        mapped, mapped_error = typed_or_ok(load_npy, path, mmap=True)
        if error is not None:
            assert isinstance(error, InputFileError)
        if plain is not None:
            assert isinstance(plain, np.ndarray) and not plain.dtype.hasobject
            if mapped is not None:
                assert mapped.shape == plain.shape and mapped.dtype == plain.dtype
                assert np.array_equal(np.asarray(mapped), plain, equal_nan=plain.dtype.kind
                                      in "fc")
                assert not mapped.flags.writeable
                del mapped
        elif mapped_error is not None:
            assert isinstance(mapped_error, InputFileError)
        _, npz_error = typed_or_ok(load_npz, path)
        assert isinstance(npz_error, InputFileError)  # a .npy is never an .npz
        assert path.read_bytes() == data


test_npy_quick, test_npy_long = fuzz_tests(check_npy, mutated_npy(), long=1500)


@st.composite
def npz_archives(draw):
    buffer = io.BytesIO()
    members = draw(st.lists(st.tuples(
        st.text("abcxyz_/", min_size=1, max_size=6),
        st.one_of(mutated_npy(), arrays().map(_npy_bytes), st.just(_object_npy()),
                  st.binary(max_size=30))), max_size=3))
    # Duplicate member names are allowed: a damaged or hand-made archive can have them.
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore", UserWarning)
        for name, data in members:
            if draw(st.booleans()):
                name += ".npy"
            archive.writestr(name, data)
    data = buffer.getvalue()
    if draw(st.booleans()) and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
    return data


def check_npz(data):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "blobs.npz"
        path.write_bytes(data)
        blobs, error = typed_or_ok(load_npz, path)
        if error is not None:
            assert isinstance(error, InputFileError)
        else:
            for value in blobs.values():
                assert isinstance(value, np.ndarray) and not value.dtype.hasobject
        _, npy_error = typed_or_ok(load_npy, path)
        assert isinstance(npy_error, InputFileError)
        assert path.read_bytes() == data


test_npz_quick, test_npz_long = fuzz_tests(check_npz, npz_archives(), long=1000)


def check_no_overwrite(existing, force):
    """An existing output survives every writer unless ``force``; with it, it is replaced."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "out.npz"
        path.write_bytes(existing)
        for write in (lambda: save_npz(path, {"a": np.arange(3)}, force=force),
                      lambda: write_text(path, "text", force=force)):
            before = path.read_bytes()
            _, error = typed_or_ok(write)
            if force:
                assert error is None and path.read_bytes() != before or before == b"text"
            else:
                assert isinstance(error, OutputExistsError)
                assert path.read_bytes() == existing
        assert sorted(p.name for p in pathlib.Path(folder).iterdir()) == ["out.npz"]


test_no_overwrite_quick, test_no_overwrite_long = fuzz_tests(
    check_no_overwrite, st.binary(max_size=64), st.booleans(), quick=40, long=200)


def test_header_promising_terabytes_is_refused_without_allocating(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
    path = tmp_path / "liar.npy"
    path.write_bytes(header.getvalue() + bytes(16))
    for mmap in (False, True):
        with pytest.raises(InputFileError, match=r"truncated: .*\(1000000, 1000000\)"):
            load_npy(path, mmap=mmap)
    with zipfile.ZipFile(tmp_path / "liar.npz", "w") as archive:
        archive.writestr("x.npy", path.read_bytes())
    with pytest.raises(InputFileError, match=r"liar.npz\[x\]: truncated"):
        load_npz(tmp_path / "liar.npz")


def test_pickled_object_arrays_are_refused(tmp_path):
    (tmp_path / "obj.npy").write_bytes(_object_npy())
    np.savez(tmp_path / "obj.npz", ok=np.zeros(2), bad=np.array([None, 1], dtype=object))
    for call in (lambda: load_npy(tmp_path / "obj.npy"),
                 lambda: load_npy(tmp_path / "obj.npy", mmap=True),
                 lambda: load_npz(tmp_path / "obj.npz")):
        with pytest.raises(InputFileError, match="never unpickles"):
            call()
