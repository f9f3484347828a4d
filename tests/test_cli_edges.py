"""The CLI where it meets its surroundings: pipes, missing optional packages, option order,
help text, output names, and large binary nets."""
import json
import subprocess
import sys

import numpy as np
import pytest

from caffe_lrn.nets.loader import read_net, read_net_without_blobs
from caffe_lrn.nets.textproto import parse_text
from caffe_lrn.schema import NetParameter
from conftest import BVLC_NETS, DATA, EXAMPLES
from fuzzing import assert_one_line_error, run_cli

CLI = "import sys; from caffe_lrn.cli import main; sys.exit(main(sys.argv[1:]))"
# The same, reporting the process's peak resident memory (KiB) on stderr's last line.
CLI_PEAK = ("import resource, sys; from caffe_lrn.cli import main; code = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
            "sys.exit(code)")
CIFAR_MODEL = EXAMPLES / "cifar10_full.caffemodel"


def test_closed_pipe_ends_quietly_with_exit_0():
    """``caffe-lrn inspect --json NET | head -1``: the reader leaves before the output ends."""
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "inspect", "--json",
         str(BVLC_NETS / "googlenet_deploy.prototxt")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # no reader: every write fails with EPIPE
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, err
    assert err == ""


def test_plot_without_matplotlib_fails_before_the_work(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "ulps.png"
    code, stdout, err = run_cli(["verify", "--example", "--plot", str(out)])
    assert_one_line_error(code, err)
    assert "matplotlib (for --plot) is not installed" in err and "pip install matplotlib" in err
    assert "caffe-lrn[" not in err  # an extra's name only installs from an index
    assert stdout == ""  # nothing was verified first
    assert not out.exists()


def test_against_a_missing_framework_fails_before_the_work(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    code, stdout, err = run_cli(["verify", "--example", "--against", "onnx"])
    assert_one_line_error(code, err)
    assert "pip install onnx onnxruntime" in err and stdout == ""


@pytest.mark.parametrize("argv", [
    ["--debug", "inspect", "no-such.prototxt"],
    ["inspect", "no-such.prototxt", "--debug"],
    ["inspect", "--debug", "no-such.prototxt"],
])
def test_debug_is_accepted_before_and_after_the_command(argv):
    from caffe_lrn.errors import InputFileError

    with pytest.raises(InputFileError, match="no-such.prototxt: no such file"):
        run_cli(argv)


def test_without_debug_the_error_is_one_line():
    code, _, err = run_cli(["inspect", "no-such.prototxt"])
    assert_one_line_error(code, err)


@pytest.mark.parametrize("command", ["inspect", "upgrade", "run", "convert", "verify", "bench"])
def test_help_is_plain_text(command, capsys):
    code, out, _ = run_cli([command, "--help"])
    assert code == 0
    assert out.startswith("usage: caffe-lrn " + command)
    for markup in ("``", ":class:", ":mod:", ":func:", ":data:"):
        assert markup not in out, (command, markup)


def test_bench_help_describes_the_command():
    code, out, _ = run_cli(["bench", "--help"])
    assert code == 0
    assert "Time the LRN engine against PyTorch, TensorFlow" in out


@pytest.fixture
def three_axis_blob(tmp_path):
    path = tmp_path / "x3.npy"
    np.save(path, np.ones((6, 5, 4), np.float32))
    return path


def test_run_reports_the_shape_it_was_given(three_axis_blob, tmp_path):
    out = tmp_path / "out.npz"
    code, _, err = run_cli(["run", "--lrn-param", "local_size: 3", "--input",
                            str(three_axis_blob), "-o", str(out)])
    assert_one_line_error(code, err)
    assert "got 3 axes, shape (6, 5, 4)" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["out.txt", "out", "out.npz.bak"])
def test_run_refuses_an_unknown_output_extension(name, tmp_path):
    bottom = tmp_path / "x.npy"
    np.save(bottom, np.ones((2, 3, 4, 5), np.float32))
    out = tmp_path / name
    code, _, err = run_cli(["run", "--lrn-param", "local_size: 3", "--input", str(bottom),
                            "-o", str(out)])
    assert code == 2
    assert "unknown extension" in err and "OUT.npz" in err and "OUT.npy" in err
    assert not out.exists()


def test_run_api_refuses_an_unknown_output_extension(tmp_path):
    from caffe_lrn.errors import ParameterError
    from caffe_lrn.io.stream import run_npy
    from caffe_lrn.params import LRNParams

    bottom = tmp_path / "x.npy"
    np.save(bottom, np.ones((2, 3, 4, 5), np.float32))
    with pytest.raises(ParameterError, match=r"unknown output extension \.txt"):
        run_npy(LRNParams(local_size=3), bottom, tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()


def _without_blobs(net):
    net = NetParameter.FromString(net.SerializeToString())
    for layer in net.layer:
        del layer.blobs[:]
    for layer in net.layers:
        del layer.blobs[:]
        del layer.layer.blobs[:]
    return net


def _v1_binary(tmp_path):
    """A V1 (``layers``) binary net with blobs on both V1 and V0 layer messages."""
    net = parse_text((DATA / "nets" / "legacy" / "alexnet_v1.prototxt").read_text(),
                     NetParameter())
    for index, layer in enumerate(net.layers):
        blob = layer.blobs.add()
        blob.data.extend(np.arange(10 + index, dtype=np.float32))
        layer.layer.blobs.add().data.extend([1.0, 2.0])
    path = tmp_path / "v1.caffemodel"
    path.write_bytes(net.SerializeToString())
    return path


def test_reading_without_blobs_keeps_everything_else(tmp_path):
    paths = [CIFAR_MODEL, _v1_binary(tmp_path)] + sorted(BVLC_NETS.glob("*.prototxt"))
    for path in paths:
        full, form = read_net(path)
        light, light_form = read_net_without_blobs(path)
        assert light_form == form
        assert light == _without_blobs(full), path
    assert sum(len(layer.blobs) for layer in read_net(CIFAR_MODEL)[0].layer) > 0


def test_reading_a_broken_binary_without_blobs_reports_like_read_net(tmp_path):
    from caffe_lrn.errors import NetParseError

    data = CIFAR_MODEL.read_bytes()
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(NetParseError) as full:
        read_net(cut)
    with pytest.raises(NetParseError) as light:
        read_net_without_blobs(cut)
    assert str(light.value) == str(full.value)


def _varint(value):
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def _peak_kib(argv):
    done = subprocess.run([sys.executable, "-c", CLI_PEAK, *argv], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout, int(done.stderr.splitlines()[-1])


def test_inspect_of_a_large_caffemodel_does_not_load_its_weights(tmp_path):
    """64 MiB of weights added to the cifar10 net: inspect's peak memory grows by far less
    than that (the weights are skipped, not read), and it lists the same LRN layers."""
    net, _ = read_net(CIFAR_MODEL)
    weights = np.random.default_rng(0).standard_normal(16 * 2**20).astype(np.float32)
    convolutions = [layer for layer in net.layer if layer.type == "Convolution"]
    for layer, part in zip(convolutions, np.array_split(weights, len(convolutions))):
        # BlobProto.data (field 5, packed floats) written directly: extending the repeated
        # field from Python would take seconds.
        raw = part.astype("<f4").tobytes()
        layer.blobs.add().ParseFromString(b"\x2a" + _varint(len(raw)) + raw)
    big = tmp_path / "big.caffemodel"
    big.write_bytes(net.SerializeToString())
    del net, weights
    size_kib = big.stat().st_size // 1024
    assert size_kib > 64 * 1024
    small_out, small_peak = _peak_kib(["inspect", "--json", str(CIFAR_MODEL)])
    big_out, big_peak = _peak_kib(["inspect", "--json", str(big)])
    assert json.loads(big_out) == json.loads(small_out)
    assert len(json.loads(big_out)) == 2
    assert big_peak - small_peak < size_kib // 4, (small_peak, big_peak, size_kib)
