"""Benchmark: this project's LRN engine against its peers, measured honestly.

Cases, float32, seeded realistic inputs (ReLU'd Gaussian x 10, as after a conv+ReLU):

* A: ACROSS_CHANNELS (32, 96, 55, 55), local_size 5, alpha 1e-4, beta 0.75, k 1 (AlexNet norm1)
* B: ACROSS_CHANNELS (32, 256, 27, 27), same parameters (AlexNet norm2)
* C: WITHIN_CHANNEL (100, 32, 16, 16), local_size 3, alpha 5e-5, beta 0.75 (cifar10_full norm1)

Each (case, pass, thread count) cell is the median of repeated calls after warm-up. Each
thread count runs in its own fresh process whose BLAS/OpenMP/TensorFlow thread settings are
fixed in the environment before NumPy or any framework loads (they cannot be changed
afterwards); every implementation of one thread count runs in that one process on the same
inputs, timed in interleaved rounds (one call of each per round) so that load from elsewhere
on a shared machine falls on all of them alike. Every peer's output is checked against the exact engine's
(max float32 ULP, relative error) so that a mis-configured peer cannot win by computing
something else; a peer that fails its check is left out of "fastest peer".

Memory: the extra memory of the exact engine's forward on the memory case, by
``tracemalloc`` (NumPy reports its buffers to it): the peak above what was allocated before
the call, also without the top blob the call returns; and the process's ``ru_maxrss`` growth.

``run(config)`` returns the report (a JSON-ready dict); ``caffe_lrn.bench.report`` formats it.
"""
import gc
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

from caffe_lrn.bench import peers as bench_peers, report as bench_report
from caffe_lrn.bench.cases import (  # noqa: F401 (the measuring API names its cases)
    CASE_NAMES, FULL_SHAPES, QUICK_SHAPES, BenchCase, make_case,
)
from caffe_lrn.bench.peers import EXACT, FAST, Unavailable
from caffe_lrn.bench.verify_case import make_dump, measure_verify
from caffe_lrn.errors import CaffeLRNError
from caffe_lrn.numerics.ulp import count_differing, ulp_distance

PASSES = ("forward", "backward")

#: A peer agrees with the engine when its largest error, relative to the largest magnitude
#: of the engine's blob, is below this; mis-set parameters (alpha not divided by n, k
#: where Caffe uses 1) change results by 1e-3 and more on these inputs.
CHECK_REL_TOLERANCE = 1e-5

#: The environment variables that fix a thread count before the libraries load.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
              "CAFFE_LRN_THREADS")


def default_config(cases=CASE_NAMES, passes=PASSES, threads=None, peers=None,
                   repeat=7, warmup=2, budget=20.0, quick=False, memory_case="A",
                   verify=True):
    """The benchmark's configuration as a JSON-ready dict (what the worker processes get)."""
    if threads is None:
        threads = sorted({1, os.cpu_count() or 1})
    if peers is None:
        peers = list(bench_peers.PEER_NAMES)
    return {"cases": list(cases), "passes": list(passes), "threads": list(threads),
            "peers": list(peers), "repeat": int(repeat), "warmup": int(warmup),
            "budget": float(budget), "quick": bool(quick), "verify": bool(verify),
            "memory_case": (memory_case if memory_case in cases
                            else next(iter(cases), None))}


# ---------------------------------------------------------------------------- measuring

