"""Fuzzing hostile inputs: names that try to become code, outputs that lead to inputs,
hostile array headers, hostile JSON and special files.

- Nets whose layer and blob names (and source path) are drawn from quotes, triple quotes,
  backslashes, line breaks, NUL, non-ASCII and code become TF modules that compile, whose
  top level is definitions only (importing runs nothing: a sentinel the names would set
  stays unset), and whose ``LAYERS`` keys are the Caffe names; as prototxt they read back
  as the same names.
- An output that is an input (same path, ``./``, ``..``, symbolic and hard links) is
  refused, with or without ``force``, and the input is unchanged.
- ``.npy`` headers with any shape entries, dtypes and versions load as what they declare
  or fail with InputFileError; hostile JSON fails with InputFileError or ConversionError;
  special files are refused at once (a thread's timeout would catch a hang).
"""
import ast
import builtins
import io
import json
import os
import pathlib
import socket
import sys
import tempfile
import threading
import zipfile

import numpy as np
import pytest
from google.protobuf import text_format
from hypothesis import strategies as st

from caffe_lrn.convert.document import build_document, layers_from_document
from caffe_lrn.convert.emit_prototxt import emit_prototxt
from caffe_lrn.convert.emit_python import emit_python
from caffe_lrn.errors import (
    ConversionError, InputFileError, OutputExistsError, OutputIsInputError,
)
from caffe_lrn.io.files import load_npy, load_npz, parse_json, read_json, write_text
from caffe_lrn.io.reference import open_blobs, read_binaryproto
from caffe_lrn.nets.loader import load_net, parse_net
from caffe_lrn.nets.lrn_layers import lrn_layers
from caffe_lrn.schema import NetParameter
from fuzzing import fuzz_tests, typed_or_ok

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

# Every surface gets at least this many examples in the long run.
LONG = 10_000

SENTINEL = "HOSTILE_NAME_RAN"
CODE = f"__import__('builtins').{SENTINEL} = 1"
PIECES = ['"""', "'''", '"', "'", "\\", "\\\\", "\n", "\r", "\x00", "\t", "é", "\U0001F600",
          "\u2028", "\x85", "#", "{", "}", "\\x", "\\N{", "\\u", "+0.5", "\\q", " ", "\x7f",
          CODE, f'"""\n{CODE}\n"""', f"'''\n{CODE}\n'''", f'")\n{CODE}\n#', "pool1/norm1"]
# Names as protobuf strings can hold them: any text without lone surrogates.
hostile_text = st.lists(
    st.one_of(st.sampled_from(PIECES),
              st.text(st.characters(blacklist_categories=("Cs",)), max_size=3)),
    max_size=6).map("".join)


def _net(names, tops):
    net = NetParameter()
    data = net.layer.add(name="data", type="Input", top=["data"])
    data.input_param.shape.add(dim=[2, 3, 5, 4])
    bottom = "data"
    for name, top in zip(names, tops):
        layer = net.layer.add(name=name, type="LRN", bottom=[bottom], top=[top])
        layer.lrn_param.local_size = 3
        bottom = top
    return net


TOP_LEVEL = (ast.FunctionDef, ast.Import, ast.ImportFrom)
# The module's own constants: the source path, the name table, the cache of built layers.
CONSTANTS = ("SOURCE", "LAYERS", "_BUILT")


def check_generated_code(names, tops, source):
    net = _net(names, tops)
    # Through protobuf's own text writer and caffe-lrn's reader: the names survive.
    loaded, _ = parse_net(text_format.MessageToString(net).encode(), source="net.prototxt")
    layers = lrn_layers(loaded)
    assert [info.name for info in layers] == names
    text = emit_python(layers, source=source)
    tree = ast.parse(text)  # a SyntaxError is a failure
    body = tree.body
    assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    for node in body[1:]:
        # Definitions only: the two constant assignments and functions.
        assert isinstance(node, TOP_LEVEL) or (
            isinstance(node, ast.Assign) and node.targets[0].id in CONSTANTS), \
            ast.dump(node)[:200]
    namespace = {"__name__": "generated_lrn"}
    saved = sys.modules.get("tensorflow", "absent")
    sys.modules["tensorflow"] = None
    try:
        exec(compile(tree, "generated_lrn.py", "exec"), namespace)  # noqa: S102
    finally:
        if saved == "absent":
            del sys.modules["tensorflow"]
        else:
            sys.modules["tensorflow"] = saved
    assert not hasattr(builtins, SENTINEL)
    assert list(namespace["LAYERS"]) == names
    assert namespace["SOURCE"] == source
    assert all(callable(function) for function in namespace["LAYERS"].values())
    # The same names through prototxt and JSON read back unchanged.
    back, _ = parse_net(emit_prototxt(layers, header=[source]).encode(), source="back")
    assert [(i.name, i.bottom, i.top) for i in lrn_layers(back)] == \
        [(i.name, i.bottom, i.top) for i in layers]
    document = json.dumps(build_document(source, layers, "onnx"))
    assert [r.name for r in layers_from_document(parse_json(document.encode(), "doc"))] \
        == names


