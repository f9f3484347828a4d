"""The audit report: per Caffe layer, its converted operation, the rules that fired, the
measured numbers and a verdict; as a table or as JSON (schema ``caffe-lrn/audit/1``).

Verdicts: ``same semantics`` (no semantic rule fired and, when measured, the output is within
the rounding bound: the distance left is the framework's rounding), ``wrong semantics``
(a semantic rule fired, or the numbers are beyond the bound), ``unmatched`` (a Caffe layer
with no converted operation, or a converted operation with no Caffe layer).
"""
import json
from dataclasses import dataclass, field

from caffe_lrn.audit.numbers import ROUNDING_BOUND_ULP
from caffe_lrn.audit.rules import PARAM_ROUNDING_ULP, RULES, SEMANTICS
from caffe_lrn.tables import format_table
from caffe_lrn.verify.report import _clean as json_clean

SCHEMA = "caffe-lrn/audit/1"
SAME = "same semantics"
WRONG = "wrong semantics"
UNMATCHED = "unmatched"
BOUND_WHY = (f"native LRN ops with the right parameters are 15-37 float32 ULP from Caffe on "
             f"AlexNet activations (from-scratch window sums, another power); "
             f"{ROUNDING_BOUND_ULP} ULP leaves room for other data, far below the thousands "
             f"to millions of ULP a wrong parameter gives on inputs where alpha matters")


@dataclass
class LayerAudit:
    layer: object = None
    op: object = None
    how: str = None
    findings: list = field(default_factory=list)
    numbers: object = None
    notes: list = field(default_factory=list)

    @property
    def semantic_findings(self):
        return [f for f in self.findings if f.severity == SEMANTICS]

    @property
    def verdict(self):
        if self.layer is None or self.op is None:
            return UNMATCHED
        if self.semantic_findings:
            return WRONG
        if self.numbers is not None and not self.numbers.within_rounding:
            return WRONG
        return SAME

    def as_dict(self):
        layer = None
        if self.layer is not None:
            layer = {"name": self.layer.name, "bottom": self.layer.bottom,
                     "top": self.layer.top, "lrn_param": self.layer.params.as_dict()}
        return {
            "caffe": layer,
            "converted": None if self.op is None else self.op.as_dict(),
            "match": self.how,
            "verdict": self.verdict,
            "findings": [f.as_dict() for f in self.findings],
            "numbers": None if self.numbers is None else self.numbers.as_dict(),
            "notes": list(self.notes) + ([] if self.op is None else list(self.op.notes)),
        }


@dataclass
class AuditReport:
    net: str
    converted: str
    fmt: str
    blobs: str = None
    entries: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def clean(self):
        """True when every entry has the same semantics (exit 0)."""
        return bool(self.entries) and all(e.verdict == SAME for e in self.entries)

    def rules_fired(self):
        return sorted({f.rule for e in self.entries for f in e.findings})

    def summary(self):
        verdicts = [e.verdict for e in self.entries]
        return {
            "entries": len(self.entries),
            "same_semantics": verdicts.count(SAME),
            "wrong_semantics": verdicts.count(WRONG),
            "unmatched_caffe": sum(1 for e in self.entries if e.op is None),
            "unmatched_converted": sum(1 for e in self.entries if e.layer is None),
            "rules": self.rules_fired(),
            "clean": self.clean,
        }

    def as_dict(self):
        return {
            "schema": SCHEMA,
            "net": self.net,
            "converted": self.converted,
            "format": self.fmt,
            "blobs": self.blobs,
            "bound": {"max_ulp": ROUNDING_BOUND_ULP, "why": BOUND_WHY,
                      "param_rounding_ulp": PARAM_ROUNDING_ULP},
            "rules": {rule: {"severity": severity, "meaning": meaning}
                      for rule, (severity, meaning) in RULES.items()},
            "layers": [e.as_dict() for e in self.entries],
            "notes": list(self.notes),
            "summary": self.summary(),
        }


def render_json(document):
    """A report (or any dict of its parts) as JSON; inf and NaN as the strings "inf", "-inf",
    "nan", as in verify's schema."""
    if isinstance(document, AuditReport):
        document = document.as_dict()
    return json.dumps(json_clean(document), indent=2, allow_nan=False) + "\n"


def _ulp(value):
    return f"{value:,.0f}" if value >= 10 else f"{value:.3g}"


def _row(entry):
    layer = entry.layer.name if entry.layer is not None else "-"
    if entry.op is None:
        converted = "(none found)"
    else:
        converted = f"{entry.op.op} {entry.op.name}"
    how = entry.how or "-"
    rules = ", ".join(f.rule for f in entry.findings) or "-"
    if entry.numbers is not None:
        c = entry.numbers.comparison
        ulps = f"{_ulp(c.max_ulp)} / {_ulp(c.mean_ulp)}"
        differing = f"{c.differing}/{c.compared}"
        rel = f"{c.max_rel:.2g}"
    else:
        ulps = differing = rel = "-"
    verdict = entry.verdict
    if verdict == SAME and entry.numbers is not None:
        verdict += (", bit-identical" if entry.numbers.comparison.differing == 0 else
                    ", framework rounding")
    return [layer, converted, how, rules, ulps, differing, rel, verdict]


HEADER = ["layer", "converted op", "match", "rules", "max/mean ULP", "differing", "max rel",
          "verdict"]


def render_table(report):
    return "\n".join(format_table(HEADER, [_row(e) for e in report.entries]))


def render_text(report):
    lines = [f"audit: {report.converted} ({report.fmt}) against {report.net}"]
    if report.blobs:
        lines.append(f"inputs: bottom blobs of {report.blobs}")
    lines += ["", render_table(report), ""]
    for entry in report.entries:
        label = entry.layer.name if entry.layer is not None else entry.op.name
        if entry.op is None:
            lines.append(f"{label}: no converted LRN operation found (dropped, or expanded "
                         "into a subgraph audit does not recognise)")
        elif entry.layer is None:
            lines.append(f"{label}: {entry.op.describe()} matches no Caffe LRN layer")
        for finding in entry.findings:
            lines.append(f"{label}: [{finding.rule}] {finding.message}")
        if entry.numbers is not None:
            c = entry.numbers.comparison
            worst = ""
            if c.worst_index is not None:
                worst = (f"; worst {list(c.worst_index)}: converted {c.worst_ours:.9g}, "
                         f"Caffe {c.worst_reference:.9g}")
            lines.append(f"{label}: numbers: {entry.numbers.runtime}; input "
                         f"{entry.numbers.input}; {c.differing} of {c.compared} differ, max "
                         f"{_ulp(c.max_ulp)} ULP, mean {_ulp(c.mean_ulp)}, max rel "
                         f"{c.max_rel:.3g}{worst}")
        for note in entry.notes + ([] if entry.op is None else entry.op.notes):
            lines.append(f"{label}: note: {note}")
    summary = report.summary()
    lines += ["", f"Bound: a layer whose rules hold and whose converted op is within "
                  f"{ROUNDING_BOUND_ULP} float32 ULP of Caffe has the same semantics "
                  f"(framework rounding)."]
    verdict = "PASS" if report.clean else "FAIL"
    lines.append(
        f"{verdict}: {summary['same_semantics']} of {summary['entries']} same semantics, "
        f"{summary['wrong_semantics']} wrong semantics, {summary['unmatched_caffe']} Caffe "
        f"layer(s) and {summary['unmatched_converted']} converted op(s) unmatched"
        + (f"; rules fired: {', '.join(summary['rules'])}" if summary["rules"] else ""))
    return "\n".join(lines) + "\n"
