"""Rendering verification reports: a readable table, and JSON with a fixed schema.

JSON schema (``"schema": "caffe-lrn/verify/3"``; version 2 added the summary's ``files``,
``worst`` and ``per_layer``, the totals of a run over many dumps; version 3 the ``profile``
keys)::

    {
      "schema": "caffe-lrn/verify/3",
      "caffe_lrn_version": "0.1.0",
      "passed": true,                     # every layer of every run passed
      "policy": {"max_ulp": null,         # null: bit-identical required; else N ULP allowed
                 "against": ["tf"],       # frameworks also run
                 "against_max_ulp": null, # null: framework distances are informational
                 "native": false,         # true: the frameworks' own LRN ops were run
                 "fast": false,           # true: the engine's fast mode was checked
                 "profile": "auto"},      # the Caffe build asked for, or "auto"
      "summary": {"runs": 1,              # one per (net, dump file)
                  "files": 1,             # distinct dumps
                  "layers": 2, "passed": 2, "failed": 0, "unverifiable": 0,
                  "compared": 580800, "differing": 0,
                  "worst": null,          # or {"blobs": dump, "layer": name,
                                          #     "index": [n, c, h, w], "reference": r,
                                          #     "ours": o, "ulp": d}: the largest ULP
                                          #     distance of all (the first if tied)
                  "per_layer": [{"layer": "norm1", "runs": 1, "passed": 1, "failed": 0,
                                 "unverifiable": 0, "compared": 290400, "differing": 0,
                                 "max_ulp": 0.0, "worst": null}, ...],
                  "profile": {            # the builds reproducing every verified layer
                    "matching": ["openblas-avx512"],
                    "builds": "Caffe on OpenBLAS with its AVX-512 kernels (...)"}},
      "runs": [{
        "title": null,                    # a name for bundled examples, else null
        "net": "alexnet_deploy.prototxt", "net_name": "AlexNet",
        "phase": "TEST",                  # the net state checked (include/exclude rules)
        "blobs": "alexnet_blobs.npz", "blobs_format": "npz",  # or npy-dir, binaryproto-dir
        "passed": true,
        "layers": [{
          "layer": "norm1", "index": 3, "bottom": "conv1", "top": "norm1",
          "lrn_param": {"local_size": 5, "alpha": 9.99999974738e-05, "beta": 0.75,
                        "norm_region": "ACROSS_CHANNELS", "k": 1.0, "engine": "DEFAULT"},
          "shape": [1, 96, 55, 55],       # null when the blobs could not be read
          "dtype": "float32",
          "status": "pass",               # pass | fail | unverifiable
          "reason": null,                 # why it failed or could not be verified
          "seconds": 0.05,
          "metrics": {                    # null when unverifiable
            "compared": 290400, "differing": 0,
            "max_abs": 0.0, "max_rel": 0.0, "max_ulp": 0.0, "mean_ulp": 0.0,
            "nan_mismatch": 0, "inf_mismatch": 0, "pattern_agrees": true,
            "nan_payload_differing": 0,   # NaN in both, other bits: reported, not failed
            "worst": null                 # or {"index": [n, c, h, w], "reference": r,
          },                              #     "ours": o, "ulp": d}
          "profile": {                    # null when unverifiable
            "compared": "openblas-avx512",  # the profile whose top "metrics" measure
            "matching": ["openblas-avx512"],  # profiles giving the reference's bits ([]:
                                          # none; the compared one is then the closest)
            "untried": ["openblas-avx2", "atlas"],  # not run: the first profile matched
            "builds": "Caffe on ..."},
          "against": [{"framework": "tf", "form": "caffe-order",  # or "native"
                       "error": null, "seconds": 0.3,
                       "metrics": {...same keys...}}]
        }]
      }]
    }

Non-finite numbers are written as the strings ``"inf"``, ``"-inf"`` and ``"nan"`` (JSON has
no such numbers); every other number is a JSON number.
"""
import json
import math
import pathlib

from caffe_lrn import __version__
from caffe_lrn.numerics.profiles import PROFILES, describe_builds, get_profile
from caffe_lrn.tables import format_table
from caffe_lrn.verify.check import FAIL, PASS, UNVERIFIABLE

SCHEMA = "caffe-lrn/verify/3"
_REGION = {"ACROSS_CHANNELS": "ACROSS", "WITHIN_CHANNEL": "WITHIN"}
_STATUS = {PASS: "PASS", FAIL: "FAIL", UNVERIFIABLE: "UNVERIFIABLE"}