def time_rounds(calls, repeat, warmup, budget):
    """Time zero-argument callables in interleaved rounds; {key: (seconds list, last result)}.

    Each callable is called ``warmup`` times, then round after round every callable is
    timed once, so that a burst of load from elsewhere on a shared machine falls on all
    implementations alike rather than on whichever ran at that moment. A callable drops out
    after ``repeat`` timed calls, or once its calls took ``budget`` seconds and at least three
    (or ``repeat``, if fewer) are timed, so a very slow peer cannot stall the run.
    A callable that raises is reported as ``{key: exception}`` in the second dict returned.
    The garbage collector is paused while timing.
    """
    times = {key: [] for key in calls}
    last = {}
    failed = {}
    for key, fn in calls.items():
        try:
            for _ in range(warmup):
                last[key] = fn()
        except Exception as exc:  # a peer that breaks must not end the run; say why
            failed[key] = exc
    active = [key for key in calls if key not in failed]
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        while active:
            for key in list(active):
                try:
                    t0 = time.perf_counter()
                    last[key] = calls[key]()
                    times[key].append(time.perf_counter() - t0)
                except Exception as exc:
                    failed[key] = exc
                    active.remove(key)
                    continue
                done = len(times[key])
                if done >= max(1, repeat) or (sum(times[key]) > budget
                                              and done >= min(3, repeat)):
                    active.remove(key)
    finally:
        if enabled:
            gc.enable()
    timed = {key: (times[key], last.get(key)) for key in calls if key not in failed}
    return timed, failed


def check_outputs(got, expected):
    """How far ``got`` is from ``expected``: max float32 ULP, differing count, relative error."""
    got = np.asarray(got, dtype=np.float32)
    expected = np.asarray(expected, dtype=np.float32)
    if got.shape != expected.shape:
        return {"ok": False, "error": f"shape {list(got.shape)}, expected "
                                      f"{list(expected.shape)}"}
    ulp = ulp_distance(got, expected)
    finite = np.isfinite(expected)
    magnitude = float(np.max(np.abs(expected[finite]), initial=0.0))
    with np.errstate(invalid="ignore"):
        abs_err = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    nan_mismatch = int(np.count_nonzero(np.isnan(got) != np.isnan(expected)))
    max_abs = float(np.max(np.where(np.isnan(abs_err), 0.0, abs_err), initial=0.0))
    rel = max_abs / magnitude if magnitude > 0 else max_abs
    max_ulp = float(np.max(ulp, initial=0.0))
    return {"max_ulp": max_ulp if np.isfinite(max_ulp) else None,
            "differing": count_differing(got, expected), "size": int(got.size),
            "max_rel_err": rel, "nan_mismatch": nan_mismatch,
            "ok": bool(nan_mismatch == 0 and rel <= CHECK_REL_TOLERANCE)}


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


