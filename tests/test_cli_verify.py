"""``caffe-lrn verify`` end to end: exit codes, table, JSON, plot, the bundled example."""
import json

import numpy as np
import pytest

from caffe_lrn.cli import main

from conftest import EXAMPLES

ALEXNET = str(EXAMPLES / "alexnet_deploy.prototxt")
CAFFENET = str(EXAMPLES / "caffenet_deploy.prototxt")


@pytest.fixture(scope="module")
def caffenet_blobs():
    with np.load(EXAMPLES / "caffenet_blobs.npz", allow_pickle=False) as z:
        return {key: z[key] for key in z.files}


def _ref(tmp_path, arrays, name="ref.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def _nudge(arrays, blob, index, steps=1):
    out = arrays[blob].copy()
    for _ in range(steps):
        out[index] = np.nextafter(out[index], np.float32(np.inf), dtype=np.float32)
    return dict(arrays, **{blob: out})


def _no_traceback(captured):
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize("net, blobs", [
    ("cifar10_full.caffemodel", "cifar10_full_blobs.npz"),
    ("caffenet_deploy.prototxt", "caffenet_blobs.npz"),
])
def test_bundled_dump_passes_with_zero_differing(capsys, net, blobs):
    code = main(["verify", str(EXAMPLES / net), "--blobs", str(EXAMPLES / blobs)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS: 2 of 2 LRN layers verified" in out
    assert ", 0 differing)" in out
    assert "FAIL" not in out


def test_one_ulp_off_fails_naming_layer_element_and_distance(tmp_path, capsys, caffenet_blobs):
    ref = _ref(tmp_path, _nudge(caffenet_blobs, "norm2", (0, 200, 7, 3)))
    code = main(["verify", CAFFENET, "--blobs", ref])
    out = capsys.readouterr().out
    assert code == 1
    assert "norm2: 1 of 43,264 elements differ" in out
    assert "(n, c, h, w) = (0,200,7,3)" in out
    assert "1 ULP" in out
    assert out.rstrip().splitlines()[-1].startswith("FAIL: 1 failed of 2 LRN layers")
    assert main(["verify", CAFFENET, "--blobs", ref, "--max-ulp", "1"]) == 0
    assert "PASS: 2 of 2" in capsys.readouterr().out


def test_two_ulp_off_fails_max_ulp_1(tmp_path, capsys, caffenet_blobs):
    ref = _ref(tmp_path, _nudge(caffenet_blobs, "norm1", (0, 1, 2, 3), steps=2))
    assert main(["verify", CAFFENET, "--blobs", ref, "--max-ulp", "1"]) == 1
    assert "2 ULP" in capsys.readouterr().out


def test_nan_pattern_mismatch_fails_even_with_max_ulp(tmp_path, capsys, caffenet_blobs):
    top = caffenet_blobs["norm1"].copy()
    top[0, 3, 4, 5] = np.nan
    ref = _ref(tmp_path, dict(caffenet_blobs, norm1=top))
    code = main(["verify", CAFFENET, "--blobs", ref, "--max-ulp", "100000"])
    captured = capsys.readouterr()
    assert code == 1
    assert "NaN/inf pattern differs: 1 NaN" in captured.out
    _no_traceback(captured)


def test_missing_blob_is_explained_in_a_row(tmp_path, capsys, caffenet_blobs):
    ref = _ref(tmp_path, {k: v for k, v in caffenet_blobs.items() if k != "norm2"})
    code = main(["verify", CAFFENET, "--blobs", ref])
    captured = capsys.readouterr()
    assert code == 1
    assert "UNVERIFIABLE" in captured.out
    assert ("norm2: not verifiable: the reference has no top blob 'norm2'; it has: "
            "input__data, norm1, pool1, pool2") in captured.out
    assert "1 not verifiable of 2 LRN layers" in captured.out
    _no_traceback(captured)


def test_shape_mismatch_is_explained(tmp_path, capsys, caffenet_blobs):
    ref = _ref(tmp_path, dict(caffenet_blobs, norm1=caffenet_blobs["norm1"][:, :, :26]))
    code = main(["verify", CAFFENET, "--blobs", ref])
    captured = capsys.readouterr()
    assert code == 1
    assert "top blob 'norm1' has shape (1, 96, 26, 27)" in captured.out
    _no_traceback(captured)


def test_in_place_overwrite_by_a_later_layer_is_explained(tmp_path, capsys):
    text = (EXAMPLES / "caffenet_deploy.prototxt").read_text()
    # An in-place ReLU after norm1: the dumped norm1 would be the ReLU's output.
    text = text.replace('layer {\n  name: "conv2"',
                        'layer { name: "relu_n1" type: "ReLU" bottom: "norm1" top: "norm1" }\n'
                        'layer {\n  name: "conv2"', 1)
    assert "relu_n1" in text
    net = tmp_path / "caffenet_relu.prototxt"
    net.write_text(text)
    code = main(["verify", str(net), "--blobs", str(EXAMPLES / "caffenet_blobs.npz")])
    captured = capsys.readouterr()
    assert code == 1
    assert ("norm1: not verifiable: blob 'norm1' (norm1's top) is overwritten in place by a "
            "later layer, 'relu_n1' (ReLU)") in captured.out
    assert "norm2" in captured.out and "PASS" in captured.out
    _no_traceback(captured)


def test_unknown_layer_is_one_line_error(capsys):
    code = main(["verify", CAFFENET, "--blobs", str(EXAMPLES / "caffenet_blobs.npz"),
                 "--layer", "norm9"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.strip() == ("caffe-lrn: error: no layer named 'norm9' in the net; "
                                    "its LRN layers are: norm1, norm2")


def test_layer_option_checks_only_that_layer(capsys):
    code = main(["verify", CAFFENET, "--blobs", str(EXAMPLES / "caffenet_blobs.npz"),
                 "--layer", "norm2", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [layer["layer"] for layer in document["runs"][0]["layers"]] == ["norm2"]


def test_missing_reference_file_is_one_line_error(tmp_path, capsys):
    code = main(["verify", CAFFENET, "--blobs", str(tmp_path / "none.npz")])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith("caffe-lrn: error: ") and "no such file" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_json_schema(tmp_path, capsys, caffenet_blobs):
    ref = _ref(tmp_path, _nudge(caffenet_blobs, "norm1", (0, 95, 26, 0)))
    code = main(["verify", CAFFENET, "--blobs", ref, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert set(document) == {"schema", "caffe_lrn_version", "passed", "policy", "summary",
                             "runs"}
    assert document["schema"] == "caffe-lrn/verify/3"
    assert document["passed"] is False
    assert document["policy"] == {"max_ulp": None, "against": [], "against_max_ulp": None,
                                  "native": False, "fast": False, "profile": "auto"}
    summary = document["summary"]
    worst = summary.pop("worst")
    per_layer = summary.pop("per_layer")
    # norm2 is the default build's; the nudged norm1 is no build's, so none gives both.
    assert summary.pop("profile") == {"matching": [], "builds": "no known Caffe build"}
    assert summary == {"runs": 1, "files": 1, "layers": 2, "passed": 1, "failed": 1,
                       "unverifiable": 0, "compared": 96 * 27 * 27 + 256 * 13 * 13,
                       "differing": 1}
    assert (worst["blobs"], worst["layer"], worst["index"], worst["ulp"]) == (
        ref, "norm1", [0, 95, 26, 0], 1.0)
    assert [(t["layer"], t["runs"], t["differing"], t["failed"]) for t in per_layer] == [
        ("norm1", 1, 1, 1), ("norm2", 1, 0, 0)]
    run = document["runs"][0]
    assert set(run) == {"title", "net", "net_name", "phase", "blobs", "blobs_format",
                        "passed", "layers"}
    assert run["phase"] == "TEST"
    assert run["blobs_format"] == "npz" and run["net_name"] == "CaffeNet"
    layer = run["layers"][0]
    assert set(layer) == {"layer", "index", "bottom", "top", "lrn_param", "shape", "dtype",
                          "status", "reason", "seconds", "metrics", "profile", "against"}
    assert (layer["layer"], layer["bottom"], layer["top"], layer["status"]) == (
        "norm1", "pool1", "norm1", "fail")
    assert layer["shape"] == [1, 96, 27, 27] and layer["dtype"] == "float32"
    assert layer["lrn_param"]["local_size"] == 5
    assert layer["lrn_param"]["alpha"] == float(np.float32(0.0001))
    metrics = layer["metrics"]
    assert metrics["differing"] == 1 and metrics["max_ulp"] == 1.0
    assert metrics["worst"]["index"] == [0, 95, 26, 0] and metrics["worst"]["ulp"] == 1.0
    # Every build was tried; the closest is the default, one element away.
    assert layer["profile"]["compared"] == "openblas-avx512"
    assert layer["profile"]["matching"] == []
    assert run["layers"][1]["profile"]["matching"] == ["openblas-avx512"]


def test_json_writes_non_finite_numbers_as_strings(tmp_path, capsys, caffenet_blobs):
    top = caffenet_blobs["norm2"].copy()
    top[0, 9, 8, 7] = np.nan
    ref = _ref(tmp_path, dict(caffenet_blobs, norm2=top))
    assert main(["verify", CAFFENET, "--blobs", ref, "--json"]) == 1
    metrics = json.loads(capsys.readouterr().out)["runs"][0]["layers"][1]["metrics"]
    assert metrics["nan_mismatch"] == 1 and metrics["pattern_agrees"] is False
    assert metrics["max_ulp"] == "inf"
    assert metrics["worst"]["index"] == [0, 9, 8, 7] and metrics["worst"]["reference"] == "nan"


def test_example_passes_and_explains_itself(capsys):
    code = main(["verify", "--example"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "dumped by BVLC Caffe (commit 9b891540" in out
    for title in ("cifar10_full: PASS", "alexnet: PASS", "caffenet: PASS"):
        assert title in out
    assert "PASS: 6 of 6 LRN layers verified" in out
    assert "matches Caffe's bit for bit" in out
    # ... and names the build that made the dumps (the AlexNet and CaffeNet layers tell).
    assert ("The dumps were made by Caffe on OpenBLAS with its AVX-512 kernels"
            in " ".join(out.split()))


def test_example_json(capsys):
    assert main(["verify", "--example", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [run["title"] for run in document["runs"]] == ["cifar10_full", "alexnet",
                                                         "caffenet"]
    assert document["summary"]["differing"] == 0 and document["summary"]["passed"] == 6


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.kernels)])
def test_example_fast_mode_passes_within_2_ulp(capsys, monkeypatch, backend):
    """--fast runs LRNLayer(exact=False): not Caffe's bits, but within 2 ULP of them."""
    monkeypatch.setenv("CAFFE_LRN_BACKEND", backend)
    assert main(["verify", "--example", "--fast", "--max-ulp", "2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["policy"]["fast"] is True and document["policy"]["max_ulp"] == 2
    layers = [layer for run in document["runs"] for layer in run["layers"]]
    assert len(layers) == 6
    assert all(layer["metrics"]["max_ulp"] <= 2 for layer in layers)
    # Really the fast mode: its power rounds differently from glibc's in places.
    assert document["summary"]["differing"] > 0
    assert main(["verify", "--example", "--fast", "--max-ulp", "2"]) == 0
    out = capsys.readouterr().out
    assert "Fast mode: top within 2 ULP of the exact engine." in out
    assert "PASS: 6 of 6 LRN layers verified" in out


def test_fast_mode_without_max_ulp_fails_and_says_why(capsys):
    assert main(["verify", "--example", "--fast"]) == 1
    out = capsys.readouterr().out
    assert "use --max-ulp 2" in out and "FAIL:" in out
    code = main(["verify", CAFFENET, "--blobs", str(EXAMPLES / "caffenet_blobs.npz"),
                 "--fast"])
    out = capsys.readouterr().out
    assert code == 1
    assert "engine:    fast mode: top within 2 ULP of the exact engine" in out
    assert "use --max-ulp 2" in out


@pytest.mark.parametrize("argv, message", [
    (["verify"], "NET is required"),
    (["verify", CAFFENET], "--blobs REF is required"),
    (["verify", "--example", CAFFENET], "--example takes no NET"),
    (["verify", CAFFENET, "--blobs", "x.npz", "--max-ulp", "-1"], "must be a finite number"),
    (["verify", CAFFENET, "--blobs", "x.npz", "--against", "caffe2"], "invalid choice"),
    (["verify", CAFFENET, "--blobs", "x.npz", "--native"], "--native needs --against"),
    (["verify", CAFFENET, "--blobs", "x.npz", "--force"], "--force applies to --plot"),
])
def test_usage_errors_exit_2(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


# matplotlib is an optional extra ('plot'), installed with the other optional frameworks.
@pytest.mark.frameworks
def test_plot_is_written_and_never_overwritten_without_force(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "ulp.png"
    argv = ["verify", CAFFENET, "--blobs", str(EXAMPLES / "caffenet_blobs.npz"),
            "--plot", str(out)]
    assert main(argv) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = out.read_bytes()
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "exists; pass --force" in captured.err
    assert out.read_bytes() == before
    assert main(argv + ["--force"]) == 0


def test_plot_without_matplotlib_is_a_missing_dependency(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    out = tmp_path / "ulp.png"
    code = main(["verify", CAFFENET, "--blobs", str(EXAMPLES / "caffenet_blobs.npz"),
                 "--layer", "norm2", "--plot", str(out)])
    assert code == 1
    assert "pip install matplotlib" in capsys.readouterr().err
    assert not out.exists()


def test_against_missing_framework_is_one_line_error(capsys, monkeypatch):
    from caffe_lrn.convert import frameworks
    from caffe_lrn.errors import MissingDependencyError

    def not_installed(framework, params, bottom, native=False):
        raise MissingDependencyError(f"{framework} is not installed")

    monkeypatch.setattr(frameworks, "run_layer", not_installed)
    monkeypatch.setattr(frameworks, "import_framework", lambda framework: None)
    code = main(["verify", CAFFENET, "--blobs", str(EXAMPLES / "caffenet_blobs.npz"),
                 "--against", "onnx"])
    captured = capsys.readouterr()
    assert code == 1 and captured.err.strip() == "caffe-lrn: error: onnx is not installed"


def test_against_is_informational_unless_a_threshold_is_given(capsys, monkeypatch):
    from caffe_lrn.convert import frameworks

    calls = []

    def two_ulp_up(framework, params, bottom, native=False):
        from caffe_lrn import LRNLayer

        calls.append((framework, native))
        top = LRNLayer(params).forward(bottom)
        return np.nextafter(np.nextafter(top, np.float32(np.inf)), np.float32(np.inf))

    monkeypatch.setattr(frameworks, "run_layer", two_ulp_up)
    monkeypatch.setattr(frameworks, "import_framework", lambda framework: None)
    argv = ["verify", CAFFENET, "--blobs", str(EXAMPLES / "caffenet_blobs.npz"),
            "--against", "torch", "--json"]
    assert main(argv) == 0
    layer = json.loads(capsys.readouterr().out)["runs"][0]["layers"][0]
    assert layer["status"] == "pass"
    assert (layer["against"][0]["framework"], layer["against"][0]["form"]) == (
        "torch", "caffe-order")
    assert layer["against"][0]["metrics"]["max_ulp"] == 2.0
    assert calls == [("torch", False)] * 2
    assert main(argv + ["--against-max-ulp", "1"]) == 1
    assert "torch is more than 1 ULP from the reference" in capsys.readouterr().out
    assert main(argv + ["--against-max-ulp", "2"]) == 0
    capsys.readouterr()
    calls.clear()
    assert main(argv + ["--native"]) == 0
    assert calls == [("torch", True)] * 2
    layer = json.loads(capsys.readouterr().out)["runs"][0]["layers"][0]
    assert layer["against"][0]["form"] == "native"


@pytest.mark.frameworks
@pytest.mark.parametrize("framework, module", [
    ("tf", "tensorflow"), ("torch", "torch"), ("onnx", "onnxruntime")])
@pytest.mark.parametrize("net, blobs", [
    ("cifar10_full.caffemodel", "cifar10_full_blobs.npz"),
    ("alexnet_deploy.prototxt", "alexnet_blobs.npz"),
    ("caffenet_deploy.prototxt", "caffenet_blobs.npz"),
])
def test_against_real_framework_within_8_ulp(capsys, framework, module, net, blobs):
    pytest.importorskip(module)
    code = main(["verify", str(EXAMPLES / net), "--blobs", str(EXAMPLES / blobs),
                 "--against", framework, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    for layer in document["runs"][0]["layers"]:
        (theirs,) = layer["against"]
        assert theirs["framework"] == framework and theirs["error"] is None
        assert theirs["metrics"]["compared"] == layer["metrics"]["compared"]
        assert theirs["metrics"]["pattern_agrees"] is True
        assert theirs["metrics"]["max_ulp"] <= 8, (layer["layer"], theirs["metrics"])
