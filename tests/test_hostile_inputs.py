"""Hostile inputs: names that try to become code, outputs that are inputs, special files,
hostile array headers and JSON documents. Each is refused with a typed error (one line and
exit 1 at the CLI) or carried through escaped; nothing from an input ever runs."""
import errno
import importlib.util
import io
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile

import numpy as np
import pytest

import caffe_lrn.io.stream
from caffe_lrn import LRNLayer, LRNParams, load_net, lrn_layers
from caffe_lrn.cli import main
from caffe_lrn.convert.document import layers_from_document
from caffe_lrn.errors import (
    BlobError, ConversionError, InputFileError, NetParseError, OutputExistsError,
    OutputIsInputError, ParameterError,
)
from caffe_lrn.io.files import load_npy, read_json, write_text
from caffe_lrn.io.reference import read_binaryproto
from caffe_lrn.io.stream import run_npy
from conftest import BVLC_NETS, DATA
from fuzzing import assert_one_line_error, run_cli

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

INJECTED = "import pathlib; pathlib.Path(__file__).with_name('RAN').write_text('x')"


def net_text(name, bottom, top):
    """A prototxt with one LRN layer whose names are given as protobuf-escaped strings."""
    return (f'layer {{ name: "data" type: "Input" top: "{bottom}" '
            "input_param { shape { dim: 2 dim: 3 dim: 5 dim: 4 } } }\n"
            f'layer {{ name: "{name}" type: "LRN" bottom: "{bottom}" top: "{top}" }}\n')


