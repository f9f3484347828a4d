"""Malformed inputs, one table: each gives a typed error in the API and, at the CLI, exit 1
with one line on stderr (``caffe-lrn: error: ...``) and no traceback.

Every case names its input (text and binary nets, lrn_param text, arrays, conversion
documents, output paths), the call that reads it through the API, the command line that
reads it through the CLI, the error class and a fragment of the message.
"""
import io
import json
import struct
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import caffe_lrn.nets.loader
from caffe_lrn import load_net, lrn_layers
from caffe_lrn.errors import (
    BlobError, CaffeLRNError, ConversionError, InputFileError, LayerNotFoundError,
    NetParseError, NetUpgradeError, OutputExistsError, ParameterError,
)
from caffe_lrn.io.files import load_npy, save_npz
from caffe_lrn.params import LRNParams
from caffe_lrn.schema import LayerParameter, NetParameter
from conftest import BVLC_NETS, EXAMPLES
from fuzzing import assert_one_line_error, run_cli

NET_HEAD = 'name: "n"\nlayer { name: "data" type: "Input" top: "data" ' \
           'input_param { shape { dim: 2 dim: 3 dim: 5 dim: 4 } } }\n'


def lrn_net(lrn_param="", extra=""):
    return (NET_HEAD + 'layer { name: "norm" type: "LRN" bottom: "data" top: "norm"'
            f"{extra} lrn_param {{ {lrn_param} }} }}\n")


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _binary_net(mutate=None, **lrn):
    net = NetParameter(name="n")
    layer = net.layer.add()
    layer.CopyFrom(LayerParameter(name="norm", type="LRN", bottom=["data"], top=["norm"]))
    for key, value in lrn.items():
        setattr(layer.lrn_param, key, value)
    data = net.SerializeToString()
    return mutate(data) if mutate else data


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _huge_header():
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": (10**5, 96, 300, 300)})
    return buffer.getvalue() + bytes(64)


@dataclass
class Case:
    """``files``: name -> bytes written to tmp_path; ``api``(paths) raises; ``argv``(paths)."""

    id: str
    files: dict
    api: Callable
    argv: Callable
    error: type
    fragment: str