test_generated_code_quick, test_generated_code_long = fuzz_tests(
    check_generated_code, st.lists(hostile_text, min_size=1, max_size=3, unique=True),
    st.lists(hostile_text, min_size=3, max_size=3), hostile_text, quick=40, long=LONG)


# -- outputs that lead to inputs -------------------------------------------------------------

OUTPUT_FORMS = ["same", "dot", "dotdot", "symlink", "symlink-chain", "hardlink",
                "folder-symlink", "other-file", "new-file", "dangling"]


def _output_for(form, folder, source):
    sub = folder / "sub"
    sub.mkdir(exist_ok=True)
    if form == "same":
        return source, True
    if form == "dot":
        return folder / "." / source.name, True
    if form == "dotdot":
        return sub / ".." / source.name, True
    if form == "symlink":
        (folder / "link").symlink_to(source)
        return folder / "link", True
    if form == "symlink-chain":
        (folder / "link1").symlink_to(source)
        (sub / "link2").symlink_to(folder / "link1")
        return sub / "link2", True
    if form == "hardlink":
        os.link(source, folder / "hard")
        return folder / "hard", True
    if form == "folder-symlink":
        (folder / "alias").symlink_to(folder, target_is_directory=True)
        return folder / "alias" / source.name, True
    if form == "other-file":
        (folder / "other").write_bytes(b"other")
        return folder / "other", False
    if form == "dangling":
        (folder / "dangling").symlink_to(folder / "nowhere")
        return folder / "dangling", False
    return folder / "new", False


def check_output_is_input(form, force, content):
    with tempfile.TemporaryDirectory() as name:
        folder = pathlib.Path(name)
        source = folder / "input.npy"
        source.write_bytes(content)
        output, same = _output_for(form, folder, source)
        existed = os.path.lexists(output)
        _, error = typed_or_ok(write_text, output, "written", force=force, inputs=[source])
        assert source.read_bytes() == content
        if same:
            assert isinstance(error, OutputIsInputError), (form, force)
        elif existed and not force and form != "dangling":
            assert isinstance(error, OutputExistsError)
        else:
            assert error is None or isinstance(error, OutputExistsError), error
        assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


test_output_is_input_quick, test_output_is_input_long = fuzz_tests(
    check_output_is_input, st.sampled_from(OUTPUT_FORMS), st.booleans(),
    st.binary(max_size=16), quick=40, long=LONG)


# -- hostile .npy headers ------------------------------------------------------------------

shape_entry = st.one_of(st.integers(-3, 6), st.integers(-2**70, 2**70), st.booleans(),
                        st.sampled_from([2**31, 2**32, 2**62, 2**63, 2**64]),
                        st.floats(allow_nan=True), st.text(max_size=2), st.none())


@st.composite
def hostile_headers(draw):
    shape = draw(st.one_of(st.lists(shape_entry, max_size=5).map(tuple),
                           st.lists(shape_entry, max_size=3), shape_entry))
    descr = draw(st.sampled_from(["<f4", ">f8", "|O", "V8", "<U3", "|b1", "<f2", "<i8",
                                  [("a", "<f4")], [("é", "<f4")], [("a", "|O")], "x", 4]))
    fortran = draw(st.sampled_from([False, True, 1, "x"]))
    header = f"{{'descr': {descr!r}, 'fortran_order': {fortran!r}, 'shape': {shape!r}, }}"
    version = draw(st.sampled_from([(1, 0), (2, 0), (3, 0)]))
    try:
        text = header.encode("utf-8" if version == (3, 0) else "latin-1")
    except UnicodeEncodeError:
        text = header.encode("utf-8")
    size_bytes = 2 if version == (1, 0) else 4
    text += b" " * (-(12 + size_bytes + len(text)) % 64) + b"\n"
    data = bytes(draw(st.integers(0, 256)))
    return (b"\x93NUMPY" + bytes(version) + len(text).to_bytes(size_bytes, "little") + text
            + data), shape


def check_hostile_header(drawn):
    data, shape = drawn
    with tempfile.TemporaryDirectory() as name:
        path = pathlib.Path(name) / "x.npy"
        path.write_bytes(data)
        for mmap in (False, True):
            array, error = typed_or_ok(load_npy, path, mmap=mmap)
            if error is not None:
                assert isinstance(error, InputFileError)
            else:
                assert array.shape == shape and not array.dtype.hasobject
        archive = pathlib.Path(name) / "x.npz"
        with zipfile.ZipFile(archive, "w") as handle:
            handle.writestr("x.npy", data)
        arrays, error = typed_or_ok(load_npz, archive)
        assert error is None or isinstance(error, InputFileError)
        if error is None:
            assert arrays["x"].shape == shape


test_hostile_header_quick, test_hostile_header_long = fuzz_tests(
    check_hostile_header, hostile_headers(), quick=60, long=LONG)