def _json_number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _clean(obj):
    if isinstance(obj, dict):
        return {key: _clean(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(value) for value in obj]
    return _json_number(obj)


def layer_record(check):
    """One layer's JSON record."""
    return {
        "layer": check.layer,
        "index": check.index,
        "bottom": check.bottom,
        "top": check.top,
        "lrn_param": check.params.as_dict(),
        "shape": None if check.shape is None else list(check.shape),
        "dtype": check.dtype,
        "status": check.status,
        "reason": check.reason,
        "seconds": round(check.seconds, 6),
        "metrics": None if check.comparison is None else check.comparison.as_dict(),
        "profile": None if check.profile is None else {
            "compared": check.profile, "matching": list(check.matching),
            "untried": untried(check), "builds": _builds(check.matching)},
        "against": [{
            "framework": fw.framework,
            "form": "native" if fw.native else "caffe-order",
            "error": fw.error,
            "seconds": round(fw.seconds, 6),
            "metrics": None if fw.comparison is None else fw.comparison.as_dict(),
        } for fw in check.against],
    }


def run_record(report):
    return {
        "title": report.title,
        "net": report.net,
        "net_name": report.net_name,
        "phase": report.phase,
        "blobs": report.blobs,
        "blobs_format": report.blobs_kind,
        "passed": report.passed,
        "layers": [layer_record(check) for check in report.checks],
    }


def _worst_of(pairs):
    """The worst element of ``(report, check)`` pairs: the largest ULP distance, the first
    one if tied; None when nothing differs."""
    worst = None
    for report, check in pairs:
        c = check.comparison
        if c is None or c.worst_index is None:
            continue
        if worst is None or c._worst_key > worst[1].comparison._worst_key:
            worst = (report, check)
    if worst is None:
        return None
    report, check = worst
    c = check.comparison
    return {"blobs": report.blobs, "layer": check.layer, "index": list(c.worst_index),
            "reference": c.worst_reference, "ours": c.worst_ours, "ulp": c.worst_ulp}


def layer_totals(reports):
    """Per-layer totals over every run (dump), in the order layers first appear."""
    totals = {}
    for report in reports:
        for check in report.checks:
            total = totals.setdefault(check.layer, {
                "layer": check.layer, "runs": 0, "passed": 0, "failed": 0,
                "unverifiable": 0, "compared": 0, "differing": 0, "max_ulp": 0.0,
                "_pairs": []})
            total["runs"] += 1
            total[{PASS: "passed", FAIL: "failed", UNVERIFIABLE: "unverifiable"}[
                check.status]] += 1
            total["_pairs"].append((report, check))
            if check.comparison is not None:
                total["compared"] += check.comparison.compared
                total["differing"] += check.comparison.differing
                total["max_ulp"] = max(total["max_ulp"], check.comparison.max_ulp)
    rows = []
    for total in totals.values():
        total["worst"] = _worst_of(total.pop("_pairs"))
        rows.append(total)
    return rows


def untried(check):
    """Names of the profiles a layer was not run with (the first one tried matched)."""
    return [p.name for p in PROFILES if p.name not in (check.tried or ())]


def _builds(names):
    return describe_builds([get_profile(name) for name in names])


def common_profiles(reports):
    """Names of the profiles that reproduce every verified layer (None: nothing verified)."""
    sets = [check.matching for report in reports for check in report.checks
            if check.matching is not None]
    if not sets:
        return None
    return [p.name for p in PROFILES if all(p.name in names for names in sets)]


def summary(reports):
    checks = [check for report in reports for check in report.checks]
    measured = [check.comparison for check in checks if check.comparison is not None]
    common = common_profiles(reports)
    return {
        "runs": len(reports),
        "files": len({report.blobs for report in reports}),
        "layers": len(checks),
        "passed": sum(check.status == PASS for check in checks),
        "failed": sum(check.status == FAIL for check in checks),
        "unverifiable": sum(check.status == UNVERIFIABLE for check in checks),
        "compared": sum(c.compared for c in measured),
        "differing": sum(c.differing for c in measured),
        "worst": _worst_of((report, check) for report in reports for check in report.checks),
        "per_layer": layer_totals(reports),
        "profile": None if common is None else {"matching": common,
                                                "builds": _builds(common)},
    }


def to_json(reports, max_ulp=None, against=(), against_max_ulp=None, native=False,
            fast=False, profile="auto"):
    """The JSON document (a dict) for a list of :class:`NetReport`."""
    document = {
        "schema": SCHEMA,
        "caffe_lrn_version": __version__,
        "passed": bool(reports) and all(report.passed for report in reports),
        "policy": {"max_ulp": max_ulp, "against": list(against),
                   "against_max_ulp": against_max_ulp, "native": native,
                   "fast": bool(fast), "profile": profile},
        "summary": summary(reports),
        "runs": [run_record(report) for report in reports],
    }
    return _clean(document)


def render_json(reports, **policy):
    return json.dumps(to_json(reports, **policy), indent=2, allow_nan=False) + "\n"


# -- the table ------------------------------------------------------------------------------

def fmt_ulp(value):
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "inf"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.3g}"