def net_case(id, content, error, fragment, name="net.prototxt"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return Case(id, {name: data}, lambda p: lrn_layers(load_net(p[name])),
                lambda p: ["inspect", str(p[name])], error, fragment)


def param_case(id, text, error, fragment):
    return Case(id, {"x.npy": _npy(np.ones((2, 3, 5, 4), np.float32))},
                lambda p: LRNParams.from_text(text),
                lambda p: ["run", "--lrn-param", text, "--input", str(p["x.npy"]),
                           "-o", str(p["out.npz"])], error, fragment)


def run_layer(bottom_path, top_diff_path=None):
    from caffe_lrn import LRNLayer

    layer = LRNLayer(LRNParams(local_size=3))
    layer.forward(load_npy(bottom_path, mmap=True))
    if top_diff_path is not None:
        layer.backward(load_npy(top_diff_path, mmap=True))


def array_case(id, content, error, fragment, top_diff=None):
    files = {"x.npy": content if isinstance(content, bytes) else _npy(content)}
    extra = []
    if top_diff is not None:
        files["dy.npy"] = _npy(top_diff)
    def api(p):
        return run_layer(p["x.npy"], p["dy.npy"] if top_diff is not None else None)
    def argv(p):
        extra = ["--top-diff", str(p["dy.npy"])] if top_diff is not None else []
        return ["run", "--lrn-param", "local_size: 3", "--input", str(p["x.npy"]),
                *extra, "-o", str(p["out.npz"])]
    return Case(id, files, api, argv, error, fragment)


def document_case(id, document, error, fragment):
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    from caffe_lrn.convert.document import layers_from_document

    def api(p):
        from caffe_lrn.io.files import read_json

        return layers_from_document(read_json(p["doc.json"], "JSON conversion document"),
                                    source=str(p["doc.json"]))
    return Case(id, {"doc.json": data}, api,
                lambda p: ["convert", str(p["doc.json"]), "--to", "caffe"], error, fragment)


def _document(**target_params):
    entry = {"name": "norm", "bottom": "data", "top": "norm",
             "target": {"framework": "tf", "op": "tf.nn.local_response_normalization",
                        "params": {"depth_radius": 2, "bias": 1.0, "alpha": 2e-5,
                                   "beta": 0.75, **target_params}}}
    return {"format": "caffe-lrn-convert", "version": 1, "source": "x", "to": "tf",
            "layers": [entry]}


CAFFEMODEL = (EXAMPLES / "cifar10_full.caffemodel").read_bytes()
GOOD_X = np.ones((2, 3, 5, 4), np.float32)

CASES = [
    # -- text nets
    net_case("text-unknown-field", lrn_net("locl_size: 3"), NetParseError,
             'LRNParameter has no field named "locl_size"'),
    net_case("text-unclosed-brace", lrn_net("local_size: 3")[:-3], NetParseError,
             "unexpected end of input"),
    net_case("text-bad-enum", lrn_net("norm_region: ACROSS"), NetParseError,
             "NormRegion has no value named ACROSS"),
    net_case("text-enum-number", lrn_net("norm_region: 7"), NetParseError,
             "NormRegion has no value with number 7"),
    net_case("text-fractional-size", lrn_net("local_size: 3.5"), NetParseError,
             "could not parse integer: 3.5"),
    net_case("text-size-beyond-uint32", lrn_net("local_size: 4294967297"), NetParseError,
             "out of range"),
    net_case("text-bad-float", lrn_net("alpha: 1e-4x"), NetParseError,
             "could not parse float: 1e-4x"),
    net_case("text-missing-colon", lrn_net("local_size 3"), NetParseError, 'expected ":"'),
    net_case("text-unterminated-string", 'name: "n\nlayer { }\n', NetParseError,
             "string missing ending quote"),
    net_case("text-bad-escape", 'name: "\\x"\n', NetParseError, "escape"),
    net_case("text-extra-brace", lrn_net() + "}\n", NetParseError, 'unexpected "}"'),
    net_case("text-latin1-comment", b"# caf\xe9\n" + lrn_net().encode(), NetParseError,
             "1:6: not UTF-8 text: byte 0xe9"),
    net_case("text-deep-nesting", "layer { lrn_param " + "{ " * 50_000, NetParseError,
             "expected identifier or number"),
    net_case("text-even-local-size", lrn_net("local_size: 4"), ParameterError,
             "LRN only supports odd values for local_size, got local_size 4"),
    net_case("text-zero-local-size", lrn_net("local_size: 0"), ParameterError,
             "odd values for local_size, got local_size 0"),
    net_case("text-nan-alpha", lrn_net("alpha: nan"), ParameterError,
             "alpha must be finite, got nan"),
    net_case("text-inf-beta", lrn_net("beta: -inf"), ParameterError,
             "beta must be finite, got -inf"),
    net_case("text-two-bottoms", lrn_net(extra=' bottom: "data"'), NetParseError,
             "must have exactly one bottom and one top, has 2 bottom(s)"),
    net_case("text-layer-and-layers", lrn_net() + 'layers { name: "old" type: RELU }\n',
             NetUpgradeError, "both 'layer' and 'layers'"),
    net_case("text-v0-unknown-type",
             'input: "data"\nlayers { layer { name: "x" type: "frobnicate" } '
             'bottom: "data" top: "x" }\n', NetUpgradeError,
             "Unknown layer name: frobnicate"),
    net_case("file-empty", b"", InputFileError, "file is empty, not a net"),
    net_case("file-blank", b"  \n\t\n", InputFileError, "file is empty, not a net"),
    Case("file-missing", {}, lambda p: load_net(p["tmp"] / "absent.prototxt"),
         lambda p: ["inspect", str(p["tmp"] / "absent.prototxt")], InputFileError,
         "absent.prototxt: no such file"),
    Case("file-directory", {}, lambda p: load_net(p["tmp"]),
         lambda p: ["inspect", str(p["tmp"])], InputFileError,
         "is a directory, not a net file"),
    # -- binary nets
    net_case("binary-truncated", CAFFEMODEL[:5000], NetParseError,
             "truncated data?", name="net.caffemodel"),
    net_case("binary-field-number-0", b"\x00\x01" + CAFFEMODEL, NetParseError,
             "at byte 0: not a valid binary NetParameter: invalid tag: field number 0",
             name="net.caffemodel"),
    net_case("binary-bad-wire-type-top", bytes([0x0f]) + CAFFEMODEL, NetParseError,
             "invalid wire type 7", name="net.caffemodel"),
    net_case("binary-name-not-utf8",
             _binary_net(lambda d: d.replace(b"norm", b"n\xffrm", 1)), NetParseError,
             "string field layer[0].name is not valid UTF-8", name="net.caffemodel"),
    net_case("binary-not-a-net", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), NetParseError,
             "not a", name="net.caffemodel"),
    net_case("binary-deep-groups",
             _varint(1000 << 3 | 3) * 5000 + _varint(1000 << 3 | 4) * 5000, NetParseError,
             "nested deeper than 100 levels", name="net.caffemodel"),
    net_case("binary-length-over-2gib", _varint(100 << 3 | 2) + _varint(2**40) + b"xx",
             NetParseError, "exceeds 2 GiB", name="net.caffemodel"),
    net_case("binary-even-local-size", _binary_net(local_size=6), ParameterError,
             "got local_size 6", name="net.caffemodel"),
    net_case("binary-nan-k", _binary_net(k=float("nan")), ParameterError,
             "k must be finite", name="net.caffemodel"),
    net_case("binary-two-tops", _binary_net(lambda d: d + _varint(100 << 3 | 2) + b"\x0e"
                                            + LayerParameter(type="LRN", bottom=["a"],
                                                             top=["b", "c"]).SerializeToString()),
             NetParseError, "has 1 bottom(s) ['a'] and 2 top(s) ['b', 'c']",
             name="net.caffemodel"),
    # -- lrn_param text (run --lrn-param)
    param_case("param-even-size", "local_size: 4", ParameterError,
               "LRN only supports odd values for local_size, got local_size 4"),
    param_case("param-nan-alpha", "alpha: nan", ParameterError, "alpha must be finite"),
    param_case("param-unknown-region", "norm_region: SIDEWAYS", NetParseError,
               "NormRegion has no value named SIDEWAYS"),
    param_case("param-negative-size", "local_size: -1", NetParseError, "out of range"),
    param_case("param-unknown-field", "size: 3", NetParseError,
               'LRNParameter has no field named "size"'),
    # -- arrays (run --input / --top-diff)
    array_case("array-pickled-objects", np.array([None, {"a": 1}], dtype=object),
               InputFileError, "never unpickles"),
    array_case("array-truncated", _npy(GOOD_X)[:-7], InputFileError, "truncated"),
    array_case("array-header-lies", _huge_header(), InputFileError,
               "truncated: its header declares shape (100000, 96, 300, 300)"),
    array_case("array-not-npy", b"1,2,3\n4,5,6\n", InputFileError,
               "not a .npy file"),
    array_case("array-is-npz", b"PK\x05\x06" + bytes(18), InputFileError,
               "is an .npz archive"),
    array_case("array-3d", np.ones((3, 5, 4), np.float32), BlobError,
               "Input must have 4 axes"),
    array_case("array-5d", np.ones((1, 2, 3, 5, 4), np.float32), BlobError,
               "Input must have 4 axes"),
    array_case("array-int32", np.ones((2, 3, 5, 4), np.int32), BlobError, "int32"),
    array_case("array-complex", np.ones((2, 3, 5, 4), np.complex64), BlobError,
               "complex64"),
    array_case("array-top-diff-shape", GOOD_X, BlobError, "top_diff shape (2, 3, 4, 5)",
               top_diff=np.ones((2, 3, 4, 5), np.float32)),
    array_case("array-top-diff-dtype", GOOD_X, BlobError, "top_diff dtype float64",
               top_diff=np.ones((2, 3, 5, 4), np.float64)),
    # -- conversion documents (convert DOC --to caffe)
    document_case("document-not-json", b"{ not json", InputFileError,
                  "not a JSON conversion document"),
    document_case("document-wrong-format", {"format": "other"}, InputFileError,
                  "not a caffe-lrn conversion document"),
    document_case("document-missing-target",
                  {"format": "caffe-lrn-convert", "version": 1,
                   "layers": [{"name": "a", "bottom": "b", "top": "c"}]},
                  InputFileError, "missing 'target'"),
    document_case("document-negative-radius", _document(depth_radius=-1), ConversionError,
                  "depth_radius"),
]


