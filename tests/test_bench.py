"""The benchmark harness: configuration, output checks, report and flags, the CLI.

Timings are never asserted (they depend on the machine); what is asserted is the shape of
the table and the JSON document, the output checks that keep a mis-configured peer out of
"fastest peer", and the goals arithmetic. A float64 textbook LRN stands in for the
engine where the harness's own behaviour is under test, so these tests do not depend on
the engine's progress.
"""
import json
import os
import tempfile

import numpy as np
import pytest

from caffe_lrn.bench import measure as bench, peers as bench_peers, report as bench_report
from caffe_lrn.bench.peers import EXACT, FAST, FLOOR, PEER, Implementation, Runner, Unavailable
from caffe_lrn.cli import main
from caffe_lrn.params import LRNParams


# ---------------------------------------------------------------------------- a stand-in engine

def _box_sum(a, n):
    """Sum over an n x n window (zero padding (n-1)/2 each side) of an NCHW array."""
    pad = (n - 1) // 2
    padded = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros_like(a)
    for dh in range(n):
        for dw in range(n):
            out += padded[:, :, dh:dh + a.shape[2], dw:dw + a.shape[3]]
    return out


def _channel_sum(a, n):
    pad = (n - 1) // 2
    padded = np.pad(a, ((0, 0), (pad, pad), (0, 0), (0, 0)))
    return sum(padded[:, c:c + a.shape[1]] for c in range(n))


class TextbookLayer:
    """LRN-SPEC's formulas in float64 (not Caffe's order of operations), rounded to float32."""

    def __init__(self, params, alpha_factor=1.0):
        self.p = params
        self.alpha = params.alpha * alpha_factor  # a factor != 1 mimics a mis-set peer

    def forward(self, bottom):
        p, x = self.p, bottom.astype(np.float64)
        n = p.local_size
        if p.within:
            self.scale = 1.0 + self.alpha / (n * n) * _box_sum(x * x, n)
        else:
            self.scale = p.k + self.alpha / n * _channel_sum(x * x, n)
        self.x = x
        self.top = x * self.scale ** -p.beta
        return self.top.astype(np.float32)

    def backward(self, top_diff):
        p, x, dy = self.p, self.x, top_diff.astype(np.float64)
        n = p.local_size
        first = dy * self.scale ** -p.beta
        ratio = dy * self.top / self.scale
        if p.within:
            second = 2 * self.alpha * p.beta / (n * n) * x * _box_sum(ratio, n)
        else:
            second = 2 * self.alpha * p.beta / n * x * _channel_sum(ratio, n)
        return (first - second).astype(np.float32)


def _standin(name="exact", kind=EXACT, alpha_factor=1.0, mode_alpha_factor=None):
    """The textbook layer as an implementation; ``mode_alpha_factor``: give it a second
    mode of execution ("chunk_images=1") computing with that factor."""
    def prepare_with(factor):
        def prepare(case, bottom, top_diff, threads):
            layer = TextbookLayer(case.params, factor)
            layer.forward(bottom)
            return Runner(forward=lambda: layer.forward(bottom),
                          backward=lambda: layer.backward(top_diff))
        return prepare

    def modes(case, bottom, top_diff, threads):
        return {"chunk_images=1": prepare_with(mode_alpha_factor)(case, bottom, top_diff,
                                                                  threads)}
    return Implementation(name, kind, f"textbook x{alpha_factor:g}", lambda: "test",
                          prepare_with(alpha_factor),
                          make_layer=lambda params, threads: TextbookLayer(params),
                          modes=None if mode_alpha_factor is None else modes)


def _unavailable(name, kind):
    def probe():
        raise Unavailable("not built in this test")
    return Implementation(name, kind, name, probe, None)


def _floor():
    return next(i for i in bench_peers.default_registry() if i.kind == FLOOR)


@pytest.fixture
def standin_registry(monkeypatch):
    registry = [_standin(mode_alpha_factor=1.0), _unavailable("fast", FAST), _floor()]
    monkeypatch.setattr(bench_peers, "default_registry", lambda: registry)
    return registry