def fmt_num(value):
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    if value == 0:
        return "0"
    return f"{value:.3g}"


def fmt_count(value):
    return f"{value:,}"


def fmt_index(index):
    return "-" if index is None else "(" + ",".join(str(i) for i in index) + ")"


def fmt_shape(shape):
    return "-" if shape is None else "x".join(str(d) for d in shape)


def _metric_cells(comparison):
    if comparison is None:
        return ["-"] * 6
    return [f"{fmt_count(comparison.differing)}/{fmt_count(comparison.compared)}",
            fmt_ulp(comparison.max_ulp), fmt_ulp(comparison.mean_ulp),
            fmt_num(comparison.max_abs), fmt_num(comparison.max_rel),
            fmt_index(comparison.worst_index)]


HEADER = ["layer", "bottom -> top", "region", "shape", "differing/compared", "max ULP",
          "mean ULP", "max |d|", "max rel", "worst (n,c,h,w)", "result"]


def table_rows(report):
    rows = []
    for check in report.checks:
        rows.append([check.layer, f"{check.bottom} -> {check.top}",
                     _REGION.get(check.params.norm_region, check.params.norm_region),
                     fmt_shape(check.shape)] + _metric_cells(check.comparison)
                    + [_STATUS[check.status]])
        for fw in check.against:
            verdict = "error" if fw.error else ("info" if fw.max_ulp is None else
                                                ("ok" if fw.passed else "FAIL"))
            form = " (native)" if fw.native else ""
            rows.append([f"  vs {fw.framework}{form}", "", "", ""] + _metric_cells(fw.comparison)
                        + [verdict])
    return rows


# The narrower table of ``--example``: enough for a newcomer's terminal.
COMPACT = ("layer", "bottom -> top", "region", "shape", "differing/compared", "max ULP",
           "result")


def render_table(report, compact=False):
    rows = table_rows(report)
    if not compact:
        return _format_table(HEADER, rows)
    keep = [HEADER.index(name) for name in COMPACT]
    return _format_table(list(COMPACT), [[row[i] for i in keep] for row in rows])


def _format_table(header, rows):
    # Names and shapes left, numbers right; the result column (last) left.
    return "\n".join(format_table(header, rows, right=range(4, len(header) - 1), indent="  "))


def _value(x):
    return f"{x:.9g}" if x is not None else "-"


def build_text(reports, profile="auto"):
    """Which Caffe build made the dump, in words, from the verified layers (None: none)."""
    common = common_profiles(reports)
    if common is None:
        return None
    names = ", ".join(common)
    if len(common) == 1:
        skipped = any(untried(check) for report in reports for check in report.checks
                      if check.matching)
        return (f"{_builds(common)} (profile {names}" +
                ("; the other builds were not tried)" if skipped else ")"))
    if len(common) == len(PROFILES):
        return f"any Caffe build: the dump does not tell them apart (profiles {names})"
    if common:
        return f"{_builds(common)}: the dump does not tell them apart (profiles {names})"
    if profile != "auto":
        return (f"not the bits of profile {profile} ({_builds([profile])}); --profile auto "
                f"tries the other builds")
    return "no single build profile reproduces every layer (see below)"


def _profile_note(check, common, requested):
    """A line on a layer whose builds differ from the whole dump's, or that no build gives."""
    if check.matching is None or check.comparison is None:
        return None
    if not check.matching and requested != "auto":
        return None  # the heading says so once
    if not check.matching:
        c = check.comparison
        return (f"{check.layer}: no build profile gives these bits; closest: {check.profile} "
                f"({_builds([check.profile])}), {fmt_count(c.differing)} elements differ, "
                f"at most {fmt_ulp(c.max_ulp)} ULP")
    if common is not None and set(check.matching) != set(common):
        return f"{check.layer}: made by {_builds(check.matching)}"
    return None


