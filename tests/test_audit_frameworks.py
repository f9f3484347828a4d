"""caffe-lrn audit with the real frameworks: the caffe2onnx models, repair, and correct models
made with ONNX, TensorFlow and TFLite, clean and with each rule's mistake planted."""
import numpy as np
import pytest

from audit_models import (
    MISTAKES, NET, TF_MISTAKES, layers_with, onnx_pair, save_graphdef, save_tf, save_tflite,
)
from caffe_lrn import LRNLayer, OutputExistsError
from caffe_lrn.audit import audit_model, repair_model
from caffe_lrn.audit.report import SAME, WRONG
from caffe_lrn.numerics.ulp import ulp_distance
from conftest import DATA, EXAMPLES
from fuzzing import run_cli

pytestmark = pytest.mark.frameworks
try:
    import onnx
    import onnxruntime as ort
except ImportError:  # collected without the extras: every test here is marked frameworks
    onnx = ort = None


@pytest.fixture(autouse=True)
def _needs_onnx():
    if onnx is None or ort is None:
        pytest.skip("onnx and onnxruntime are not installed (the onnx extra)")

CONVERTED = DATA / "converted"
CIFAR_NET = EXAMPLES / "cifar10_full_deploy.prototxt"
CIFAR_ONNX = CONVERTED / "cifar10_full_deploy.onnx"
CIFAR_BLOBS = EXAMPLES / "cifar10_full_blobs.npz"
REFS = DATA / "caffe-reference" / "refs.npz"


def _refs_blobs(tmp_path, case):
    """The refs.npz case as a dump keyed by the converted nets' blob names."""
    with np.load(REFS) as z:
        path = tmp_path / f"{case}.npz"
        np.savez(path, data=z[f"{case}__x"], lrn=z[f"{case}__top"])
    return path


def _rules(report):
    return {e.layer.name if e.layer else e.op.name: [f.rule for f in e.findings]
            for e in report.entries}


# --- Done means 1: the caffe2onnx models ---------------------------------------------------

@pytest.mark.parametrize("name,rule", [
    ("brief_across_k2", "bias-not-k"), ("refs_across_k2", "bias-not-k"),
    ("brief_within_k2", "within-as-across"), ("refs_within_cifar", "within-as-across")])
def test_caffe2onnx_models_fail_with_the_problem_named(name, rule, tmp_path):
    code, out, _ = run_cli(["audit", str(CONVERTED / f"{name}.prototxt"),
                            str(CONVERTED / f"{name}.onnx")])
    assert code == 1
    assert f"lrn: [{rule}]" in out
    if rule == "bias-not-k":
        assert "lrn: [bias-not-k] bias 1; Caffe k 2" in out
    if name.startswith("refs_"):
        case = name[len("refs_"):]
        report = audit_model(CONVERTED / f"{name}.prototxt", CONVERTED / f"{name}.onnx",
                             blobs=_refs_blobs(tmp_path, case))
        (entry,) = report.entries
        c = entry.numbers.comparison
        assert "reference blob 'data'" in entry.numbers.input
        assert entry.verdict == WRONG and c.max_ulp > 1e5  # measured: 328,059 and 6.7 million
        if case == "across_k2":
            assert 0.6 < c.max_rel < 0.75  # the README's 0.68


def test_cifar10_both_layers_within_as_across_with_reference_ulps():
    code, out, _ = run_cli(["audit", str(CIFAR_NET), str(CIFAR_ONNX), "--blobs",
                            str(CIFAR_BLOBS)])
    assert code == 1
    for layer in ("norm1", "norm2"):
        assert f"{layer}: [within-as-across]" in out
        assert f"{layer}: numbers: ONNX Runtime" in out
    report = audit_model(CIFAR_NET, CIFAR_ONNX, blobs=CIFAR_BLOBS)
    assert _rules(report) == {"norm1": ["within-as-across"], "norm2": ["within-as-across"]}
    norm1 = report.entries[0].numbers.comparison
    assert norm1.compared == 2 * 32 * 16 * 16 and norm1.max_ulp > 1e6


# --- Done means 2: repairing the CIFAR-10 model --------------------------------------------