# ---------------------------------------------------------------------------- the CLI run

def test_quick_run_prints_table_and_writes_json(standin_registry, tmp_path, capsys,
                                                monkeypatch):
    out = tmp_path / "bench.json"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # where the verify dump goes
    code = main(["bench", "--quick", "--in-process", "--peers", "floor", "--threads", "1,2",
                 "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if line.split()[:2] == ["case", "pass"])
    for column in ("pass", "thr", "exact", "fast", "floor", "best peer", "exact/best",
                   "fast/best", "fast/floor"):
        assert column in header
    rows = [line.split() for line in text.split("(flags:")[0].splitlines()
            if line[:2] in ("A ", "B ", "C ")]
    assert sorted((r[0], r[1], r[2]) for r in rows) == sorted(
        (c, p, t) for c in "ABC" for p in ("forward", "backward") for t in "12")
    assert "QUICK configuration" in text
    assert "performance goals:" in text

    doc = json.loads(out.read_text())
    assert set(doc) >= {"schema", "meaningful", "machine", "config", "cases", "implementations",
                        "cells", "memory", "thread_scaling", "identity", "goals",
                        "targets", "notes"}
    assert doc["meaningful"] is False
    assert set(doc["machine"]) >= {"cpu", "cores", "python", "numpy", "load_average"}
    assert set(doc["goals"]) == {"exact_vs_fastest_peer", "fast_vs_peer_and_floor",
                                      "two_thread_speedup", "memory",
                                      "bit_identical_across_modes",
                                      "verify_vs_forward_and_read"}
    # The verify case: 3 files of 2 images of A's quick shape, checked at 1 and 2 threads.
    assert [(v["threads"], v["files"], v["passed"], v["compared"]) for v in doc["verify"]] == [
        (1, 3, True, 3 * 2 * 12 * 7 * 5), (2, 3, True, 3 * 2 * 12 * 7 * 5)]
    assert all(v["verify_over_forward_and_read"] > 0 and v["gb_per_s"] > 0
               for v in doc["verify"])
    assert "GB/s of dump" in text and "verify / (forward + read)" in text
    assert list(temporary.iterdir()) == []  # the dump is removed afterwards
    assert [c["shape"] for c in doc["cases"]] == [list(bench.QUICK_SHAPES[n]) for n in "ABC"]
    assert len(doc["cells"]) == 12
    for cell in doc["cells"]:
        assert cell["times"]["exact"]["runs"] == 1
        assert cell["times"]["exact"]["median_ms"] > 0
        assert "na" in cell["times"]["fast"]
        assert cell["checks"]["floor"]["ok"] and cell["checks"]["floor"]["max_ulp"] <= 1
        assert set(cell["summary"]) >= {"best_peer", "exact_over_best_peer", "fast_over_floor"}
        assert cell["summary"]["best_peer"] is None  # the floor is not a peer
        assert cell["summary"]["exact_over_floor"] > 0
        assert (cell["flags"] != {}) == (cell["threads"] == 1)
    # The stand-in is deterministic: its outputs agree bit for bit in all four modes.
    assert doc["identity"]["flag"] == "PASS"
    assert doc["identity"]["modes"] == ["threads=1", "threads=1 chunk_images=1", "threads=2",
                                        "threads=2 chunk_images=1"]
    assert len(doc["identity"]["per_cell"]) == 6 and all(doc["identity"]["per_cell"].values())
    assert "bit-identical across threads=1, threads=1 chunk_images=1" in text
    assert set(doc["thread_scaling"]["ms_by_threads"]) == {"1", "2"}
    assert doc["thread_scaling"]["speedup_2_over_1"] > 0
    [memory] = doc["memory"]
    assert memory["mode"] == "exact" and memory["case"] == "A"
    assert memory["blob_bytes"] == 2 * 12 * 7 * 5 * 4
    # The float64 stand-in allocates several float64 temporaries: tracemalloc must see them.
    assert memory["peak_extra_bytes"] > 2 * memory["blob_bytes"]
    assert memory["peak_extra_beyond_top_blobs"] == pytest.approx(
        (memory["peak_extra_bytes"] - memory["top_bytes"]) / memory["blob_bytes"])


def test_json_to_stdout_moves_the_table_to_stderr(standin_registry, capsys):
    code = main(["bench", "--quick", "--in-process", "--cases", "C", "--passes", "forward",
                 "--peers", "none", "--threads", "1", "--json", "-"])
    assert code == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [(c["case"], c["pass"], c["threads"]) for c in doc["cells"]] == [("C", "forward", 1)]
    assert set(doc["cells"][0]["times"]) == {"exact", "fast"}
    assert doc["config"]["memory_case"] == "C"
    assert "performance goals" in captured.err


def test_json_output_is_never_overwritten_without_force(standin_registry, tmp_path, capsys):
    out = tmp_path / "bench.json"
    out.write_text("keep me")
    args = ["bench", "--quick", "--in-process", "--cases", "B", "--peers", "none",
            "--threads", "1", "--json", str(out)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("caffe-lrn: error:") and "--force" in err and len(err.splitlines()) == 1
    assert out.read_text() == "keep me"
    assert main(args + ["--force"]) == 0
    assert json.loads(out.read_text())["cells"][0]["case"] == "B"


@pytest.mark.parametrize("option", [["--cases", "A,D"], ["--threads", "0"], ["--threads", "x"],
                                    ["--peers", "caffe"], ["--repeat", "0"], ["--passes", ""]])
def test_bad_options_are_usage_errors(option, capsys):
    assert main(["bench", "--quick"] + option) == 2
    assert "usage:" in capsys.readouterr().err


def test_strict_exit_code_follows_the_flags(monkeypatch, capsys):
    slow = _standin()
    fast_peer = _standin("torch", PEER)
    original = slow.prepare

    def slower(case, bottom, top_diff, threads):  # the same computation, twice over
        runner = original(case, bottom, top_diff, threads)
        return Runner(forward=lambda: (runner.forward(), runner.forward())[1],
                      backward=runner.backward)
    slow.prepare = slower
    registry = [slow, fast_peer]
    monkeypatch.setattr(bench_peers, "default_registry", lambda: registry)
    args = ["bench", "--quick", "--in-process", "--cases", "A", "--passes", "forward",
            "--peers", "torch", "--threads", "1", "--repeat", "5"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "torch" in text
    # Exit 1 only if a flag fails; the stand-ins' timings decide which, so check consistency.
    doc = bench.run(bench.default_config(cases=["A"], passes=["forward"], threads=[1],
                                         peers=["torch"], repeat=5, warmup=1, quick=True),
                    in_process=True)
    failing = "FAIL" in doc["goals"].values()
    assert main(args + ["--strict"]) == (1 if failing else 0)


def test_worker_path_puts_the_package_s_parent_first():
    """The worker's PYTHONPATH starts with the folder that holds caffe_lrn, not caffe_lrn/
    itself (whose io/ would shadow the standard library where io is not frozen: 3.10)."""
    import caffe_lrn

    first = bench._worker_env(1)["PYTHONPATH"].split(os.pathsep)[0]
    assert os.path.samefile(first, os.path.dirname(os.path.dirname(caffe_lrn.__file__)))


def test_subprocess_worker_runs_one_process_per_thread_count(tmp_path, capsys, monkeypatch):
    """The default mode: a fresh interpreter per thread count (no stand-ins cross over),
    which does not import from the directory it was started in (here one holding a file
    named like a standard module)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "json.py").write_text("raise SystemExit('the json.py of the working directory')\n")
    out = tmp_path / "bench.json"
    code = main(["bench", "--quick", "--cases", "C", "--peers", "floor", "--threads", "1,2",
                 "--json", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert sorted({c["threads"] for c in doc["cells"]}) == [1, 2]
    for cell in doc["cells"]:
        assert cell["checks"]["floor"]["ok"]
        assert cell["times"]["floor"]["runs"] == 1
    assert "exact" in doc["implementations"] and "fast" in doc["implementations"]


# ---------------------------------------------------------------------------- checks and flags

def test_a_peer_computing_something_else_is_rejected(monkeypatch):
    """alpha not divided by n (the AlexNet paper's convention) must fail the check."""
    registry = [_standin(), _standin("torch", PEER), _standin("tf", PEER, alpha_factor=5.0)]
    config = bench.default_config(cases=["A", "C"], threads=[1], peers=["torch", "tf"],
                                  repeat=1, warmup=0, quick=True)
    doc = bench.run(config, in_process=True, registry=registry)
    for cell in doc["cells"]:
        good, bad = cell["checks"]["torch"], cell["checks"]["tf"]
        assert good["ok"] and good["max_ulp"] == 0 and good["differing"] == 0
        assert not bad["ok"] and bad["max_rel_err"] > 1e-4 and bad["differing"] > 0
        assert cell["summary"]["rejected_peers"] == ["tf"]
        assert cell["summary"]["best_peer"] == "torch"
        assert set(cell["summary"]["exact_over_peer"]) == {"torch"}
    assert "BAD" in bench_report.format_report(doc)


def test_check_outputs_measures_ulps_and_nan_patterns():
    expected = np.array([1.0, 2.0, np.nan, -3.0], np.float32)
    got = expected.copy()
    got[0] = np.nextafter(np.nextafter(got[0], np.float32(2)), np.float32(2))
    check = bench.check_outputs(got, expected)
    assert check["max_ulp"] == 2 and check["differing"] == 1 and check["ok"]
    got[2] = 0.0
    check = bench.check_outputs(got, expected)
    assert check["max_ulp"] is None and check["nan_mismatch"] == 1 and not check["ok"]
    assert not bench.check_outputs(expected[:3], expected)["ok"]


def _cell(case, p, threads, times, checks=None):
    return {"case": case, "pass": p, "threads": threads, "checks": checks or {},
            "digests": {"exact": f"{case}{p}"},
            "times": {n: ({"median_ms": t} if t is not None else {"na": "x"})
                      for n, t in times.items()}}


def _result(threads, cells, memory=()):
    kinds = {"exact": EXACT, "fast": FAST, "torch": PEER, "cv2": PEER, "floor": FLOOR}
    return {"threads": threads, "engine_threads": True, "cells": cells, "memory": list(memory),
            "notes": [], "implementations": {n: {"label": n, "kind": k, "version": "1",
                                                 "unavailable": None}
                                             for n, k in kinds.items()}}


def test_goal_arithmetic():
    config = bench.default_config(cases=["A", "C"], threads=[1, 2], quick=True)
    bad_cv2 = {"cv2": {"ok": False, "max_ulp": 4000.0, "max_rel_err": 2e-3, "differing": 9}}
    one = [
        _cell("A", "forward", 1, {"exact": 40.0, "fast": 10.0, "torch": 300.0, "cv2": 58.0,
                                  "floor": 12.0}),
        _cell("A", "backward", 1, {"exact": 61.0, "fast": None, "torch": 60.0, "cv2": None,
                                   "floor": 12.0}),
        # cv2 is fastest but computes something else: it must not count.
        _cell("C", "forward", 1, {"exact": 5.0, "fast": 3.0, "torch": 6.0, "cv2": 1.0,
                                  "floor": 1.0}, checks=bad_cv2),
    ]
    two = [_cell("A", "forward", 2, {"exact": 24.0, "fast": 6.0, "torch": 200.0, "cv2": 30.0,
                                     "floor": 12.0})]
    blob = 32 * 96 * 55 * 55 * 4
    memory = {"mode": "exact", "case": "A", "blob_bytes": blob, "top_bytes": blob,
              "peak_extra_bytes": int(2.4 * blob), "peak_extra_blobs": 2.4,
              "peak_extra_beyond_top_blobs": 1.4, "retained_bytes": 2 * blob,
              "maxrss_growth_bytes": 0}
    doc = bench_report.build_report(config, bench.machine_info(),
                                    [_result(1, one, [memory]), _result(2, two)])
    cells = {(c["case"], c["pass"], c["threads"]): c for c in doc["cells"]}
    a_fwd = cells[("A", "forward", 1)]
    assert a_fwd["summary"]["best_peer"] == "cv2"
    assert a_fwd["summary"]["exact_over_best_peer"] == pytest.approx(40 / 58)
    assert a_fwd["summary"]["fast_over_floor"] == pytest.approx(10 / 12)
    assert a_fwd["flags"] == {"exact_vs_peer": "PASS", "fast_vs_peer_and_floor": "PASS"}
    a_bwd = cells[("A", "backward", 1)]
    assert a_bwd["flags"] == {"exact_vs_peer": "FAIL", "fast_vs_peer_and_floor": "n/a"}
    c_fwd = cells[("C", "forward", 1)]
    assert c_fwd["summary"]["best_peer"] == "torch" and c_fwd["summary"]["rejected_peers"] == ["cv2"]
    # fast 3.0 vs torch 6.0 is 0.5x (passes) but vs floor 1.0 is 3x (fails).
    assert c_fwd["flags"]["fast_vs_peer_and_floor"] == "FAIL"
    assert cells[("A", "forward", 2)]["flags"] == {}
    assert doc["thread_scaling"]["speedup_2_over_1"] == pytest.approx(40 / 24)
    assert doc["goals"] == {"exact_vs_fastest_peer": "FAIL",
                                 "fast_vs_peer_and_floor": "FAIL",
                                 "two_thread_speedup": "PASS", "memory": "PASS",
                                 "bit_identical_across_modes": "PASS",
                                 "verify_vs_forward_and_read": "n/a"}
    text = bench_report.format_report(doc)
    assert "1.67x" in text and "0.69x" in text


def test_thread_speedup_is_not_judged_without_engine_threads_and_noise_is_reported():
    config = bench.default_config(cases=["A"], threads=[1, 2], quick=True)
    one = [_cell("A", "forward", 1, {"exact": 2000.0, "floor": 27.0})]
    two = [_cell("A", "forward", 2, {"exact": 1000.0, "floor": 13.5})]
    results = [_result(1, one), _result(2, two)]
    for result in results:
        result["engine_threads"] = False
    doc = bench_report.build_report(config, bench.machine_info(), results)
    scaling = doc["thread_scaling"]
    assert scaling["speedup_2_over_1"] == pytest.approx(2.0)
    assert scaling["flag"] == "n/a" and doc["goals"]["two_thread_speedup"] == "n/a"
    assert scaling["floor_spread"] == pytest.approx(2.0) and scaling["noisy"]
    assert any("machine was busy" in note for note in doc["notes"])
    assert "engine has no thread setting" in bench_report.format_report(doc)


def test_identity_flag_fails_when_threads_change_the_bits():
    config = bench.default_config(cases=["A"], threads=[1, 2], quick=True)
    one = [_cell("A", "forward", 1, {"exact": 1.0})]
    two = [_cell("A", "forward", 2, {"exact": 1.0})]
    two[0]["digests"]["exact"] = "different"
    doc = bench_report.build_report(config, bench.machine_info(), [_result(1, one),
                                                                    _result(2, two)])
    assert doc["identity"]["per_cell"] == {"A forward": False}
    assert doc["goals"]["bit_identical_across_modes"] == "FAIL"
    assert doc["goals"]["memory"] == "n/a"


def test_a_mode_of_execution_changing_the_bits_fails_identity():
    registry = [_standin(mode_alpha_factor=1.0 + 1e-3)]
    config = bench.default_config(cases=["B"], threads=[1], peers=[], repeat=1, warmup=0,
                                  quick=True)
    doc = bench.run(config, in_process=True, registry=registry)
    assert doc["identity"]["per_cell"] == {"B backward": False, "B forward": False}
    assert doc["goals"]["bit_identical_across_modes"] == "FAIL"
    assert "B forward NO" in bench_report.format_report(doc)


def test_time_rounds_interleaves_and_respects_repeat_warmup_and_budget():
    order = []

    def call(key):
        return lambda: order.append(key) or len(order)

    timed, failed = bench.time_rounds({"a": call("a"), "b": call("b")}, 3, 1, 60.0)
    assert failed == {}
    assert order == ["a", "b", "a", "b", "a", "b", "a", "b"]  # warm-up, then rounds
    assert [len(timed[k][0]) for k in "ab"] == [3, 3] and timed["b"][1] == 8

    def broken():
        raise RuntimeError("no kernel")
    order.clear()
    timed, failed = bench.time_rounds({"slow": call("slow"), "bad": broken}, 7, 0, 0.0)
    assert len(timed["slow"][0]) == 3  # over budget at once: stops at the minimum of three
    assert set(failed) == {"bad"} and "no kernel" in str(failed["bad"])
    timed, _ = bench.time_rounds({"one": lambda: None}, 1, 0, 0.0)
    assert len(timed["one"][0]) == 1


# ---------------------------------------------------------------------------- the cases

def test_cases_are_the_documented_ones():
    a, b, c = (bench.make_case(n) for n in "ABC")
    assert a.shape == (32, 96, 55, 55) and b.shape == (32, 256, 27, 27)
    assert c.shape == (100, 32, 16, 16)
    assert a.params == b.params == LRNParams(local_size=5, alpha=1e-4, beta=0.75, k=1.0)
    assert c.params == LRNParams(local_size=3, alpha=5e-5, beta=0.75,
                                 norm_region="WITHIN_CHANNEL")
    for name, shape in bench.QUICK_SHAPES.items():
        assert len(set(shape)) == 4  # N, C, H, W all different
        assert bench.make_case(name, quick=True).params == bench.make_case(name).params


def test_case_inputs_are_seeded_relu_gaussians():
    case = bench.make_case("B", quick=True)
    bottom, top_diff = case.inputs()
    again, _ = case.inputs()
    assert bottom.dtype == top_diff.dtype == np.float32 and bottom.shape == case.shape
    assert np.array_equal(bottom, again)
    assert bottom.min() == 0 and 0.3 < np.mean(bottom == 0) < 0.7 and bottom.max() > 10
    assert top_diff.min() < 0 < top_diff.max()


def test_floor_checks_itself_against_a_float64_power():
    case = bench.make_case("A", quick=True)
    bottom, top_diff = case.inputs()
    runner = _floor().prepare(case, bottom, top_diff, 1)
    got = np.array(runner.forward())
    expected, _ = runner.reference()
    assert bench.check_outputs(got, expected)["max_ulp"] <= 1
    base = 1 + np.float64(np.float32(1e-4) / 5) * bottom.astype(np.float64) ** 2
    assert np.allclose(got, base ** -0.75, rtol=1e-6)


def test_peer_models_carry_the_parameters():
    """The prototxt OpenCV reads states Caffe's own parameters (float32 shortest text)."""
    text = bench_peers.lrn_prototxt(bench.make_case("C").params, (100, 32, 16, 16))
    assert "dim: 100 dim: 32 dim: 16 dim: 16" in text
    assert "local_size: 3 alpha: 0.00005 beta: 0.75 k: 1 norm_region: WITHIN_CHANNEL" in text


# ---------------------------------------------------------------------------- real peers

PEER_MODULES = {"torch": "torch", "tf": "tensorflow", "ort": "onnxruntime", "cv2": "cv2"}


@pytest.mark.frameworks
@pytest.mark.parametrize("name", sorted(PEER_MODULES))
@pytest.mark.parametrize("case_name", bench.CASE_NAMES)
def test_installed_peer_agrees_with_the_formula(name, case_name):
    """Each peer, set up as the benchmark sets it up, computes LRN-SPEC's layer."""
    pytest.importorskip(PEER_MODULES[name])
    impl = next(i for i in bench_peers.default_registry() if i.name == name)
    impl.probe()
    case = bench.make_case(case_name, quick=True)
    bottom, top_diff = case.inputs()
    runner = impl.prepare(case, bottom, top_diff, 1)
    layer = TextbookLayer(case.params)
    top = runner.top_of(runner.forward())
    check = bench.check_outputs(top, layer.forward(bottom))
    assert check["ok"], check
    assert check["max_ulp"] <= 8, check
    if runner.backward is not None:
        bottom_diff = runner.bottom_diff_of(runner.backward())
        check = bench.check_outputs(bottom_diff, layer.backward(top_diff))
        assert check["ok"], check


# ---------------------------------------------------------------------------- the engine itself

def test_quick_run_times_the_engine_and_checks_its_modes(tmp_path):
    """The built-in registry: the engine is timed, its modes agree, the floor is checked."""
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--in-process", "--peers", "floor", "--threads", "1",
                 "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["implementations"]["exact"]["version"] is not None
    for cell in doc["cells"]:
        assert cell["times"]["exact"]["median_ms"] > 0
        assert cell["checks"]["floor"]["ok"]
    # One image at a time and the whole batch at once, besides the default chunking.
    assert len(doc["identity"]["modes"]) >= 2
    assert doc["goals"]["bit_identical_across_modes"] == "PASS"
    [memory] = [m for m in doc["memory"] if m["mode"] == "exact"]
    assert memory["top_bytes"] == memory["blob_bytes"]
    assert memory["peak_extra_bytes"] >= memory["top_bytes"]  # the top, at least


def test_engine_output_in_the_benchmark_is_the_layers():
    """What the harness times for the engine is LRNLayer's own result."""
    from caffe_lrn import LRNLayer

    impl = next(i for i in bench_peers.default_registry() if i.kind == EXACT)
    for name in bench.CASE_NAMES:
        case = bench.make_case(name, quick=True)
        bottom, top_diff = case.inputs()
        runner = impl.prepare(case, bottom, top_diff, 1)
        layer = LRNLayer(case.params)
        assert np.array_equal(runner.forward(), layer.forward(bottom))
        assert np.array_equal(runner.backward(), layer.backward(top_diff))


@pytest.mark.frameworks
def test_every_installed_peer_agrees_with_the_engine_in_a_quick_run(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--in-process", "--threads", "1", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    installed = [n for n, info in doc["implementations"].items()
                 if info["kind"] == PEER and info["version"] is not None]
    for cell in doc["cells"]:
        for name in installed:
            if "median_ms" in cell["times"][name]:
                check = cell["checks"][name]
                assert check["ok"] and check["against"] == "exact", (cell["case"], name, check)
                if cell["pass"] == "forward":
                    assert check["max_ulp"] <= 16, (cell["case"], name, check)


@pytest.mark.parametrize("ratio, passed, flag", [(1.2, True, "PASS"), (1.6, True, "FAIL"),
                                                 (1.1, False, "FAIL")])
def test_verify_goal_is_judged_on_one_thread(ratio, passed, flag):
    config = bench.default_config(cases=["A"], threads=[1, 2], quick=True)
    results = []
    for threads, factor in ((1, ratio), (2, 0.5)):
        result = _result(threads, [_cell("A", "forward", threads, {"exact": 40.0})])
        result["verify"] = {"threads": threads, "files": 8, "bytes": 2 * 10**9,
                            "verify_s": 2.0 * factor, "read_s": 0.5, "forward_s": 1.5,
                            "verify_over_forward_and_read": factor, "gb_per_s": 1 / factor,
                            "passed": passed, "compared": 10, "runs": 3}
        results.append(result)
    doc = bench_report.build_report(config, bench.machine_info(), results)
    assert doc["goals"]["verify_vs_forward_and_read"] == flag
    assert [v["threads"] for v in doc["verify"]] == [1, 2]
    assert f"verify / (forward + read) {ratio:.2f}x" in bench_report.format_report(doc)


def test_verify_case_alone_runs_without_lrn_cases(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = tmp_path / "bench.json"
    code = main(["bench", "--quick", "--in-process", "--cases", "V", "--peers", "none",
                 "--threads", "1", "--json", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["cells"] == [] and doc["memory"] == []
    assert [(v["threads"], v["passed"]) for v in doc["verify"]] == [(1, True)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]