def notes(report):
    """Lines explaining failures: the worst element, or why a layer could not be checked;
    and the builds of layers that do not share the dump's."""
    lines = []
    common = common_profiles([report])
    for check in report.checks:
        profile_line = _profile_note(check, common, report.profile)
        if profile_line:
            lines.append(profile_line)
        c = check.comparison
        if check.status == UNVERIFIABLE:
            lines.append(f"{check.layer}: not verifiable: {check.reason}")
            continue
        if check.status == FAIL and c is not None and c.worst_index is not None:
            lines.append(
                f"{check.layer}: {fmt_count(c.differing)} of {fmt_count(c.compared)} elements "
                f"differ; worst at (n, c, h, w) = {fmt_index(c.worst_index)}: reference "
                f"{_value(c.worst_reference)}, ours {_value(c.worst_ours)}, "
                f"{fmt_ulp(c.worst_ulp)} ULP")
        if check.status == FAIL and check.reason:
            lines.append(f"{check.layer}: {check.reason}")
        if c is not None and c.nan_payload_differing:
            lines.append(
                f"{check.layer}: {fmt_count(c.nan_payload_differing)} NaN elements have other "
                f"NaN bits (sign or payload) than the reference: reported, not a failure")
        for fw in check.against:
            if fw.error:
                lines.append(f"{check.layer} vs {fw.framework}: {fw.error}")
    return lines


def policy_text(max_ulp):
    if max_ulp is None:
        return "bit-identical to the reference (NaN/inf pattern included)"
    return f"at most {fmt_ulp(float(max_ulp))} float32 ULP from the reference, same NaN/inf pattern"


#: What the fast mode promises, said wherever it is checked.
FAST_MODE_TEXT = "fast mode: top within 2 ULP of the exact engine"


def fast_mode_note(max_ulp):
    """The line a fast-mode report carries; it says when the policy cannot accept it."""
    if max_ulp is not None and float(max_ulp) >= 2:
        return FAST_MODE_TEXT
    return (f"{FAST_MODE_TEXT} (not bit for bit: it passes only where it happens to "
            f"round as Caffe does; use --max-ulp 2)")


def summary_line(reports):
    s = summary(reports)
    ok = bool(reports) and all(report.passed for report in reports)
    elements = (f"{fmt_count(s['compared'])} elements compared, "
                f"{fmt_count(s['differing'])} differing")
    if ok:
        return f"PASS: {s['passed']} of {s['layers']} LRN layers verified ({elements})"
    parts = [f"{s['failed']} failed"] if s["failed"] else []
    if s["unverifiable"]:
        parts.append(f"{s['unverifiable']} not verifiable")
    return (f"FAIL: {' and '.join(parts) or 'nothing verified'} of {s['layers']} LRN layers "
            f"({elements})")


def render_report(report, show_header=True):
    """One net's report: a heading, the table, notes on failures."""
    lines = []
    if show_header:
        lines.append(f"net:       {report.net} ({report.net_name or 'unnamed'})")
        lines.append(f"reference: {report.blobs} ({report.blobs_kind})")
        lines.append(f"phase:     {report.phase}")
        lines.append(f"policy:    {policy_text(report.max_ulp)}")
        build = build_text([report], report.profile)
        if build:
            lines.append(f"build:     {build}")
        if report.fast:
            lines.append(f"engine:    {fast_mode_note(report.max_ulp)}")
        lines.append("")
    lines.append(render_table(report))
    extra = notes(report)
    if extra:
        lines.append("")
        lines.extend("  " + note for note in extra)
    return "\n".join(lines)


def worst_line(worst):
    """Where the worst element of all sits: dump, layer and (n, c, h, w)."""
    return (f"worst of all: {worst['blobs']}, layer {worst['layer']}, (n, c, h, w) = "
            f"{fmt_index(worst['index'])}: reference {_value(worst['reference'])}, ours "
            f"{_value(worst['ours'])}, {fmt_ulp(worst['ulp'])} ULP")


def render_totals(reports):
    """The totals of a run over several dumps: per layer, and the worst element of all."""
    s = summary(reports)
    rows = [[t["layer"], fmt_count(t["runs"]),
             f"{fmt_count(t['differing'])}/{fmt_count(t['compared'])}", fmt_ulp(t["max_ulp"]),
             fmt_count(t["failed"] + t["unverifiable"]),
             "-" if t["worst"] is None else pathlib.Path(t["worst"]["blobs"]).name,
             "-" if t["worst"] is None else fmt_index(t["worst"]["index"])]
            for t in s["per_layer"]]
    lines = [f"all {s['files']} dumps:", "",
             "\n".join(format_table(["layer", "dumps", "differing/compared", "max ULP",
                                     "not passed", "worst in", "worst (n,c,h,w)"], rows,
                                    right=range(1, 5), indent="  "))]
    if s["worst"] is not None:
        lines += ["", "  " + worst_line(s["worst"])]
    return "\n".join(lines)


def render_text(reports):
    """Reports of one or more nets, the totals over several dumps, the one-line summary."""
    blocks = [render_report(report) for report in reports]
    if len({report.blobs for report in reports}) > 1:
        blocks.append(render_totals(reports))
    return "\n\n".join(blocks) + "\n\n" + summary_line(reports) + "\n"
