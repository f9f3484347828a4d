"""caffe-lrn audit without frameworks: ncnn and OpenVINO text formats, rules, matching, CLI.

The converted models are written by tests/audit_models.py to the formats' published
layouts; ncnn and OpenVINO have no runtime here, so their operations run as the float64
model of their definitions (the report says so).
"""
import json

import numpy as np
import pytest

from audit_models import MISTAKES, NET, layers_with, write_ncnn, write_openvino
from caffe_lrn import ConvertedModelError, LRNParams
from caffe_lrn.audit import audit_model
from caffe_lrn.audit.formats import detect_format
from caffe_lrn.audit.matching import match
from caffe_lrn.audit.ops import ACROSS, CAFFE_CONVENTION, TF_CONVENTION, ConvertedLRN
from caffe_lrn.audit.report import SAME, SCHEMA, UNMATCHED, WRONG
from caffe_lrn.audit.rules import RULES, check_rules
from caffe_lrn.nets.lrn_layers import LRNLayerInfo
from fuzzing import assert_one_line_error, run_cli

WRITERS = {"ncnn": (write_ncnn, ".param"), "openvino": (write_openvino, ".xml")}
# ncnn has no axis to get wrong (C planes of H x W, the window follows the region type).
NCNN_RULES = sorted(set(MISTAKES) - {"wrong-axis"})


def _write(fmt, tmp_path, rule=None):
    writer, suffix = WRITERS[fmt]
    return writer(tmp_path / f"model{suffix}", layers_with(rule))


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_correct_text_models_audit_clean_with_measured_ulp(fmt, tmp_path):
    report = audit_model(NET, _write(fmt, tmp_path))
    assert report.fmt == fmt
    assert [e.verdict for e in report.entries] == [SAME, SAME]
    assert [e.layer.name for e in report.entries] == ["norm_a", "norm_w"]
    assert [e.how for e in report.entries] == ["name", "name"]
    for entry in report.entries:
        assert entry.findings == []
        c = entry.numbers.comparison
        # The float64 model of the op, rounded once, against Caffe's float32 engine.
        assert c.compared == 2 * 12 * 7 * 9 if fmt == "openvino" or \
            entry.layer.name == "norm_a" else c.compared > 0
        assert 0 <= c.max_ulp <= 8, (entry.layer.name, c.max_ulp)  # measured: 5 at most
        assert "float64 model" in entry.numbers.runtime
    assert report.clean


@pytest.mark.parametrize("fmt,rule", [("ncnn", r) for r in NCNN_RULES] +
                         [("openvino", r) for r in sorted(MISTAKES)])
def test_each_planted_mistake_fires_exactly_its_rule(fmt, rule, tmp_path):
    report = audit_model(NET, _write(fmt, tmp_path, rule))
    layer, _ = MISTAKES[rule]
    fired = {e.layer.name: [f.rule for f in e.findings] for e in report.entries}
    assert fired[layer] == [rule]
    other = "norm_w" if layer == "norm_a" else "norm_a"
    assert fired[other] == []
    entry = next(e for e in report.entries if e.layer.name == layer)
    if RULES[rule][0] == "rounding":
        assert entry.verdict == SAME and report.clean
        assert entry.numbers.comparison.max_ulp <= 64
    else:
        assert entry.verdict == WRONG and not report.clean
        # Inputs scaled so alpha matters: every semantic mistake is far beyond rounding.
        assert entry.numbers.comparison.max_ulp > 1000


def _op(**overrides):
    values = dict(name="lrn", fmt="onnx", op="LRN", region=ACROSS, size=5, alpha=1e-4,
                  convention=CAFFE_CONVENTION, beta=0.75, bias=2.0, perm=(0, 1, 2, 3),
                  axes=(1,), index=0)
    values.update(overrides)
    return ConvertedLRN(**values)


ACROSS_K2 = LRNParams(local_size=5, alpha=1e-4, beta=0.75, k=2.0)


def test_rules_read_alpha_in_the_format_convention():
    tf_right = _op(convention=TF_CONVENTION, alpha=float(np.float32(1e-4) / np.float32(5)))
    assert check_rules(ACROSS_K2, tf_right) == []
    (finding,) = check_rules(ACROSS_K2, _op(convention=TF_CONVENTION, alpha=1e-4))
    assert finding.rule == "alpha-mismatch" and "not divided by local_size 5" in finding.message
    # TF radius: depth_radius 5 is a window of 11.
    (finding,) = check_rules(ACROSS_K2, _op(convention=TF_CONVENTION, size=11,
                                            alpha=float(np.float32(1e-4) / np.float32(5))))
    assert finding.rule == "size-mismatch" and "needs depth_radius 2" in finding.message
    assert "0.0001" in check_rules(ACROSS_K2, _op(alpha=2e-5))[0].message


