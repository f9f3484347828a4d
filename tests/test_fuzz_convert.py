"""Fuzzing the other inputs users hand over: conversion documents (``convert DOC --to
caffe``) and reference blob dumps (``verify --blobs`` with .binaryproto files).

Documents written by ``caffe-lrn convert`` get values replaced by every JSON type and odd
numbers, keys deleted and added; BlobProto dumps are mutated and truncated. The only
failures allowed are caffe_lrn's own errors, and at the CLI one line with exit 1.
"""
import copy
import json
import pathlib
import tempfile

import numpy as np
import pytest
from hypothesis import strategies as st

from caffe_lrn.io.reference import blob_to_proto, read_binaryproto
from caffe_lrn.convert.document import build_document, layers_from_document
from caffe_lrn.convert.emit_prototxt import emit_prototxt
from caffe_lrn.errors import BlobError, ConversionError, InputFileError
from caffe_lrn.nets.loader import load_net
from caffe_lrn.nets.lrn_layers import lrn_layers
from conftest import BVLC_NETS
from fuzzing import assert_one_line_error, fuzz_tests, run_cli, typed_or_ok

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

DOCUMENTS = []
for _net in ("alexnet_deploy.prototxt", "cifar10_full_deploy.prototxt"):
    _layers = lrn_layers(load_net(BVLC_NETS / _net))
    for _to in ("tf", "torch", "onnx"):
        DOCUMENTS.append(json.loads(json.dumps(build_document(_net, _layers, _to))))

JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
    st.sampled_from(["tf", "torch", "onnx", "caffe", "WITHIN_CHANNEL", "ACROSS_CHANNELS",
                     "caffe-lrn-convert", 0, -1, 2, 4, 1e39, -0.0, 5e-324, [], {}, [1, 2],
                     {"framework": "tf"}, {"depth_radius": 2}]).map(copy.deepcopy),
)  # deepcopy: a later mutation must not edit the strategy's own list or dict


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


@st.composite
def mutated_documents(draw):
    document = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(document) if p]
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["op", "extra", "size", "k", "bias"]))] = \
                draw(JSON_VALUES)
    return document


def check_document(document):
    records, error = typed_or_ok(layers_from_document, document, "doc.json")
    if error is not None:
        assert isinstance(error, (InputFileError, ConversionError))
        return
    text = emit_prototxt(records, header=["fuzz"])
    assert text.count("type: \"LRN\"") == len(records)
    for record in records:
        assert record.params.local_size % 2 == 1


test_documents_quick, test_documents_long = fuzz_tests(
    check_document, mutated_documents(), quick=150, long=1500)


def check_document_cli(document):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "doc.json"
        # allow_nan: NaN and Infinity are what a careless writer produces too.
        path.write_text(json.dumps(document, allow_nan=True))
        code, out, err = run_cli(["convert", str(path), "--to", "caffe"])
        if code != 0:
            assert_one_line_error(code, err)
        else:
            assert "LRN" in out


test_document_cli_quick, test_document_cli_long = fuzz_tests(
    check_document_cli, mutated_documents(), quick=40, long=400)


BLOB_SEEDS = [
    blob_to_proto(np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)).SerializeToString(),
    blob_to_proto(np.arange(24, dtype=np.float64).reshape(2, 3, 4, 1)).SerializeToString(),
    blob_to_proto(np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3),
                  legacy_shape=True).SerializeToString(),
]


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


@st.composite
def mutated_blobs(draw):
    data = draw(st.sampled_from(BLOB_SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["byte", "truncate", "field", "insert"]))
        if kind == "byte" and data:
            i = min(i, len(data) - 1)
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
        elif kind == "truncate":
            data = data[:i]
        elif kind == "field":  # a shape dim, a legacy size, or a packed run of values
            tag = draw(st.sampled_from([7 << 3 | 2, 1 << 3 | 0, 2 << 3 | 0, 5 << 3 | 2,
                                        8 << 3 | 2, 9 << 3 | 2]))
            value = draw(st.sampled_from([0, 1, 3, 2**31, 2**63, 2**64 - 1]))
            payload = _varint(value) if tag & 7 == 0 else (
                _varint(len(_varint(value)) + 1) + b"\x08" + _varint(value))
            data = data[:i] + _varint(tag) + payload + data[i:]
        else:
            data = data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    return data


def check_blob(data):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "conv1.binaryproto"
        path.write_bytes(data)
        blob, error = typed_or_ok(read_binaryproto, path)
        if error is not None:
            assert isinstance(error, (InputFileError, BlobError))
        else:
            assert blob.dtype in (np.float32, np.float64)


test_blobs_quick, test_blobs_long = fuzz_tests(check_blob, mutated_blobs(), long=1500)


def test_negative_dimension_is_refused(tmp_path):
    proto = blob_to_proto(np.zeros((1, 2, 3, 4), np.float32))
    proto.shape.dim[1] = -1
    proto.ClearField("data")
    (tmp_path / "x.binaryproto").write_bytes(proto.SerializeToString())
    with pytest.raises(BlobError, match=r"shape \(1, -1, 3, 4\) has a negative dimension"):
        read_binaryproto(tmp_path / "x.binaryproto")


def test_float_fields_survive_the_round_trip():
    # Control for the mutations above: an unmutated seed reads back its values.
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "b.binaryproto"
        path.write_bytes(BLOB_SEEDS[0])
        assert np.array_equal(read_binaryproto(path),
                              np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4))
