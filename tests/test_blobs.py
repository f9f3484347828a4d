"""Reading reference blobs: npz, npy directories (escaped names), binaryproto directories."""
import numpy as np
import pytest

from caffe_lrn.io.reference import (
    blob_from_proto, blob_to_proto, escape_name, open_blobs, read_binaryproto, unescape_name,
)
from caffe_lrn.errors import BlobError, InputFileError
from caffe_lrn.io.lazy import LazyBlob
from caffe_lrn.io.stream import read_images


def _blob(seed, shape=(2, 3, 5, 4), dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name, escaped", [
    ("pool1/norm1", "pool1%2Fnorm1"),
    ("a%b", "a%25b"),
    ("50%/x", "50%25%2Fx"),
    ("%2F", "%252F"),
    ("plain", "plain"),
])
def test_escape_round_trip(name, escaped):
    assert escape_name(name) == escaped
    assert unescape_name(escaped) == name


def test_unescape_reads_lower_case_and_keeps_other_percent_sequences():
    assert unescape_name("pool1%2fnorm1") == "pool1/norm1"
    assert unescape_name("a%41b%") == "a%41b%"


def test_npz_keys_raw_and_escaped(tmp_path):
    a, b = _blob(0), _blob(1)
    path = tmp_path / "ref.npz"
    np.savez(path, **{"pool1%2Fnorm1": a, "conv1": b})
    store = open_blobs(path)
    assert store.kind == "npz"
    assert store.names == ["conv1", "pool1/norm1"]
    np.testing.assert_array_equal(store.get("pool1/norm1"), a)
    # a raw '/' in a key is a name too
    path2 = tmp_path / "raw.npz"
    np.savez(path2, **{"pool1/norm1": a})
    assert open_blobs(path2).names == ["pool1/norm1"]


def test_npz_with_a_name_given_twice_is_refused(tmp_path):
    path = tmp_path / "ref.npz"
    np.savez(path, **{"pool1%2Fnorm1": _blob(0), "pool1/norm1": _blob(1)})
    with pytest.raises(InputFileError, match="'pool1/norm1' is given twice"):
        open_blobs(path)


def test_npy_directory_is_read_lazily_with_escaped_names(tmp_path):
    a = _blob(2)
    np.save(tmp_path / "pool1%2Fnorm1.npy", a)
    np.save(tmp_path / "pool1%2Fpool1.npy", _blob(3))
    (tmp_path / "notes.txt").write_text("ignored")
    store = open_blobs(tmp_path)
    assert store.kind == "npy-dir"
    assert store.names == ["pool1/norm1", "pool1/pool1"]
    got = store.get("pool1/norm1")
    # Read from the file a run of images at a time (no map: no address space for all of it).
    assert isinstance(got, LazyBlob) and got.shape == a.shape
    np.testing.assert_array_equal(read_images(got, 1, 2), a[1:2])
    np.testing.assert_array_equal(np.asarray(got), a)


def test_missing_blob_names_what_the_reference_has(tmp_path):
    np.save(tmp_path / "conv1.npy", _blob(0))
    store = open_blobs(tmp_path)
    with pytest.raises(BlobError, match=r"no blob 'norm1'; it has conv1"):
        store.get("norm1")


def test_bad_references_are_input_file_errors(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        open_blobs(tmp_path / "nothing.npz")
    with pytest.raises(InputFileError, match="no .npy or .binaryproto"):
        open_blobs(tmp_path)
    single = tmp_path / "x.npy"
    np.save(single, _blob(0))
    with pytest.raises(InputFileError, match="single .npy file has no blob names"):
        open_blobs(single)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="junk.npz"):
        open_blobs(junk)


def test_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    store = open_blobs(tmp_path)
    with pytest.raises(InputFileError, match="obj.npy"):
        store.get("obj")


# -- binaryproto ----------------------------------------------------------------------------

def test_blob_proto_round_trip_float32_and_float64():
    a = _blob(4)
    back = blob_from_proto(blob_to_proto(a))
    assert back.dtype == np.float32 and back.shape == a.shape
    np.testing.assert_array_equal(back, a)
    d = _blob(5, dtype=np.float64)
    back64 = blob_from_proto(blob_to_proto(d))
    assert back64.dtype == np.float64
    np.testing.assert_array_equal(back64, d)


def test_blob_proto_legacy_num_channels_height_width():
    a = _blob(6, shape=(3, 2, 4, 5))
    proto = blob_to_proto(a, legacy_shape=True)
    assert not proto.HasField("shape") and (proto.num, proto.width) == (3, 5)
    np.testing.assert_array_equal(blob_from_proto(proto), a)


def test_blob_proto_count_mismatch_is_explained():
    proto = blob_to_proto(_blob(7))
    del proto.data[-1]
    with pytest.raises(BlobError, match=r"shape \(2, 3, 5, 4\) needs 120 values, but the blob "
                                        r"holds 119"):
        blob_from_proto(proto)


def test_binaryproto_directory(tmp_path):
    a, b = _blob(8), _blob(9)
    (tmp_path / "pool1%2Fnorm1.binaryproto").write_bytes(
        blob_to_proto(a).SerializeToString())
    (tmp_path / "conv1.binaryproto").write_bytes(
        blob_to_proto(b, legacy_shape=True).SerializeToString())
    store = open_blobs(tmp_path)
    assert store.kind == "binaryproto-dir"
    assert store.names == ["conv1", "pool1/norm1"]
    np.testing.assert_array_equal(store.get("pool1/norm1"), a)
    np.testing.assert_array_equal(store.get("conv1"), b)


def test_corrupt_binaryproto_is_an_input_file_error(tmp_path):
    path = tmp_path / "x.binaryproto"
    path.write_bytes(b"\xff\xff\xff\xff")
    with pytest.raises(InputFileError, match="not a Caffe BlobProto"):
        read_binaryproto(path)