def test_rule_messages_name_both_values():
    (finding,) = check_rules(ACROSS_K2, _op(bias=1.0))
    assert finding.message == "bias 1; Caffe k 2"
    assert (finding.caffe, finding.converted, finding.severity) == (2.0, 1.0, "semantics")
    within = LRNParams(local_size=3, alpha=5e-5, norm_region="WITHIN_CHANNEL", k=2.0)
    rules = [f.rule for f in check_rules(within, _op(size=3, bias=2.0))]
    assert rules == ["within-as-across", "k-on-within"]  # MMdnn carries k into it


def _info(name, top=None, index=0, params=ACROSS_K2):
    return LRNLayerInfo(name=name, bottom="x", top=top or name, lrn_param=None,
                        params=params, index=index)


def test_matching_by_name_then_order_and_unmatched_listed():
    layers = [_info("norm1"), _info("norm2", index=1), _info("norm3", index=2)]
    ops = [_op(name="model/norm2/LRN", names=("model/norm2/LRN",), index=0),
           _op(name="lrn_7", names=("lrn_7",), index=1, input_shape=(2, 9, 4, 5)),
           _op(name="lrn_8", names=("lrn_8",), index=2)]
    pairs = match(layers, ops, shapes={"norm1": (2, 12, 4, 5), "norm3": (2, 9, 4, 5)})
    got = [(p.layer.name if p.layer else None, p.op.name if p.op else None, p.how)
           for p in pairs]
    # norm1 has 12 channels: lrn_7 (9 channels) is skipped for it, lrn_8 is unknown.
    assert got == [("norm1", "lrn_8", "order"), ("norm2", "model/norm2/LRN", "name"),
                   ("norm3", "lrn_7", "order")]
    pairs = match(layers, ops[:1])
    assert [(p.layer.name, p.op is None) for p in pairs] == [
        ("norm1", True), ("norm2", False), ("norm3", True)]


def test_dropped_and_extra_operations_are_listed_unmatched(tmp_path):
    layers = layers_with()
    del layers["norm_w"]
    report = audit_model(NET, write_ncnn(tmp_path / "dropped.param", layers))
    assert [(e.layer.name, e.verdict) for e in report.entries] == [("norm_a", SAME),
                                                                   ("norm_w", UNMATCHED)]
    assert not report.clean
    layers = layers_with()
    layers["extra"] = dict(layers["norm_a"])
    report = audit_model(NET, write_ncnn(tmp_path / "extra.param", layers))
    assert [(e.layer.name if e.layer else e.op.name, e.verdict) for e in report.entries] == [
        ("norm_a", SAME), ("norm_w", SAME), ("extra", UNMATCHED)]
    # --layer: only the named layer, and no unmatched converted ops.
    report = audit_model(NET, tmp_path / "extra.param", layers=["norm_w"])
    assert [(e.layer.name, e.verdict) for e in report.entries] == [("norm_w", SAME)]


def test_formats_told_by_content(tmp_path):
    ncnn = _write("ncnn", tmp_path)
    renamed = tmp_path / "model.onnx"
    renamed.write_bytes(ncnn.read_bytes())
    assert detect_format(renamed) == "ncnn"
    xml = _write("openvino", tmp_path)
    assert detect_format(xml) == "openvino"
    assert detect_format(NET.parent / "brief_across_k2.onnx") == "onnx"