def _progress(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def measure_memory(impl, case, threads):
    """Extra memory of one forward of a fresh layer of ``impl`` on ``case``.

    Bytes and multiples of the blob; the first forward of the process, so that the growth
    of ``ru_maxrss`` (the high-water mark) says something too.
    """
    bottom, _ = case.inputs()
    layer = impl.make_layer(case.params, threads)
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        top = layer.forward(bottom)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    top_bytes = int(np.asarray(top).nbytes)
    blob = case.blob_bytes
    extra = peak - before
    return {"case": case.name, "mode": impl.kind, "blob_bytes": blob,
            "peak_extra_bytes": int(extra), "top_bytes": top_bytes,
            "retained_bytes": int(current - before),
            "peak_extra_blobs": extra / blob,
            "peak_extra_beyond_top_blobs": (extra - top_bytes) / blob,
            "maxrss_growth_bytes": int(max(0, rss_after - rss_before) * 1024)}


def _available(registry, wanted):
    """{name: (implementation, version or None, reason or None)} for ``wanted`` ones."""
    out = {}
    for impl in registry:
        if wanted(impl):
            try:
                out[impl.name] = (impl, impl.probe(), None)
            except Unavailable as exc:
                out[impl.name] = (impl, None, str(exc))
    return out


def measure(config, threads, registry=None):
    """Run every selected implementation at one thread count; a JSON-ready dict."""
    registry = bench_peers.default_registry() if registry is None else registry
    # LRNLayer always takes a thread count; the field stays in the results because the report
    # refuses to judge a speedup measured without one.
    result = {"threads": threads, "engine_threads": True,
              "implementations": {}, "cells": [], "memory": [], "notes": []}
    impls = _available(registry, lambda impl: impl.kind in (EXACT, FAST))
    if config.get("memory") and config["memory_case"]:
        # Before any framework loads, so that ru_maxrss growth can reflect the forward.
        case = make_case(config["memory_case"], config["quick"])
        for name, (impl, version, _) in impls.items():
            if version is None or impl.make_layer is None:
                continue
            try:
                result["memory"].append(measure_memory(impl, case, threads))
            except (CaffeLRNError, MemoryError, Unavailable) as exc:
                result["notes"].append(f"memory ({name}): {exc}")
    peers = set(config["peers"])
    impls.update(_available(registry, lambda impl: impl.name in peers
                            and impl.kind not in (EXACT, FAST)))
    for impl, version, _ in impls.values():
        if version is not None and impl.set_threads is not None:
            impl.set_threads(threads)
    for name, (impl, version, reason) in impls.items():
        result["implementations"][name] = {"label": impl.label, "kind": impl.kind,
                                           "version": version, "unavailable": reason}
    for case_name in config["cases"]:
        case = make_case(case_name, config["quick"])
        result["cells"].extend(_measure_case(case, config, threads, impls, result["notes"]))
    if config.get("verify_dump"):
        _progress(f"verify case, threads {threads}: {config['verify_dump']['files']} files")
        rounds = 1 if config["quick"] else max(1, min(3, config["repeat"]))
        result["verify"] = measure_verify(config["verify_dump"], threads, repeat=rounds,
                                          warmup=0 if config["quick"] else 1)
    return result


def _measure_case(case, config, threads, impls, notes):
    bottom, top_diff = case.inputs()
    cells = {p: {"case": case.name, "pass": p, "threads": threads, "times": {},
                 "checks": {}, "digests": {}} for p in config["passes"]}
    runners = {}
    for name, (impl, version, reason) in impls.items():
        if version is None:
            for cell in cells.values():
                cell["times"][name] = {"na": reason}
            continue
        _progress(f"case {case.name} {case.shape} threads {threads}: preparing {name}")
        try:
            runners[name] = impl.prepare(case, bottom, top_diff, threads)
        except Unavailable as exc:
            for cell in cells.values():
                cell["times"][name] = {"na": str(exc)}
        except Exception as exc:  # a peer that breaks must not end the run; say why
            for cell in cells.values():
                cell["times"][name] = {"na": f"failed: {type(exc).__name__}: {exc}"}
    calls = {}
    for name, runner in runners.items():
        if runner.note and runner.note not in notes:
            notes.append(runner.note)
        for p, cell in cells.items():
            fn = runner.forward if p == "forward" else runner.backward
            if fn is None:
                cell["times"][name] = {"na": f"{name} has no {p} pass"}
            else:
                calls[(name, p)] = fn
    _progress(f"case {case.name} threads {threads}: timing {len(calls)} calls")
    timed, failed = time_rounds(calls, config["repeat"], config["warmup"], config["budget"])
    for (name, p), exc in failed.items():
        cells[p]["times"][name] = {"na": f"failed: {type(exc).__name__}: {exc}"}
    outputs = {}
    for (name, p), (times, out) in timed.items():
        runner = runners[name]
        try:
            out = (runner.top_of if p == "forward" else runner.bottom_diff_of)(out)
            outputs[(name, p)] = np.array(out, dtype=np.float32, copy=True)
        except Exception as exc:
            cells[p]["times"][name] = {"na": f"failed: {type(exc).__name__}: {exc}"}
            continue
        cells[p]["times"][name] = {"median_ms": statistics.median(times) * 1e3,
                                   "min_ms": min(times) * 1e3, "runs": len(times)}
    del timed
    # Outputs are checked after all timing, so the checks' temporaries cost no timed call.
    exact = next((n for n, (impl, _, _) in impls.items() if impl.kind == EXACT), None)
    for (name, p), out in outputs.items():
        impl, runner, cell = impls[name][0], runners[name], cells[p]
        if impl.kind in (EXACT, FAST):
            cell["digests"][name] = _digest(out)
        if impl.kind == EXACT:
            continue
        if runner.reference is not None:
            expected = runner.reference()[0 if p == "forward" else 1]
            cell["checks"][name] = dict(check_outputs(out, expected), against="float64 power")
        elif (exact, p) in outputs:
            cell["checks"][name] = dict(check_outputs(out, outputs[(exact, p)]),
                                        against=exact)
    runners.clear()
    outputs.clear()
    gc.collect()
    for name, (impl, version, _) in impls.items():
        if impl.kind == EXACT and version is not None and impl.modes is not None:
            _mode_digests(impl, case, bottom, top_diff, threads, cells, notes)
    return list(cells.values())


def _mode_digests(impl, case, bottom, top_diff, threads, cells, notes):
    """Digests of the engine's results in its other modes of execution (untimed)."""
    try:
        modes = impl.modes(case, bottom, top_diff, threads)
    except Exception as exc:
        notes.append(f"{impl.name} modes: {type(exc).__name__}: {exc}")
        return
    for label, runner in modes.items():
        for p, cell in cells.items():
            fn = runner.forward if p == "forward" else runner.backward
            try:
                out = (runner.top_of if p == "forward" else runner.bottom_diff_of)(fn())
            except Exception as exc:
                notes.append(f"{impl.name} {label} {p}: {type(exc).__name__}: {exc}")
                continue
            cell["digests"][f"{impl.name} {label}"] = _digest(out)
        del runner
        gc.collect()


# ---------------------------------------------------------------------------- orchestration

def machine_info():
    """CPU model, core counts, OS, Python, NumPy, and the load average (noise indicator)."""
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": model, "cores": os.cpu_count(), "usable_cores": usable,
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "load_average": load}