def import_isolated(path):
    """Import a generated module with TensorFlow made unimportable (it must not need it)."""
    spec = importlib.util.spec_from_file_location("generated_lrn", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("tensorflow", "absent")
    sys.modules["tensorflow"] = None
    try:
        spec.loader.exec_module(module)
    finally:
        if saved == "absent":
            del sys.modules["tensorflow"]
        else:
            sys.modules["tensorflow"] = saved
    return module


def test_blob_name_with_triple_quotes_does_not_run_code(tmp_path):
    bottom = '\\"\\"\\"\\n' + INJECTED.replace("'", "\\'") + '\\n\\"\\"\\"'
    net = tmp_path / "net.prototxt"
    net.write_text(net_text('n\\"\\"\\"\\\\', bottom, "t\\000"))
    out = tmp_path / "lrn.py"
    code, _, err = run_cli(["convert", str(net), "--to", "tf", "--emit", "python", "-o",
                            str(out)])
    assert code == 0, err
    module = import_isolated(out)
    assert not (tmp_path / "RAN").exists()
    [info] = lrn_layers(load_net(net))
    assert info.bottom.startswith('"""\nimport pathlib')
    assert list(module.LAYERS) == [info.name] == ['n"""\\']
    assert module.SOURCE == str(net)


def test_source_path_with_triple_quotes_gives_an_importable_module(tmp_path):
    net = tmp_path / 'q""".prototxt'
    net.write_text(net_text("norm1", "data", "norm1"))
    out = tmp_path / "lrn.py"
    assert run_cli(["convert", str(net), "--to", "tf", "--emit", "python", "-o",
                    str(out)])[0] == 0
    module = import_isolated(out)
    assert module.SOURCE == str(net) and list(module.LAYERS) == ["norm1"]


def _through_a_document(tmp_path, net, document, to="onnx"):
    """``convert NET --to TO -o DOCUMENT`` then ``convert DOCUMENT --to caffe``: the result."""
    assert run_cli(["convert", str(net), "--to", to, "-o", str(document)])[0] == 0
    back = tmp_path / "back.prototxt"
    code, _, err = run_cli(["convert", str(document), "--to", "caffe", "-o", str(back)])
    assert code == 0, err
    return lrn_layers(load_net(back))


def test_names_with_newline_and_nul_survive_prototxt_round_trip(tmp_path):
    net = tmp_path / "net.prototxt"
    net.write_text(net_text("a\\nlayer { name: \\\"x\\\" }", "b\\000\\\\", 'c\\"'))
    [after] = _through_a_document(tmp_path, net, tmp_path / "doc.json")
    [before] = lrn_layers(load_net(net))
    assert (after.name, after.bottom, after.top) == (before.name, before.bottom, before.top)
    assert (after.name, after.bottom, after.top) == ('a\nlayer { name: "x" }', "b\x00\\",
                                                      'c"')
    assert after.params == before.params


def test_document_path_with_a_newline_stays_in_the_comment(tmp_path):
    net = tmp_path / "net.prototxt"
    net.write_text(net_text("norm1", "data", "norm1"))
    document = tmp_path / 'doc\nlayer { name: "injected" type: "LRN" }\n.json'
    assert [info.name for info in _through_a_document(tmp_path, net, document, "tf")] == \
        ["norm1"]


# Outputs that are inputs, races, signals -------------------------------------------------

LRN3 = ["--lrn-param", "local_size: 3"]


def _blob(path, shape=(2, 3, 5, 4), seed=0):
    np.save(path, np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
    return path


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_run_refuses_to_write_over_its_input(tmp_path, force):
    x = _blob(tmp_path / "x.npy")
    before = x.read_bytes()
    (tmp_path / "link.npy").symlink_to(x)
    os.link(x, tmp_path / "hard.npy")
    for output in (x, tmp_path / "link.npy", tmp_path / "hard.npy",
                   tmp_path / "sub" / ".." / "x.npy"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        code, _, err = run_cli(["run", *LRN3, "--input", str(x), "-o", str(output), *force])
        assert_one_line_error(code, err)
        assert "is the input" in err and "never replaces an input" in err
    dy = _blob(tmp_path / "dy.npy", seed=1)
    (tmp_path / "dy.npz").symlink_to(dy)
    code, _, err = run_cli(["run", *LRN3, "--input", str(x), "--top-diff", str(dy), "-o",
                            str(tmp_path / "dy.npz"), *force])
    assert_one_line_error(code, err)
    assert f"is the input {dy}" in err
    assert x.read_bytes() == before and (tmp_path / "hard.npy").read_bytes() == before


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_upgrade_and_convert_refuse_to_write_over_their_input(tmp_path, force):
    old = tmp_path / "v0.prototxt"
    old.write_bytes((DATA / "nets" / "legacy" / "small_v0.prototxt").read_bytes())
    before = old.read_bytes()
    code, _, err = run_cli(["upgrade", str(old), "-o", str(old), *force])
    assert_one_line_error(code, err)
    code, _, err = run_cli(["convert", str(old), "--to", "tf", "-o", str(old), *force])
    assert_one_line_error(code, err)
    assert "is the input" in err and old.read_bytes() == before
    with pytest.raises(OutputIsInputError):
        write_text(tmp_path / "." / "v0.prototxt", "x", force=True, inputs=[old])


def test_verify_plot_refuses_to_write_over_the_net_or_reference(tmp_path):
    net = tmp_path / "net.prototxt"
    net.write_text(net_text("norm1", "data", "norm1"))
    np.savez(tmp_path / "ref.npz", data=np.ones((2, 3, 5, 4), np.float32))
    (tmp_path / "ref-link.npz").symlink_to(tmp_path / "ref.npz")
    before = (tmp_path / "ref.npz").read_bytes()
    for plot in (net, tmp_path / "ref-link.npz"):
        code, out, err = run_cli(["verify", str(net), "--blobs", str(tmp_path / "ref.npz"),
                                  "--plot", str(plot), "--force"])
        assert_one_line_error(code, err)
        assert "is the input" in err and out == ""
    assert (tmp_path / "ref.npz").read_bytes() == before


def test_racing_writers_of_one_name_exactly_one_succeeds(tmp_path, monkeypatch, capsys):
    """Both runs pass the up-front check, then meet inside their writes: the final name is
    created exclusively, so one wins and the other reports the file exists."""
    x = _blob(tmp_path / "x.npy")
    barrier = threading.Barrier(2, timeout=30)
    original = caffe_lrn.io.stream._write_header

    def meet_then_write(*args):
        barrier.wait()
        original(*args)

    monkeypatch.setattr(caffe_lrn.io.stream, "_write_header", meet_then_write)
    for round_ in range(20):
        output = tmp_path / f"same{round_}.npy"
        codes = []
        threads = [threading.Thread(target=lambda: codes.append(
            main(["run", *LRN3, "--input", str(x), "-o", str(output), "--threads", "1"])))
            for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(codes) == [0, 1]
        assert np.load(output).shape == (2, 3, 5, 4)
        err = capsys.readouterr().err
        assert err.count(f"caffe-lrn: error: {output} exists; pass --force") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["x.npy"] + [f"same{i}.npy" for i in range(20)])


def test_exclusive_create_without_hard_links(tmp_path, monkeypatch):
    def no_links(*args):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    write_text(tmp_path / "a.txt", "one")
    with pytest.raises(OutputExistsError):
        write_text(tmp_path / "a.txt", "two")
    assert (tmp_path / "a.txt").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_unwritable_folder_error_names_the_output(tmp_path, monkeypatch):
    def refused(prefix, suffix, dir):
        raise PermissionError(errno.EACCES, "Permission denied",
                              os.path.join(dir, prefix + "abc123" + suffix))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    x = _blob(tmp_path / "x.npy")
    code, _, err = run_cli(["run", *LRN3, "--input", str(x), "-o",
                            str(tmp_path / "top.npy")])
    assert_one_line_error(code, err)
    assert err == f"caffe-lrn: error: {tmp_path / 'top.npy'}: Permission denied\n"


def _console(*argv, **options):
    # What the installed caffe-lrn script runs.
    code = ("import sys; from caffe_lrn.__main__ import console_main; "
            "sys.argv[0] = 'caffe-lrn'; console_main()")
    return subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **options)


@pytest.mark.parametrize("signum,code,line", [
    (signal.SIGTERM, 143, "caffe-lrn: interrupted by SIGTERM\n"),
    (signal.SIGHUP, 129, "caffe-lrn: interrupted by SIGHUP\n"),
    (signal.SIGINT, 130, "caffe-lrn: interrupted\n"),
])
def test_signal_during_run_leaves_no_temporary_file(tmp_path, signum, code, line):
    x = _blob(tmp_path / "x.npy", shape=(400, 4, 32, 48))
    process = _console("run", *LRN3, "--input", str(x), "--top-diff", str(x), "-o",
                       str(tmp_path / "out.npz"), "--chunk", "1", "--threads", "1",
                       "--backend", "numpy")
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.npz.") for p in tmp_path.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no temporary file appeared"
        time.sleep(0.005)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (code, line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"], (process.returncode, err)


def _loading_numpy(pid):
    try:
        return "numpy" in pathlib.Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not pathlib.Path("/proc/self/maps").exists(), reason="needs /proc")
@pytest.mark.parametrize("delay", [0.0, 0.03])
def test_early_interrupt_prints_one_line_not_a_traceback(delay):
    """Ctrl-C while the command is still importing NumPy and protobuf (the first tenths of
    a second): the handler is installed before those imports, so one line, exit 130."""
    process = _console("inspect", str(DATA / "nets" / "legacy" / "small_v0.prototxt"))
    deadline = time.monotonic() + 60
    while not _loading_numpy(process.pid) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert "Traceback" not in err
    if process.returncode != 0:  # not already finished
        assert (process.returncode, err) == (130, "caffe-lrn: interrupted\n")


# Hostile array headers, special files ---------------------------------------------------

def npy_bytes(header, version=(1, 0), data=b""):
    """A .npy file with the header text given as is (padded like NumPy's writer)."""
    text = header.encode("utf-8" if version == (3, 0) else "latin-1")
    size_bytes = 2 if version == (1, 0) else 4
    pad = -(10 + size_bytes - 2 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return (b"\x93NUMPY" + bytes(version) + len(text).to_bytes(size_bytes, "little") + text
            + data)


HOSTILE_SHAPES = ["(-1, 3, 5, 4)", "(True, 3, 5, 4)", "(2, -3, 5, 4)", "(2**70, 0)",
                  "(4294967296, 4294967296, 0, 1)", "(1.5, 3)", "[2, 3, 5, 4]", "'x'"]


@pytest.mark.parametrize("shape", HOSTILE_SHAPES)
def test_hostile_npy_shapes_are_refused_everywhere(tmp_path, shape):
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    bad = tmp_path / "bad.npy"
    bad.write_bytes(npy_bytes(header, data=bytes(480)))
    good = _blob(tmp_path / "x.npy")
    net = tmp_path / "net.prototxt"
    net.write_text(net_text("norm1", "data", "norm1"))
    for argv in (["run", *LRN3, "--input", str(bad), "-o", str(tmp_path / "o.npz")],
                 ["run", *LRN3, "--input", str(good), "--top-diff", str(bad), "-o",
                  str(tmp_path / "o.npz")]):
        code, _, err = run_cli(argv)
        assert_one_line_error(code, err)
        assert "bad.npy" in err
    folder = tmp_path / "ref"
    folder.mkdir()
    (folder / "data.npy").write_bytes(bad.read_bytes())
    (folder / "norm1.npy").write_bytes(good.read_bytes())
    code, out, err = run_cli(["verify", str(net), "--blobs", str(folder)])
    assert code == 1 and "Traceback" not in err
    assert "data.npy" in out + err
    with zipfile.ZipFile(tmp_path / "ref.npz", "w") as archive:
        archive.writestr("data.npy", bad.read_bytes())
        archive.writestr("norm1.npy", good.read_bytes())
    code, _, err = run_cli(["verify", str(net), "--blobs", str(tmp_path / "ref.npz")])
    assert_one_line_error(code, err)
    assert "ref.npz[data]" in err
    with pytest.raises(InputFileError):
        load_npy(bad)


def test_npy_format_3_is_read(tmp_path):
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 4)).astype(np.float32)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, x, version=(3, 0))
    path = tmp_path / "v3.npy"
    path.write_bytes(buffer.getvalue())
    assert np.array_equal(load_npy(path), x) and np.array_equal(load_npy(path, mmap=True), x)
    code, _, err = run_cli(["run", *LRN3, "--input", str(path), "-o", str(tmp_path / "o.npy")])
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "o.npy"),
                          LRNLayer(LRNParams(local_size=3)).forward(x))
    # A UTF-8 field name, which only 3.0 allows, in a structured dtype: read, then refused
    # as a blob for its dtype, not for its header.
    named = tmp_path / "named.npy"
    named.write_bytes(npy_bytes("{'descr': [('é', '<f4')], 'fortran_order': False, "
                                "'shape': (1,), }", version=(3, 0), data=bytes(4)))
    assert load_npy(named).dtype.names == ("é",)


