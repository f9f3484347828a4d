"""The benchmark's report: ratios, the pass/fail flags of the performance goals, and the printed tables.

``build_report`` joins the per-thread-count measurements of :mod:`caffe_lrn.bench.measure` into one
JSON-ready document; ``format_report`` prints it. Flags are "PASS", "FAIL" or "n/a" (no
number to judge, e.g. no peer for the cell, or a peer not installed); nothing is
rounded in favour of the engine.

The performance goals, with one thread unless said otherwise:
1. exact engine <= 1.0 x the fastest peer in every (case, pass) cell that has a peer;
   fast mode <= 0.5 x the fastest peer and <= 2 x the np.power floor.
2. exact forward on case A with 2 threads >= 1.6 x faster than with 1.
3. peak extra memory of the exact forward on A <= 1.5 x the blob (beyond the top it returns).
4. the exact engine's results are bit-identical in every mode of execution (each thread
   count, and other chunkings: ``chunk_images`` 1 and the whole batch).
5. ``verify`` end to end on a 1 GB multi-file dump, one thread, <= 1.5 x (the forward +
   reading the dump once) (:mod:`caffe_lrn.bench.verify_case`).
"""
from caffe_lrn.bench.cases import make_case
from caffe_lrn.bench.peers import EXACT, FAST, FLOOR, PEER
from caffe_lrn.bench.verify_case import VERIFY_OVER_FLOOR
from caffe_lrn.tables import format_table

PASS, FAIL, NA = "PASS", "FAIL", "n/a"

EXACT_VS_PEER = 1.0
FAST_VS_PEER = 0.5
FAST_VS_FLOOR = 2.0
THREAD_SPEEDUP = 1.6
MEMORY_BLOBS = 1.5


def _flag(ok):
    return NA if ok is None else (PASS if ok else FAIL)


def _median(cell, name):
    entry = cell["times"].get(name) or {}
    return entry.get("median_ms")


def _ratio(a, b):
    return a / b if a is not None and b else None


def _cell_summary(cell, kinds):
    peers = [n for n, k in kinds.items() if k == PEER]
    exact = next((n for n, k in kinds.items() if k == EXACT), None)
    fast = next((n for n, k in kinds.items() if k == FAST), None)
    floor = next((n for n, k in kinds.items() if k == FLOOR), None)
    usable = {}
    rejected = []
    for name in peers:
        ms = _median(cell, name)
        if ms is None:
            continue
        check = cell["checks"].get(name)
        if check is not None and not check.get("ok"):
            rejected.append(name)  # computes something else: cannot count as a peer
            continue
        usable[name] = ms
    best = min(usable, key=usable.get) if usable else None
    best_ms = usable.get(best)
    exact_ms = _median(cell, exact) if exact else None
    fast_ms = _median(cell, fast) if fast else None
    floor_ms = _median(cell, floor) if floor else None
    return {
        "best_peer": best, "best_peer_ms": best_ms, "rejected_peers": rejected,
        "exact_over_best_peer": _ratio(exact_ms, best_ms),
        "exact_over_peer": {n: _ratio(exact_ms, ms) for n, ms in usable.items()},
        "fast_over_best_peer": _ratio(fast_ms, best_ms),
        "fast_over_floor": _ratio(fast_ms, floor_ms),
        "exact_over_floor": _ratio(exact_ms, floor_ms),
    }


def _cell_flags(summary):
    exact_r = summary["exact_over_best_peer"]
    fast_p = summary["fast_over_best_peer"]
    fast_f = summary["fast_over_floor"]
    fast_ok = None
    if fast_p is not None or fast_f is not None:
        fast_ok = ((fast_p is None or fast_p <= FAST_VS_PEER)
                   and (fast_f is None or fast_f <= FAST_VS_FLOOR))
    return {"exact_vs_peer": _flag(None if exact_r is None else exact_r <= EXACT_VS_PEER),
            "fast_vs_peer_and_floor": _flag(fast_ok)}


#: NumPy's np.power runs on one thread, so the floor should take the same time at every
#: thread count; a larger spread means the machine was busy with something else.
FLOOR_SPREAD_WARNING = 1.25