def _worker_env(threads):
    env = dict(os.environ)
    for name in THREAD_ENV:
        env[name] = str(threads)
    env["TF_NUM_INTEROP_THREADS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The directory holding the caffe_lrn package (this file is caffe_lrn/bench/measure.py),
    # never the package's own folder: its io/ would shadow the standard library's io.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _measure_in_subprocess(config, threads):
    with tempfile.TemporaryDirectory(prefix="caffe-lrn-bench-") as tmp:
        config_path = os.path.join(tmp, "config.json")
        out_path = os.path.join(tmp, "result.json")
        with open(config_path, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        command = [sys.executable, "-m", "caffe_lrn.bench.measure", config_path, out_path, str(threads)]
        # Started in the temporary directory: ``-m`` puts the working directory first on
        # sys.path, where a file such as io.py would shadow the standard library.
        proc = subprocess.run(command, env=_worker_env(threads), stdout=subprocess.DEVNULL,
                              cwd=tmp, check=False)
        if proc.returncode != 0 or not os.path.exists(out_path):
            raise CaffeLRNError(f"the benchmark process for {threads} thread(s) failed "
                                f"with exit code {proc.returncode}")
        with open(out_path, encoding="utf-8") as handle:
            return json.load(handle)


def run(config, in_process=False, registry=None):
    """Measure every thread count of ``config``; the report as a JSON-ready dict.

    By default each thread count runs in a fresh Python process (thread pools are fixed
    when NumPy and the frameworks load). ``in_process`` measures in this process instead:
    only the thread settings that can change at run time follow (torch, ONNX Runtime,
    OpenCV, the engine's own), so it is for smoke runs and tests. ``registry`` (a list of
    implementations) replaces the built-in one and needs ``in_process``.
    """
    if registry is not None and not in_process:
        raise ValueError("a custom registry can only be measured in-process")
    if config.get("verify") and not config.get("verify_dump"):
        # One dump for every thread count, removed when the run ends.
        with tempfile.TemporaryDirectory(prefix="caffe-lrn-bench-dump-") as folder:
            _progress("verify case: writing the dump")
            dump = make_dump(folder, config["quick"])
            return run(dict(config, verify_dump=dump), in_process, registry)
    results = []
    for index, threads in enumerate(config["threads"]):
        cfg = dict(config, memory=(index == 0))
        if in_process:
            results.append(measure(cfg, threads, registry))
        else:
            results.append(_measure_in_subprocess(cfg, threads))
    return bench_report.build_report(config, machine_info(), results,
                                     in_process=in_process)


def _worker(argv):
    """``python -m caffe_lrn.bench.measure CONFIG OUT THREADS``: one thread count, results to OUT."""
    config_path, out_path, threads = argv
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    result = measure(config, int(threads))
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