def test_binaryproto_with_huge_dims_and_no_data_is_a_blob_error(tmp_path):
    from caffe_lrn.schema import BlobProto

    net = tmp_path / "net.prototxt"
    net.write_text(net_text("norm1", "data", "norm1"))
    folder = tmp_path / "ref"
    folder.mkdir()
    proto = BlobProto()
    proto.shape.dim.extend([2**32, 2**32, 0, 1])
    (folder / "data.binaryproto").write_bytes(proto.SerializeToString())
    (folder / "norm1.binaryproto").write_bytes(proto.SerializeToString())
    with pytest.raises(BlobError, match="too large"):
        read_binaryproto(folder / "data.binaryproto")
    code, out, err = run_cli(["verify", str(net), "--blobs", str(folder)])
    assert code == 1 and "Traceback" not in err and "too large" in out + err


def test_three_axis_input_is_reported_with_its_shape(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((7, 5, 4), np.float32))
    code, _, err = run_cli(["run", *LRN3, "--input", str(tmp_path / "x.npy"), "-o",
                            str(tmp_path / "o.npy")])
    assert_one_line_error(code, err)
    assert "got 3 axes, shape (7, 5, 4)" in err


SPECIAL_COMMANDS = [
    ["inspect", "{special}"],
    ["upgrade", "{special}", "-o", "{tmp}/up.prototxt"],
    ["convert", "{special}", "--to", "tf"],
    ["convert", "{special}", "--to", "caffe"],
    ["run", "--lrn-param", "local_size: 3", "--input", "{special}", "-o", "{tmp}/o.npy"],
    ["verify", "{net}", "--blobs", "{special}"],
]