def _run(model, feeds, outputs):
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    have = {o.name for o in exposed.graph.output}
    for name in outputs:
        if name not in have:
            exposed.graph.output.append(onnx.helper.make_tensor_value_info(
                name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(exposed.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return dict(zip(outputs, session.run(outputs, feeds)))


def test_fix_cifar10_end_to_end_within_8_ulp(tmp_path):
    fixed_path = tmp_path / "fixed.onnx"
    code, out, err = run_cli(["audit", str(CIFAR_NET), str(CIFAR_ONNX), "--fix", "-o",
                              str(fixed_path)])
    assert code == 0, out + err  # the repaired model audits clean
    original, fixed = onnx.load(CIFAR_ONNX), onnx.load(fixed_path)
    onnx.checker.check_model(fixed)
    with np.load(CIFAR_BLOBS) as z:
        blobs = {k: z[k] for k in z.files}
    images = blobs["input__data"]
    got = {}
    for n in range(images.shape[0]):  # the converted model takes one image
        one = _run(fixed, {"data_input": images[n:n + 1]},
                   ["relu1", "norm1", "pool2", "norm2", "prob"])
        for key, value in one.items():
            got.setdefault(key, []).append(value)
    got = {key: np.concatenate(value) for key, value in got.items()}
    # norm1's input is bit-identical to Caffe's pool1 there; its output within 8 ULP.
    assert np.array_equal(got["relu1"], blobs["pool1"])
    assert ulp_distance(got["norm1"], blobs["norm1"]).max() <= 8
    # Each repaired LRN on the input it receives inside the model, against Caffe's layer.
    for layer, bottom in (("norm1", "relu1"), ("norm2", "pool2")):
        caffe = LRNLayer(_cifar_params(layer))
        assert ulp_distance(got[layer], caffe.forward(got[bottom])).max() <= 8
    # Every node other than the LRNs and every initializer unchanged, byte for byte.
    lrn_outputs = {"norm1", "norm2"}
    before = [n.SerializeToString() for n in original.graph.node
              if n.output[0] not in lrn_outputs]
    after = [n.SerializeToString() for n in fixed.graph.node
             if not n.output[0].startswith(("norm1", "norm2"))]
    assert before == after
    kept = {t.name: t.SerializeToString() for t in fixed.graph.initializer}
    for tensor in original.graph.initializer:
        assert kept[tensor.name] == tensor.SerializeToString()
    assert [o.version for o in fixed.opset_import] == [o.version for o in original.opset_import]
    assert list(fixed.graph.input) == list(original.graph.input)
    assert list(fixed.graph.output) == list(original.graph.output)
    code, _, _ = run_cli(["audit", str(CIFAR_NET), str(fixed_path), "--blobs",
                          str(CIFAR_BLOBS)])
    assert code == 0


def _cifar_params(layer):
    from caffe_lrn import load_net, lrn_layers

    return {info.name: info.params for info in lrn_layers(load_net(CIFAR_NET))}[layer]


def test_fix_refuses_to_overwrite(tmp_path):
    out = tmp_path / "fixed.onnx"
    out.write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        repair_model(CIFAR_NET, CIFAR_ONNX, output=out)
    assert out.read_bytes() == b"keep"
    code, _, err = run_cli(["audit", str(CIFAR_NET), str(CIFAR_ONNX), "--fix", "-o",
                            str(CIFAR_ONNX), "--force"])
    assert code == 1 and "is the model being repaired" in err


def test_caffe_order_form_replaces_across_lrns_and_audits_bit_exact(tmp_path):
    net = CONVERTED / "refs_across_k2.prototxt"
    result = repair_model(net, CONVERTED / "refs_across_k2.onnx", form="caffe-order",
                          output=tmp_path / "fixed.onnx")
    assert result.opset_after == result.opset_before == 21
    assert any("caffe-order form" in change for change in result.changes)
    report = audit_model(net, tmp_path / "fixed.onnx", blobs=_refs_blobs(tmp_path, "across_k2"))
    (entry,) = report.entries
    assert entry.op.op == "caffe-order" and entry.findings == []
    assert entry.numbers.comparison.max_ulp <= 2  # the running window in Caffe's order


def test_repair_raises_an_old_opset_and_says_so(tmp_path):
    model = onnx_pair(layers_with("within-as-across"), opset=6)
    path = tmp_path / "old.onnx"
    path.write_bytes(model.SerializeToString())
    result = repair_model(NET, path)
    assert (result.opset_before, result.opset_after) == (6, 7)
    assert any("opset raised from 6 to 7" in change for change in result.changes)


# --- Done means 3: correctly converted models, and each mistake planted ---------------------

def _onnx_file(tmp_path, rule=None):
    path = tmp_path / "model.onnx"
    model = onnx_pair(layers_with(rule))
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def test_correct_onnx_audits_clean_with_framework_rounding(tmp_path):
    report = audit_model(NET, _onnx_file(tmp_path))
    assert [(e.layer.name, e.op.op, e.verdict) for e in report.entries] == [
        ("norm_a", "LRN", SAME), ("norm_w", "within-composite", SAME)]
    for entry in report.entries:
        assert entry.findings == [] and entry.numbers.runtime.startswith("ONNX Runtime")
        assert entry.numbers.comparison.max_ulp <= 16  # measured: 3 and 1


@pytest.mark.parametrize("rule", sorted(MISTAKES))
def test_onnx_planted_mistake_fires_exactly_its_rule(rule, tmp_path):
    path = _onnx_file(tmp_path, rule)
    report = audit_model(NET, path)
    layer, _ = MISTAKES[rule]
    assert _rules(report)[layer] == [rule]
    assert all(rules == [] for name, rules in _rules(report).items() if name != layer)
    fixable = rule not in ("wrong-axis",)
    result = repair_model(NET, path, output=tmp_path / "fixed.onnx")
    if fixable:
        assert result.left == []
        again = audit_model(NET, tmp_path / "fixed.onnx")
        assert again.clean, _rules(again)
    else:
        assert result.left and "not repaired" in result.left[0]


@pytest.fixture(scope="module")
def tf():
    tf = pytest.importorskip("tensorflow")
    return tf


# The frozen GraphDef shares the SavedModel's reader: three cases suffice for it.
TF_CASES = [(kind, rule) for kind in ("savedmodel", "tflite")
            for rule in [None] + sorted(TF_MISTAKES)] + \
    [("graphdef", rule) for rule in (None, "bias-not-k", "size-mismatch")]


@pytest.mark.parametrize("kind,rule", TF_CASES)
def test_tf_models_clean_and_planted(tf, kind, rule, tmp_path):
    if kind == "savedmodel":
        path = save_tf(tmp_path / "saved", rule)
    elif kind == "graphdef":
        path = save_graphdef(tmp_path / "frozen.pb", rule)
    else:
        path = save_tflite(tmp_path / "model.tflite", rule)
    report = audit_model(NET, path, layers=["norm_a"])
    (entry,) = report.entries
    assert entry.op.fmt == ("tflite" if kind == "tflite" else "tf")
    assert [f.rule for f in entry.findings] == ([] if rule is None else [rule])
    runtime = entry.numbers.runtime
    assert runtime.startswith("TFLite" if kind == "tflite" else "TensorFlow")
    c = entry.numbers.comparison
    if rule is None or rule == "alpha-rounding":
        assert entry.verdict == SAME and c.max_ulp <= 64
    else:
        assert entry.verdict == WRONG and c.max_ulp > 1000


def test_a_mistake_no_rule_names_is_caught_by_the_numbers(tmp_path):
    # The WITHIN composite with its padding all on one side: every parameter is right, the
    # window is shifted by a pixel. Only running it shows it.
    model = onnx_pair(layers_with())
    for node in model.graph.node:
        if node.op_type == "AveragePool":
            for attribute in node.attribute:
                if attribute.name == "pads":
                    attribute.ints[:] = [0, 0, 2, 2]
    path = tmp_path / "shifted.onnx"
    path.write_bytes(model.SerializeToString())
    report = audit_model(NET, path)
    assert _rules(report) == {"norm_a": [], "norm_w": ["numbers-beyond-rounding"]}
    entry = report.entries[1]
    assert entry.verdict == WRONG and entry.numbers.comparison.max_ulp > 1000
    assert any("pads [0, 0, 2, 2]" in note for note in entry.op.notes)
    result = repair_model(NET, path, output=tmp_path / "fixed.onnx")
    assert result.left == [] and result.changes[0].startswith("norm_w: within-composite "
                                                             "replaced by the within-composite")
    assert audit_model(NET, tmp_path / "fixed.onnx").clean


def test_readme_worked_example_is_the_real_output(monkeypatch):
    root = DATA.parent.parent
    monkeypatch.chdir(root)  # the README runs it from a clone's top folder
    argv = ["audit", "caffe_lrn/examples/cifar10_full_deploy.prototxt",
            "caffe_lrn/examples/cifar10_full_caffe2onnx.onnx", "--blobs",
            "caffe_lrn/examples/cifar10_full_blobs.npz"]
    code, out, _ = run_cli(argv)
    assert code == 1
    assert "$ caffe-lrn " + " ".join(argv) + "\n" + out in (root / "README.md").read_text()