def _output_cases():
    net = str(BVLC_NETS / "alexnet_deploy.prototxt")

    def exists(p):
        p["out.npz"].write_bytes(b"keep me")
        return p

    return [
        Case("output-exists", {"out.npz": b"keep me"},
             lambda p: save_npz(p["out.npz"], {"a": np.zeros(1)}),
             lambda p: ["upgrade", net, "-o", str(p["out.npz"])], OutputExistsError,
             "exists; pass --force to overwrite it"),
        Case("output-folder-missing", {},
             lambda p: save_npz(p["tmp"] / "no" / "out.npz", {"a": np.zeros(1)}),
             lambda p: ["upgrade", net, "-o", str(p["tmp"] / "no" / "out.prototxt")],
             InputFileError, "does not exist"),
        Case("layer-not-found", {"x.npy": _npy(GOOD_X)},
             lambda p: _find_layer(net, "norm3"),
             lambda p: ["run", net, "--layer", "norm3", "--input", str(p["x.npy"]), "-o",
                        str(p["out.npz"])], LayerNotFoundError,
             "no LRN layer named 'norm3'"),
        Case("layer-not-lrn", {"x.npy": _npy(GOOD_X)},
             lambda p: _find_layer(net, "conv1"),
             lambda p: ["run", net, "--layer", "conv1", "--input", str(p["x.npy"]), "-o",
                        str(p["out.npz"])], LayerNotFoundError,
             "layer 'conv1' has type 'Convolution', not 'LRN'"),
    ]