def _special_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    return {"/dev/zero": "a character device", str(fifo): "a FIFO"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("argv", SPECIAL_COMMANDS, ids=lambda argv: "-".join(argv[:2]))
def test_special_files_are_refused_without_hanging(tmp_path, argv):
    """/dev/zero reports size 0 and never ends; a FIFO with no writer blocks an open():
    both are refused at once (the thread's timeout would catch a hang)."""
    net = tmp_path / "net.prototxt"
    net.write_text(net_text("norm1", "data", "norm1"))
    for special, kind in _special_files(tmp_path).items():
        filled = [part.format(special=special, tmp=tmp_path, net=net) for part in argv]
        outcome = []
        worker = threading.Thread(target=lambda: outcome.append(run_cli(filled)), daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), f"{filled} hangs"
        code, _, err = outcome[0]
        assert_one_line_error(code, err)
        assert err.startswith(f"caffe-lrn: error: {special}: is {kind}, not a ")
        assert err.endswith("; caffe-lrn reads regular files only\n")


def test_load_net_with_a_very_long_name_is_an_input_file_error():
    with pytest.raises(InputFileError, match=r"\(5000 characters\): cannot read \(File name "
                                             r"too long\)"):
        load_net("a" * 5000)


# Hostile conversion documents -----------------------------------------------------------

def _document(**target_params):
    entry = {"name": "norm", "bottom": "data", "top": "norm",
             "target": {"framework": "torch", "op": "torch.nn.LocalResponseNorm",
                        "params": {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1.0,
                                   **target_params}}}
    return {"format": "caffe-lrn-convert", "version": 1, "layers": [entry]}


HOSTILE_DOCUMENTS = [
    # (id, JSON text, error class, message fragment)
    ("alpha-10**400", json.dumps(_document()).replace("0.0001", "1" + "0" * 400),
     ConversionError, "alpha must be a finite float32, got 1000"),
    ("alpha-1e400", json.dumps(_document()).replace("0.0001", "1e400"),
     InputFileError, "the number 1e400 is beyond the float range"),
    ("5000-digit-int", json.dumps(_document()).replace('"size": 5', '"size": ' + "9" * 5000),
     InputFileError, "a number of 5000 digits; JSON numbers may have at most 1000"),
    ("nested-100000", "[" * 100_000 + "]" * 100_000, InputFileError,
     "nested 100000 deep; a JSON document may nest at most 32 deep"),
    ("nested-unclosed", '{"a": ' + "[" * 100_000, InputFileError, "nested 100001 deep"),
    ("NaN", json.dumps(_document()).replace("0.0001", "NaN"), InputFileError,
     "NaN is not a JSON number"),
    ("alpha-string", json.dumps(_document(alpha="1e-4")), ConversionError,
     "alpha must be a number, got '1e-4'"),
    ("size-string", json.dumps(_document(size="5")), ConversionError,
     "size must be an integer, got '5'"),
    ("beta-bool", json.dumps(_document(beta=True)), ConversionError,
     "beta must be a number, got True"),
    ("unknown-op", json.dumps(_document()).replace("torch.nn.LocalResponseNorm", "os.system"),
     ConversionError, "op must be one of torch.nn.LocalResponseNorm, composite for torch, "
     "got 'os.system'"),
    ("op-of-another-framework", json.dumps(_document()).replace(
        "torch.nn.LocalResponseNorm", "LRN"), ConversionError, "got 'LRN'"),
    ("version-2", json.dumps(_document()).replace('"version": 1', '"version": 2'),
     ConversionError, "conversion document version 2 is not one this caffe-lrn reads"),
    ("version-true", json.dumps(_document()).replace('"version": 1', '"version": true'),
     ConversionError, "version True"),
    ("version-missing", json.dumps(_document()).replace('"version": 1, ', ""),
     ConversionError, "version None"),
    ("not-utf8", b'{"format": "\xff"}', InputFileError, "not UTF-8 text (byte 12)"),
]


@pytest.mark.parametrize("text,error,fragment", [case[1:] for case in HOSTILE_DOCUMENTS],
                         ids=[case[0] for case in HOSTILE_DOCUMENTS])
def test_hostile_documents_are_typed_errors(tmp_path, text, error, fragment):
    path = tmp_path / "doc.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    started = time.monotonic()
    code, out, err = run_cli(["convert", str(path), "--to", "caffe"])
    assert_one_line_error(code, err)
    assert fragment in err and out == ""
    with pytest.raises(error, match=re.escape(fragment)):
        layers_from_document(read_json(path), source=str(path))
    assert time.monotonic() - started < 30  # no quadratic parse of a hostile number


def test_the_documents_caffe_lrn_writes_are_within_the_limits(tmp_path):
    document = tmp_path / "doc.json"
    assert run_cli(["convert", str(BVLC_NETS / "googlenet_deploy.prototxt"), "--to", "onnx",
                    "-o", str(document)])[0] == 0
    back = layers_from_document(read_json(document))
    assert [record.name for record in back] == ["pool1/norm1", "conv2/norm2"]


def test_lrn_params_refuse_numbers_beyond_floats_and_strings():
    with pytest.raises(ParameterError, match=r"alpha must fit a float32, got 1000.*\.\.\."):
        LRNParams(alpha=10**400)
    with pytest.raises(ParameterError, match="k must be a number, got '2'"):
        LRNParams(k="2")
    with pytest.raises(ParameterError, match="beta must be a number, got True"):
        LRNParams(beta=True)
    assert LRNParams(alpha=np.float32(2e-5), k=2).alpha == float(np.float32(2e-5))


# Minor ones -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,line,column,fragment", [
    ('layer { name: "a\\q" }', 1, 17, r"invalid escape sequence \q"),
    ('layer { name: "a\\8" }', 1, 17, r"invalid escape sequence \8"),
    ("layer {\n  name: 'x'\n  lrn_param { alpha: +0.5 } }", 3, 22, "unexpected '+'"),
])
def test_text_parser_refuses_what_protobufs_parser_refuses(tmp_path, text, line, column,
                                                           fragment):
    net = tmp_path / "net.prototxt"
    net.write_text(text)
    code, _, err = run_cli(["inspect", str(net)])
    assert_one_line_error(code, err)
    assert f"{net}:{line}:{column}: {fragment}" in err
    with pytest.raises(NetParseError) as info:
        load_net(net)
    assert (info.value.line, info.value.column) == (line, column)


