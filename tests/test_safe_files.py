"""Every command that writes refuses an existing output without --force (exit 1, one line,
the file untouched), replaces it with --force, leaves no temporary file, and never
modifies its inputs."""
import argparse
import hashlib
import importlib.util
import os

import numpy as np
import pytest

from caffe_lrn.cli import build_parser
from conftest import BVLC_NETS, DATA, EXAMPLES
from fuzzing import assert_one_line_error, run_cli

SENTINEL = b"an existing file that must survive\n"
LEGACY_NET = DATA / "nets" / "legacy" / "alexnet_v1.prototxt"
NET = BVLC_NETS / "cifar10_full_deploy.prototxt"
CONVERTED = DATA / "converted"
# Writers that need an optional package, and the module that package provides.
NEEDS = {"verify": "matplotlib", "audit": "onnxruntime"}


def _inputs(folder):
    rng = np.random.default_rng(5)
    np.save(folder / "x.npy", rng.standard_normal((2, 32, 6, 5)).astype(np.float32))
    np.save(folder / "dy.npy", rng.standard_normal((2, 32, 6, 5)).astype(np.float32))
    doc = folder / "doc.json"
    code, _, err = run_cli(["convert", str(NET), "--to", "torch", "-o", str(doc)])
    assert code == 0, err
    return folder


# command -> (argv builder given the folder holding inputs, output name); every command
# with a --force option must appear here (checked below).
WRITERS = {
    "upgrade": [
        ("text", lambda d: ["upgrade", str(LEGACY_NET)], "new.prototxt"),
        ("binary", lambda d: ["upgrade", str(LEGACY_NET), "--binary"], "new.caffemodel"),
    ],
    "run": [
        ("npz", lambda d: ["run", str(NET), "--layer", "norm1", "--input", str(d / "x.npy"),
                           "--top-diff", str(d / "dy.npy")], "out.npz"),
        ("npy", lambda d: ["run", "--lrn-param", "local_size: 3", "--input",
                           str(d / "x.npy")], "top.npy"),
    ],
    "verify": [
        ("plot", lambda d: ["verify", "--example", "--plot"], "ulps.png"),
    ],
    "bench": [
        ("json", lambda d: ["bench", "--quick", "--in-process", "--peers", "none", "--json"],
         "bench.json"),
    ],
    "audit": [
        ("fix", lambda d: ["audit", str(CONVERTED / "brief_within_k2.prototxt"),
                           str(CONVERTED / "brief_within_k2.onnx"), "--fix"], "fixed.onnx"),
    ],
    "convert": [
        ("json", lambda d: ["convert", str(NET), "--to", "onnx"], "doc_out.json"),
        ("python", lambda d: ["convert", str(NET), "--to", "tf", "--emit", "python"],
         "lrn_tf.py"),
        ("caffe", lambda d: ["convert", str(d / "doc.json"), "--to", "caffe"],
         "back.prototxt"),
    ],
}
CASES = [(command, label, argv, name) for command, variants in WRITERS.items()
         for label, argv, name in variants]


def _commands_with_force():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name for name, command in sub.choices.items()
            if any("--force" in action.option_strings for action in command._actions)}


def test_every_writing_command_is_covered():
    assert _commands_with_force() == set(WRITERS)


def _digest(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.mark.parametrize("command,label,argv,name", CASES,
                         ids=[f"{c}-{label}" for c, label, _, _ in CASES])
def test_existing_output_needs_force(tmp_path, command, label, argv, name):
    (tmp_path / "in").mkdir()
    inputs = _inputs(tmp_path / "in")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / name
    before = _digest(inputs)
    bundled = _digest(EXAMPLES)

    def cli(*extra):
        # --plot and --json take the output themselves; every other writer takes -o.
        where = ([str(output)] if argv(inputs)[-1] in ("--plot", "--json")
                 else ["-o", str(output)])
        return run_cli(argv(inputs) + where + list(extra))

    # verify --plot needs matplotlib (the plot extra), audit --fix ONNX; without it the command
    # must still refuse an existing file first, and fail on the missing package in one line.
    can_write = command not in NEEDS or importlib.util.find_spec(NEEDS[command]) is not None
    code, _, err = cli()
    if can_write:
        assert code == 0, err
        fresh = output.read_bytes()
        assert fresh and fresh != SENTINEL
        assert oct(os.stat(output).st_mode & 0o777) == oct(0o666 & ~_umask())
    else:
        assert_one_line_error(code, err)
        assert ("needs matplotlib" in err or "is not installed" in err) and not output.exists()

    output.write_bytes(SENTINEL)
    code, out, err = cli()
    assert_one_line_error(code, err)
    assert f"{output} exists; pass --force to overwrite it" in err
    assert output.read_bytes() == SENTINEL

    code, _, err = cli("--force")
    if can_write:
        assert code == 0, err
        assert output.read_bytes() != SENTINEL
    else:
        assert_one_line_error(code, err)
        assert output.read_bytes() == SENTINEL
    assert [p.name for p in out_dir.iterdir()] == [name]  # no temporary left behind
    assert _digest(inputs) == before  # inputs never modified
    assert _digest(EXAMPLES) == bundled


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_output_directory_is_refused_even_with_force(tmp_path):
    (tmp_path / "out.prototxt").mkdir()
    for force in ([], ["--force"]):
        code, _, err = run_cli(["upgrade", str(LEGACY_NET), "-o",
                                str(tmp_path / "out.prototxt")] + force)
        assert_one_line_error(code, err)
        assert "is a directory" in err or "exists" in err
    assert (tmp_path / "out.prototxt").is_dir()


def test_failed_run_leaves_existing_output_and_no_temporary(tmp_path):
    # With --force, an error part-way (a top diff of the wrong shape) keeps the old file.
    np.save(tmp_path / "x.npy", np.ones((2, 3, 5, 4), np.float32))
    np.save(tmp_path / "dy.npy", np.ones((2, 3, 4, 5), np.float32))
    (tmp_path / "out.npz").write_bytes(SENTINEL)
    code, _, err = run_cli(["run", "--lrn-param", "local_size: 3", "--input",
                            str(tmp_path / "x.npy"), "--top-diff", str(tmp_path / "dy.npy"),
                            "-o", str(tmp_path / "out.npz"), "--force"])
    assert_one_line_error(code, err)
    assert (tmp_path / "out.npz").read_bytes() == SENTINEL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dy.npy", "out.npz", "x.npy"]


def test_inputs_are_never_written_even_as_outputs(tmp_path):
    # Naming the input as the output is refused like any existing file.
    np.save(tmp_path / "x.npy", np.ones((2, 3, 5, 4), np.float32))
    before = (tmp_path / "x.npy").read_bytes()
    code, _, err = run_cli(["run", "--lrn-param", "local_size: 3", "--input",
                            str(tmp_path / "x.npy"), "-o", str(tmp_path / "x.npy")])
    assert_one_line_error(code, err)
    assert (tmp_path / "x.npy").read_bytes() == before