def _find_layer(net, name):
    from caffe_lrn.cli.run_cmd import find_layer

    return find_layer(net, name)


CASES += _output_cases()


def _paths(case, tmp_path):
    paths = {"tmp": tmp_path, "out.npz": tmp_path / "out.npz"}
    for name, data in case.files.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    return paths


def test_table_has_at_least_30_distinct_inputs():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 30
    inputs = [tuple(sorted(case.files.items())) for case in CASES if case.files]
    assert len(set(inputs)) >= 30


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_api_raises_typed_error(case, tmp_path):
    paths = _paths(case, tmp_path)
    with pytest.raises(case.error) as info:
        case.api(paths)
    assert isinstance(info.value, CaffeLRNError)
    assert case.fragment in str(info.value)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_cli_exit_1_one_line(case, tmp_path):
    paths = _paths(case, tmp_path)
    before = {name: path.read_bytes() for name, path in paths.items()
              if name != "tmp" and path.is_file()}
    code, out, err = run_cli(case.argv(paths))
    assert_one_line_error(code, err)
    assert case.fragment in err
    # Inputs are never modified, and a refused run leaves no output behind.
    after = {name: path.read_bytes() for name, path in paths.items()
             if name != "tmp" and path.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_net_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.caffemodel"
    path.write_bytes(CAFFEMODEL)
    monkeypatch.setattr(caffe_lrn.nets.loader, "MAX_NET_BYTES", len(CAFFEMODEL) - 1)
    with pytest.raises(InputFileError, match=r"359075 bytes exceeds the 359074-byte limit"):
        load_net(path)
    code, out, err = run_cli(["inspect", str(path)])
    assert_one_line_error(code, err)
    assert "exceeds the 359074-byte limit for a net file" in err


def test_sparse_file_over_2_gib_is_refused(tmp_path):
    path = tmp_path / "sparse.caffemodel"
    with open(path, "wb") as handle:
        handle.truncate(caffe_lrn.nets.loader.MAX_NET_BYTES + 1)  # sparse: no disk used
    code, out, err = run_cli(["inspect", str(path)])
    assert_one_line_error(code, err)
    assert "2147483648 bytes exceeds the 2147483647-byte limit" in err


def test_binary_float_fields_reach_the_record_bit_exact():
    # A control for the binary cases above: the same construction with valid values loads.
    data = _binary_net(local_size=3, alpha=struct.unpack("<f", struct.pack("<f", 1e-4))[0])
    net = NetParameter.FromString(data)
    assert LRNParams.from_layer(net.layer[0]).alpha == float(np.float32(1e-4))