def test_text_parser_reads_surrogate_pairs_and_question_mark_escapes(tmp_path):
    net = tmp_path / "net.prototxt"
    net.write_text(net_text("norm\\ud83d\\ude00\\?", "data", "t # + \\\\ 'x'"))
    [info] = lrn_layers(load_net(net))
    assert (info.name, info.top) == ("norm\U0001F600?", "t # + \\ 'x'")
    assert LRNParams.from_text("alpha: 1e+20 k: -2.5E+1").alpha == float(np.float32(1e20))


def test_runtime_warnings_never_reach_stderr(tmp_path, monkeypatch, capfd):
    original = caffe_lrn.io.stream._compute

    def warn_then_compute(*args):
        np.float32(3e38) * np.float32(10)  # NumPy's "overflow encountered in scalar multiply"
        return original(*args)

    monkeypatch.setattr(caffe_lrn.io.stream, "_compute", warn_then_compute)
    x = _blob(tmp_path / "x.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("default", RuntimeWarning)  # shown, as outside pytest
        assert main(["run", *LRN3, "--input", str(x), "-o", str(tmp_path / "o.npy")]) == 0
    assert "Warning" not in capfd.readouterr().err


@pytest.mark.parametrize("chunk", [1.5, 0.5, True, "2"])
def test_chunk_images_must_be_a_whole_number(tmp_path, chunk):
    x = _blob(tmp_path / "x.npy")
    with pytest.raises(ParameterError, match="chunk size must be a whole number of images"):
        run_npy(LRNParams(local_size=3), x, tmp_path / "o.npy", chunk_images=chunk)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_layer_option_refuses_two_layers_of_one_name(tmp_path):
    net = tmp_path / "net.prototxt"
    net.write_text(net_text("norm", "data", "a") +
                   'layer { name: "norm" type: "LRN" bottom: "a" top: "b" '
                   "lrn_param { local_size: 3 } }\n")
    x = _blob(tmp_path / "x.npy")
    message = ("2 LRN layers are named 'norm': layers #1 ('data' -> 'a') and #2 ('a' -> 'b'); "
               "a name cannot choose between them")
    code, _, err = run_cli(["run", str(net), "--layer", "norm", "--input", str(x), "-o",
                            str(tmp_path / "o.npy")])
    assert_one_line_error(code, err)
    assert message in err
    np.savez(tmp_path / "ref.npz", data=np.load(x), a=np.load(x), b=np.load(x))
    code, _, err = run_cli(["verify", str(net), "--blobs", str(tmp_path / "ref.npz"),
                            "--layer", "norm"])
    assert_one_line_error(code, err)
    assert message in err