@pytest.mark.parametrize("content,message", [
    (b"", "file is empty"),
    (b"hello world", "not a model format audit reads"),
    (b"7767517\n1 1\nLRN lrn 1 1 a b 1=x\n", "is not a number"),
    (b"7767517\n1 1\nLRN lrn 1\n", "needs type, name"),
    (b"<net><layers><layer id='0' type='LRN' name='n'><input><port id='0'/></input>"
     b"</layer></layers></net>", "has no axes input"),
    (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><net/>", "DOCTYPE"),
    (b"<net><layers>", "not well-formed XML"),
])
def test_bad_models_raise_a_typed_error(tmp_path, content, message):
    path = tmp_path / "bad.model"
    path.write_bytes(content)
    with pytest.raises(ConvertedModelError, match=message):
        audit_model(NET, path)


def test_openvino_axes_need_the_bin(tmp_path):
    xml = _write("openvino", tmp_path)
    xml.with_suffix(".bin").unlink()
    with pytest.raises(ConvertedModelError, match="does not exist"):
        audit_model(NET, xml)


def test_cli_exit_codes_table_and_json(tmp_path):
    good = _write("openvino", tmp_path)
    code, out, err = run_cli(["audit", str(NET), str(good)])
    assert code == 0, err
    assert "PASS: 2 of 2 same semantics" in out
    bad = write_ncnn(tmp_path / "bad.param", layers_with("bias-not-k"))
    code, out, err = run_cli(["audit", str(NET), str(bad), "--json"])
    assert code == 1
    document = json.loads(out)
    assert document["schema"] == SCHEMA
    # Exactly the keys README documents for caffe-lrn/audit/1.
    assert set(document) == {"schema", "net", "converted", "format", "blobs", "bound",
                             "rules", "layers", "notes", "summary"}
    assert set(document["layers"][0]) == {"caffe", "converted", "match", "verdict",
                                          "findings", "numbers", "notes"}
    assert set(document["layers"][0]["numbers"]) == {
        "input", "runtime", "bound_ulp", "within_rounding", "compared", "differing",
        "max_abs", "max_rel", "max_ulp", "mean_ulp", "nan_mismatch", "inf_mismatch",
        "nan_payload_differing", "pattern_agrees", "worst"}
    assert set(document["summary"]) == {"entries", "same_semantics", "wrong_semantics",
                                        "unmatched_caffe", "unmatched_converted", "rules",
                                        "clean"}
    assert set(document["rules"]) == set(RULES)
    assert document["summary"]["rules"] == ["bias-not-k"]
    norm_a = document["layers"][0]
    assert norm_a["findings"][0]["message"] == "bias 1; Caffe k 2"
    assert norm_a["numbers"]["max_ulp"] > 1000 and norm_a["verdict"] == WRONG
    code, _, err = run_cli(["audit", str(NET), str(tmp_path / "missing.onnx")])
    assert_one_line_error(code, err)
    for argv in (["--fix"], ["-o", str(tmp_path / "x.onnx")], ["--form", "caffe-order"],
                 ["--force"]):
        code, _, err = run_cli(["audit", str(NET), str(good)] + argv)
        assert code == 2, argv
    code, _, err = run_cli(["audit", str(NET), str(good), "--fix", "-o",
                            str(tmp_path / "fixed.xml")])
    assert_one_line_error(code, err)
    assert "repairs ONNX and ncnn models" in err


@pytest.mark.parametrize("rule", NCNN_RULES)
def test_ncnn_fix_rewrites_only_the_wrong_line(rule, tmp_path):
    bad = write_ncnn(tmp_path / "bad.param", layers_with(rule))
    fixed = tmp_path / "fixed.param"
    code, out, err = run_cli(["audit", str(NET), str(bad), "--fix", "-o", str(fixed)])
    assert code == 0, out + err  # the repaired model audits clean
    before, after = bad.read_text().splitlines(), fixed.read_text().splitlines()
    layer, _ = MISTAKES[rule]
    changed = [b for b, a in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1 and f" {layer} " in changed[0]
    assert audit_model(NET, fixed).clean


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_damaged_text_models_give_typed_errors_or_reports(fmt, tmp_path):
    import random

    from caffe_lrn import CaffeLRNError

    source = _write(fmt, tmp_path).read_bytes()
    rng = random.Random(7)
    outcomes = set()
    for trial in range(40):
        data = bytearray(source)
        if trial % 2:
            data = data[:rng.randrange(1, len(data))]
        else:
            for _ in range(3):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"damaged{trial}{WRITERS[fmt][1]}"
        path.write_bytes(bytes(data))
        if fmt == "openvino":
            path.with_suffix(".bin").write_bytes((tmp_path / "model.bin").read_bytes())
        try:
            report = audit_model(NET, path)
            outcomes.add("report")
            assert all(e.verdict in (SAME, WRONG, UNMATCHED) for e in report.entries)
        except CaffeLRNError:
            outcomes.add("error")
    assert "error" in outcomes  # and nothing but typed errors escaped