def _thread_scaling(cells, exact, floor, engine_threads):
    """Exact forward on A at 1 and 2 threads, and the floor's spread as a noise gauge."""
    def by_threads(name):
        return {c["threads"]: _median(c, name) for c in cells
                if c["case"] == "A" and c["pass"] == "forward" and name}
    ms = by_threads(exact)
    floor_ms = by_threads(floor)
    speedup = _ratio(ms.get(1), ms.get(2))
    floor_values = [v for v in floor_ms.values() if v]
    spread = max(floor_values) / min(floor_values) if len(floor_values) > 1 else None
    # Without an engine thread setting a "speedup" can only be noise: it is not judged.
    judged = speedup if engine_threads else None
    return {"case": "A", "pass": "forward",
            "ms_by_threads": {str(k): v for k, v in sorted(ms.items())},
            "floor_ms_by_threads": {str(k): v for k, v in sorted(floor_ms.items())},
            "floor_spread": spread, "noisy": bool(spread and spread > FLOOR_SPREAD_WARNING),
            "speedup_2_over_1": speedup, "engine_threads": engine_threads,
            "flag": _flag(None if judged is None else judged >= THREAD_SPEEDUP)}


def _identity(cells, name):
    """Do ``name``'s outputs agree bit for bit in every mode of execution, per (case, pass)?

    Modes are the thread counts and, when the engine has them, its other chunkings
    (digests keyed ``"<name> <mode>"``). A cell seen in a single mode is not judged.
    """
    groups = {}
    for cell in cells:
        for key, digest in cell["digests"].items():
            if key == name or key.startswith(name + " "):
                mode = f"threads={cell['threads']}" + key[len(name):]
                groups.setdefault((cell["case"], cell["pass"]), {})[mode] = digest
    detail = {}
    modes = set()
    for (case, p), seen in sorted(groups.items()):
        modes.update(seen)
        detail[f"{case} {p}"] = None if len(seen) < 2 else len(set(seen.values())) == 1
    judged = [v for v in detail.values() if v is not None]
    return {"per_cell": detail, "modes": sorted(modes),
            "flag": _flag(all(judged) if judged else None)}


def build_report(config, machine, results, in_process=False):
    """Join per-thread-count results into the report (a JSON-ready dict)."""

    implementations = {}
    for result in results:
        for name, info in result["implementations"].items():
            implementations.setdefault(name, info)
    kinds = {name: info["kind"] for name, info in implementations.items()}
    exact = next((n for n, k in kinds.items() if k == EXACT), "exact")
    cells = []
    for result in results:
        for cell in result["cells"]:
            summary = _cell_summary(cell, kinds)
            flags = _cell_flags(summary) if cell["threads"] == 1 else {}
            cells.append(dict(cell, summary=summary, flags=flags))
    memory = [m for result in results for m in result["memory"]]
    exact_memory = next((m for m in memory if m["mode"] == "exact"), None)
    memory_flag = _flag(None if exact_memory is None
                        else exact_memory["peak_extra_beyond_top_blobs"] <= MEMORY_BLOBS)
    floor = next((n for n, k in kinds.items() if k == FLOOR), None)
    engine_threads = any(r["engine_threads"] for r in results)
    scaling = _thread_scaling(cells, exact, floor, engine_threads)
    identity = _identity(cells, exact)
    one_thread = [c for c in cells if c["threads"] == 1]

    def all_flags(key):
        values = [c["flags"][key] for c in one_thread if c["flags"][key] != NA]
        if not values:
            return NA
        return PASS if all(v == PASS for v in values) else FAIL

    notes = []
    for result in results:
        for note in result["notes"]:
            if note not in notes:
                notes.append(note)
    if not engine_threads:
        notes.append("the engine takes no thread count yet (LRNLayer(..., threads=N)): its "
                     "multi-thread cells run single-threaded engine code, and the two-thread "
                     "speedup is not judged")
    if scaling["noisy"]:
        notes.append(f"the single-threaded np.power floor on A took "
                     f"{scaling['floor_spread']:.2f}x longer in one thread-count run than in "
                     f"another: the machine was busy; compare ratios within a run, not times "
                     f"across runs")
    if in_process:
        notes.append("in-process run: BLAS and TensorFlow thread pools are fixed when they load, "
                     "so only torch, ONNX Runtime, OpenCV and engine thread counts follow")
    verify = [result["verify"] for result in results if result.get("verify")]
    verify_one = next((v for v in verify if v["threads"] == 1), None)
    done = {
        "exact_vs_fastest_peer": all_flags("exact_vs_peer"),
        "fast_vs_peer_and_floor": all_flags("fast_vs_peer_and_floor"),
        "two_thread_speedup": scaling["flag"],
        "memory": memory_flag,
        "bit_identical_across_modes": identity["flag"],
        "verify_vs_forward_and_read": _flag(
            None if verify_one is None or verify_one["verify_over_forward_and_read"] is None
            else (verify_one["passed"] and
                  verify_one["verify_over_forward_and_read"] <= VERIFY_OVER_FLOOR)),
    }
    return {
        "schema": "caffe-lrn-bench/1",
        "meaningful": not config["quick"],
        "machine": machine,
        "config": config,
        "cases": [make_case(name, config["quick"]).as_dict() for name in config["cases"]],
        "implementations": implementations,
        "cells": cells,
        "memory": memory,
        "verify": verify,
        "thread_scaling": scaling,
        "identity": identity,
        "goals": done,
        "targets": {"exact_over_best_peer_max": EXACT_VS_PEER,
                    "fast_over_best_peer_max": FAST_VS_PEER,
                    "fast_over_floor_max": FAST_VS_FLOOR,
                    "thread_speedup_min": THREAD_SPEEDUP,
                    "memory_blobs_max": MEMORY_BLOBS,
                    "verify_over_forward_and_read_max": VERIFY_OVER_FLOOR},
        "notes": notes,
    }