# -- hostile JSON --------------------------------------------------------------------------

NUMBER_TEXTS = ["1" + "0" * 400, "9" * 5000, "1e400", "-1e400", "1e-400", "NaN", "Infinity",
                "-Infinity", "0.0001", "5", "-5", "1e39", '"1e-4"', '"5"', "true", "null",
                "[]", "{}", "0x10", "+1", "1.", ".5", "01"]


@st.composite
def hostile_json(draw):
    kind = draw(st.sampled_from(["nested", "number", "mutated"]))
    if kind == "nested":
        depth = draw(st.integers(0, 3000))
        opener = draw(st.sampled_from(["[", "{\"a\":", "[{\"a\":", "[\"[\","]))
        closer = {"[": "]", "{\"a\":": "}", "[{\"a\":": "}]", "[\"[\",": "]"}[opener]
        close = draw(st.booleans())
        return (opener * depth + "0" + (closer * depth if close else "")).encode()
    document = build_document("net", _LAYERS, draw(st.sampled_from(["tf", "torch", "onnx"])))
    text = json.dumps(document)
    if kind == "number":
        numbers = [token for token in ("0.0001", "0.75", "1.0", "5", "2", "1")
                   if token in text]
        old = draw(st.sampled_from(numbers))
        return text.replace(old, draw(st.sampled_from(NUMBER_TEXTS)), 1).encode()
    i = draw(st.integers(0, len(text)))
    return (text[:i] + draw(st.sampled_from(NUMBER_TEXTS + ["[", "{", "\\", "\"", ","]))
            + text[i:]).encode()


_LAYERS = lrn_layers(parse_net(
    b'layer { name: "data" type: "Input" top: "data" }\n'
    b'layer { name: "norm1" type: "LRN" bottom: "data" top: "norm1" '
    b"lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }\n"
    b'layer { name: "norm2" type: "LRN" bottom: "norm1" top: "norm2" '
    b"lrn_param { local_size: 3 alpha: 2 norm_region: WITHIN_CHANNEL } }\n")[0])


def check_hostile_json(data):
    document, error = typed_or_ok(parse_json, data, "doc.json")
    if error is not None:
        assert isinstance(error, InputFileError)
        return
    records, error = typed_or_ok(layers_from_document, document, "doc.json")
    if error is not None:
        assert isinstance(error, (InputFileError, ConversionError))
    else:
        assert all(record.params.local_size % 2 == 1 for record in records)


test_hostile_json_quick, test_hostile_json_long = fuzz_tests(
    check_hostile_json, hostile_json(), quick=100, long=LONG)


# -- special files ---------------------------------------------------------------------------

SPECIAL_KINDS = ["/dev/zero", "/dev/null", "fifo", "socket", "directory", "link-to-fifo",
                 "link-to-zero"]
READERS = {
    "load_net": load_net, "load_npy": load_npy, "load_npz": load_npz,
    "read_json": read_json, "read_binaryproto": read_binaryproto,
    "open_blobs": open_blobs, "load_npy-mmap": lambda path: load_npy(path, mmap=True),
}


def _special(kind, folder, name, links):
    """The special file ``kind``, reached through ``links`` symbolic links named ``name``."""
    path = _special_file(kind, folder, name)
    for index in range(links):
        link = folder / f"{name}.link{index}"
        link.symlink_to(path)
        path = link
    return path


def _special_file(kind, folder, name):
    if kind.startswith("/dev/"):
        return pathlib.Path(kind)
    path = folder / name
    if kind in ("fifo", "link-to-fifo"):
        os.mkfifo(folder / f"{name}.fifo")
        if kind == "fifo":
            return folder / f"{name}.fifo"
        path.symlink_to(folder / f"{name}.fifo")
    elif kind == "socket":
        path = folder / "s"  # a socket's path is limited to about 100 bytes
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        _SOCKETS.append(server)
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    return path


_SOCKETS = []


def check_special_file(kind, reader, name, links):
    with tempfile.TemporaryDirectory() as folder:
        path = _special(kind, pathlib.Path(folder), name, links)
        outcome = []
        worker = threading.Thread(
            target=lambda: outcome.append(typed_or_ok(READERS[reader], path)), daemon=True)
        worker.start()
        worker.join(20)
        assert not worker.is_alive(), f"{reader} hangs on {kind}"
        value, error = outcome[0]
        if kind == "directory" and reader == "open_blobs":
            assert isinstance(error, InputFileError)  # an empty reference directory
        else:
            assert isinstance(error, InputFileError), (kind, reader, value)
        while _SOCKETS:
            _SOCKETS.pop().close()


test_special_file_quick, test_special_file_long = fuzz_tests(
    check_special_file, st.sampled_from(SPECIAL_KINDS), st.sampled_from(sorted(READERS)),
    # File names a user could give: any text but "/" and NUL, and not "." or "..".
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
             min_size=1, max_size=12).filter(lambda text: text not in (".", "..")),
    st.integers(0, 3), quick=40, long=LONG)
