"""docs/errors.md lists every error class, and the CLI prints errors as the catalogue says:
one line and exit 1, or a traceback with --debug."""
import ast
import inspect
import pathlib
import re
import subprocess
import sys

import pytest

import caffe_lrn
from caffe_lrn import errors
from caffe_lrn.cli import main
from conftest import DATA
from fuzzing import assert_one_line_error, run_cli

ROOT = pathlib.Path(__file__).parent.parent
CATALOGUE = ROOT / "docs" / "errors.md"
PACKAGE = ROOT / "caffe_lrn"
BAD_NET = DATA / "nets" / "malformed" / "unknown_field.prototxt"


def error_classes():
    return {name: cls for name, cls in vars(errors).items()
            if inspect.isclass(cls) and issubclass(cls, errors.CaffeLRNError)}


def catalogued():
    return set(re.findall(r"^### (\w+)$", CATALOGUE.read_text(), flags=re.MULTILINE))


def test_every_error_class_is_catalogued():
    classes = set(error_classes())
    assert len(classes) >= 11
    assert classes <= catalogued(), f"missing from docs/errors.md: {classes - catalogued()}"
    assert catalogued() <= classes, f"stale in docs/errors.md: {catalogued() - classes}"


def test_every_error_class_is_exported():
    for name in error_classes():
        assert getattr(caffe_lrn, name) is error_classes()[name]
        assert name in caffe_lrn.__all__


def _raised_names(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            if isinstance(func, ast.Name):
                yield func.id, node.lineno


def test_every_raise_of_a_project_error_uses_a_catalogued_class():
    classes = error_classes()
    seen = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for name, line in _raised_names(path):
            if name.endswith("Error") and name in classes:
                seen.add(name)
                assert name in catalogued(), f"{path}:{line} raises uncatalogued {name}"
    # The grep found the raises: nearly every class is raised somewhere in the package.
    assert len(seen) >= 9


def test_exit_codes_are_documented():
    text = CATALOGUE.read_text()
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 130 |"):
        assert code in text


def test_error_is_one_line_and_exit_1(capsys):
    assert main(["inspect", str(BAD_NET)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_line_error(1, captured.err)
    assert "Traceback" not in captured.err


def test_debug_raises_the_typed_error_in_process():
    with pytest.raises(errors.NetParseError) as info:
        main(["--debug", "inspect", str(BAD_NET)])
    assert (info.value.line, info.value.column) == (8, 5)


def _console(*argv):
    code = "import sys; from caffe_lrn.__main__ import console_main; " \
           "sys.argv[0] = 'caffe-lrn'; console_main()"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=120)


def test_console_script_one_line_without_debug_traceback_with_it():
    plain = _console("inspect", str(BAD_NET))
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    debug = _console("--debug", "inspect", str(BAD_NET))
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "caffe_lrn.errors.NetParseError" in debug.stderr


def test_usage_errors_exit_2(tmp_path):
    code, out, err = run_cli(["inspect"])
    assert code == 2 and "usage:" in err
    code, out, err = run_cli(["no-such-command"])
    assert code == 2
    code, out, err = run_cli([])
    assert code == 2 and "a command is required" in err


def test_os_errors_are_one_line_and_leave_no_temporary(tmp_path, monkeypatch):
    import os

    def disk_full(*args):
        raise OSError(28, "No space left on device", str(tmp_path / "new.prototxt"))

    monkeypatch.setattr(os, "replace", disk_full)
    monkeypatch.setattr(os, "link", disk_full)
    code, out, err = run_cli(["upgrade", str(DATA / "nets" / "legacy" / "small_v0.prototxt"),
                              "-o", str(tmp_path / "new.prototxt")])
    assert_one_line_error(code, err)
    assert err == f"caffe-lrn: error: {tmp_path / 'new.prototxt'}: No space left on device\n"
    assert list(tmp_path.iterdir()) == []


def test_out_of_memory_is_one_line(tmp_path, monkeypatch):
    import numpy as np

    import caffe_lrn.io.stream

    np.save(tmp_path / "x.npy", np.ones((2, 3, 5, 4), np.float32))

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(caffe_lrn.io.stream, "read_images", exhausted)
    code, out, err = run_cli(["run", "--lrn-param", "local_size: 3", "--input",
                              str(tmp_path / "x.npy"), "-o", str(tmp_path / "out.npz")])
    assert_one_line_error(code, err)
    assert "out of memory (try a smaller --max-memory or --chunk)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]