# ---------------------------------------------------------------------------- text

def _ms(value):
    return "n/a" if value is None else (f"{value:.1f}" if value >= 10 else f"{value:.2f}")


def _x(value):
    return "-" if value is None else f"{value:.2f}x"


def _time_text(cell, name):
    entry = cell["times"].get(name)
    if entry is None:
        return "-"
    if "median_ms" in entry:
        return _ms(entry["median_ms"])
    return "-" if "has no" in entry.get("na", "") else "n/a"


def _table(header, rows):
    # case, pass, threads left; times and ratios right.
    return format_table(header, rows, right=range(3, len(header)))


def format_report(report):
    """The report as text: machine, times, ratios, checks, memory, threads, goals."""
    config = report["config"]
    machine = report["machine"]
    impls = report["implementations"]
    names = list(impls)
    peers = [n for n in names if impls[n]["kind"] == PEER]
    out = []
    out.append(f"caffe-lrn bench: median milliseconds per call (up to {config['repeat']} timed "
               f"calls after {config['warmup']} warm-up); lower is better")
    if not report["meaningful"]:
        out.append("QUICK configuration: small shapes, a smoke run; the flags below are not "
                   "a measurement of the performance goals")
    out.append(f"machine: {machine['cpu']}, {machine['cores']} cores "
               f"({machine['usable_cores']} usable), {machine['platform']}, Python "
               f"{machine['python']}, NumPy {machine['numpy']}, load average "
               f"{machine['load_average']}")
    for name in names:
        info = impls[name]
        state = info["version"] if info["version"] is not None else f"n/a ({info['unavailable']})"
        out.append(f"  {name:6s} {info['label']}: {state}")
    out.append("cases: " + "; ".join(
        f"{c['name']} {c['params']['norm_region']} {tuple(c['shape'])} "
        f"local_size {c['params']['local_size']} alpha {c['params']['alpha']:.6g}"
        for c in report["cases"]))
    out.append("")

    header = ["case", "pass", "thr"] + names + ["best peer", "exact/best", "fast/best",
                                               "fast/floor", "exact flag", "fast flag"]
    rows = []
    for cell in report["cells"]:
        s = cell["summary"]
        flags = cell["flags"]
        best = f"{s['best_peer']} {_ms(s['best_peer_ms'])}" if s["best_peer"] else "-"
        rows.append([cell["case"], cell["pass"], cell["threads"]]
                    + [_time_text(cell, n) for n in names]
                    + [best, _x(s["exact_over_best_peer"]), _x(s["fast_over_best_peer"]),
                       _x(s["fast_over_floor"]), flags.get("exact_vs_peer", ""),
                       flags.get("fast_vs_peer_and_floor", "")])
    out.extend(_table(header, rows))
    out.append("(flags: one-thread cells; exact <= 1.0x fastest peer; fast <= 0.5x fastest "
               "peer and <= 2x floor)")
    out.append("")

    if peers:
        out.append("exact / each peer (below 1: the engine is faster):")
        header = ["case", "pass", "thr"] + peers
        rows = [[c["case"], c["pass"], c["threads"]]
                + [_x(c["summary"]["exact_over_peer"].get(p)) for p in peers]
                for c in report["cells"]]
        out.extend(_table(header, rows))
        out.append("")

    checked = [n for n in names if impls[n]["kind"] != EXACT]
    out.append("output checks (max float32 ULP / max error relative to the blob's largest "
               "value; peers against the exact engine, the floor against a float64 power):")
    header = ["case", "pass", "thr"] + checked
    rows = []
    rejected = False
    for cell in report["cells"]:
        row = [cell["case"], cell["pass"], cell["threads"]]
        for name in checked:
            check = cell["checks"].get(name)
            if check is None:
                row.append("-")
            elif "error" in check:
                row.append("BAD " + check["error"])
                rejected = True
            else:
                ulp = "nan!" if check["max_ulp"] is None else f"{check['max_ulp']:.0f}"
                mark = "" if check["ok"] else " BAD"
                rejected = rejected or not check["ok"]
                row.append(f"{ulp} / {check['max_rel_err']:.1e}{mark}")
        rows.append(row)
    out.extend(_table(header, rows))
    if rejected:
        out.append("BAD: the output does not match the engine's; that peer is left out of "
                   "'best peer'")
    out.append("")

    for m in report["memory"]:
        out.append(
            f"memory, {m['mode']} forward on {m['case']} (blob {m['blob_bytes'] / 2**20:.1f} MiB): "
            f"peak extra {m['peak_extra_bytes'] / 2**20:.1f} MiB = {m['peak_extra_blobs']:.2f} "
            f"blobs, {m['peak_extra_beyond_top_blobs']:.2f} beyond the top it returns; "
            f"retained after the call {m['retained_bytes'] / 2**20:.1f} MiB; ru_maxrss growth "
            f"{m['maxrss_growth_bytes'] / 2**20:.1f} MiB")
    if not report["memory"]:
        out.append("memory: not measured")
    scaling = report["thread_scaling"]
    times = ", ".join(f"{t} thread(s) {_ms(v)} ms"
                      for t, v in scaling["ms_by_threads"].items())
    floors = ", ".join(f"{_ms(v)}" for v in scaling["floor_ms_by_threads"].values())
    out.append(f"threads, exact forward on A: {times or 'n/a'}; speedup 2/1 "
               f"{_x(scaling['speedup_2_over_1'])}"
               + ("" if scaling["engine_threads"] else " (engine has no thread setting)")
               + (f"; floor {floors} ms (single-threaded: a spread means noise)"
                  if floors else ""))
    for v in report.get("verify", []):
        out.append(
            f"verify, {v['files']} files, {v['bytes'] / 1e9:.2f} GB, {v['threads']} thread(s): "
            f"{v['verify_s']:.2f} s = {v['gb_per_s']:.2f} GB/s of dump; forward "
            f"{v['forward_s']:.2f} s + read once {v['read_s']:.2f} s; verify / (forward + "
            f"read) {_x(v['verify_over_forward_and_read'])}"
            + ("" if v["passed"] else " (the verification FAILED)"))
    identity = report["identity"]["per_cell"]
    if identity:
        out.append(f"exact outputs bit-identical across {', '.join(report['identity']['modes'])}: "
                   + ", ".join(
            f"{k} {'n/a' if v is None else ('yes' if v else 'NO')}" for k, v in identity.items()))
    out.append("")
    out.append("performance goals:")
    labels = {
        "exact_vs_fastest_peer": "exact <= 1.0x fastest peer, every one-thread cell",
        "fast_vs_peer_and_floor": "fast <= 0.5x fastest peer and <= 2x floor",
        "two_thread_speedup": f"exact forward A, 2 threads >= {THREAD_SPEEDUP}x faster",
        "memory": f"peak extra memory, exact forward A <= {MEMORY_BLOBS}x blob (beyond top)",
        "bit_identical_across_modes": "exact outputs bit-identical in every mode (threads, chunks)",
        "verify_vs_forward_and_read": f"verify, 1 thread, <= {VERIFY_OVER_FLOOR}x (forward + "
                                      f"reading the dump once)",
    }
    for key, flag in report["goals"].items():
        out.append(f"  {flag:4s}  {labels.get(key, key)}")
    if report["notes"]:
        out.append("")
        out.append("notes:")
        out.extend(f"  - {note}" for note in report["notes"])
    return "\n".join(out) + "\n"
