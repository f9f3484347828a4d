"""Net states: include/exclude rules decide which layers exist, in the API, verify and inspect."""
import json

import numpy as np
import pytest

from caffe_lrn.cli import main
from caffe_lrn.errors import NetParseError, ParameterError
from caffe_lrn.layers.lrn import LRNLayer
from caffe_lrn.nets.loader import parse_net
from caffe_lrn.nets.state import State, describe_rules, filter_net, layer_included, meets_rule
from caffe_lrn.nets.textproto import parse_text
from caffe_lrn.schema import NetStateRule

# TRAIN and TEST variants of one LRN layer writing the same top, as in Caffe's
# train_val nets: only one of them exists in a given phase.
PHASED = """name: "phased"
layer { name: "data" type: "Input" top: "data"
        input_param { shape { dim: 2 dim: 7 dim: 3 dim: 4 } } }
layer { name: "norm_train" type: "LRN" bottom: "data" top: "norm"
        lrn_param { local_size: 3 alpha: 0.5 } include { phase: TRAIN } }
layer { name: "norm_test" type: "LRN" bottom: "data" top: "norm"
        lrn_param { local_size: 5 alpha: 0.1 } include { phase: TEST } }
"""
TRAIN_PARAM, TEST_PARAM = "local_size: 3 alpha: 0.5", "local_size: 5 alpha: 0.1"


def _rule(text):
    return parse_text(text, NetStateRule())


@pytest.mark.parametrize("rule, state, met", [
    ("phase: TEST", State("TEST"), True),
    ("phase: TEST", State("TRAIN"), False),
    ("min_level: 2", State("TEST", level=1), False),
    ("min_level: 2", State("TEST", level=2), True),
    ("max_level: 2", State("TEST", level=3), False),
    ("stage: 'a' stage: 'b'", State("TEST", stages=("a",)), False),
    ("stage: 'a' stage: 'b'", State("TEST", stages=("b", "a", "c")), True),
    ("not_stage: 'deploy'", State("TEST", stages=("deploy",)), False),
    ("not_stage: 'deploy'", State("TRAIN"), True),
    ("", State("TRAIN"), True),  # an empty rule is met by every state
])
def test_meets_rule_as_caffe(rule, state, met):
    assert meets_rule(state, _rule(rule)) is met


def test_include_and_exclude_decide_as_filter_net():
    net, _ = parse_net("""
        layer { name: "plain" type: "ReLU" }
        layer { name: "inc" type: "ReLU" include { phase: TRAIN } include { stage: "s" } }
        layer { name: "exc" type: "ReLU" exclude { phase: TEST } }
        """)
    kept = {state: [layer.name for layer in filter_net(net, state).layer]
            for state in (State("TEST"), State("TRAIN"), State("TEST", stages=("s",)))}
    assert kept[State("TEST")] == ["plain"]
    assert kept[State("TRAIN")] == ["plain", "inc", "exc"]
    assert kept[State("TEST", stages=("s",))] == ["plain", "inc"]
    assert len(net.layer) == 3  # the input net is left as it was


def test_both_kinds_of_rule_are_refused():
    net, _ = parse_net('layer { name: "x" include { phase: TEST } exclude { phase: TRAIN } }')
    with pytest.raises(NetParseError, match="both include and exclude"):
        layer_included(net.layer[0], State())


def test_unknown_phase_is_refused():
    with pytest.raises(ParameterError, match="TRAIN or TEST"):
        State("VAL")


def test_rules_are_described():
    net, _ = parse_net(PHASED)
    assert describe_rules(net.layer[1]) == "include phase: TRAIN"
    assert describe_rules(net.layer[0]) == ""


@pytest.fixture()
def phased(tmp_path):
    """The phased net and a dump of each phase's top (each variant's own numbers)."""
    net = tmp_path / "phased.prototxt"
    net.write_text(PHASED)
    x = np.random.default_rng(5).standard_normal((2, 7, 3, 4)).astype(np.float32)
    dumps = {}
    for phase, param in (("TRAIN", TRAIN_PARAM), ("TEST", TEST_PARAM)):
        dumps[phase] = tmp_path / f"{phase}.npz"
        np.savez(dumps[phase], data=x, norm=LRNLayer.from_text(param).forward(x))
    return str(net), {phase: str(path) for phase, path in dumps.items()}


def test_verify_checks_the_test_variant_by_default(phased, capsys):
    net, dumps = phased
    assert main(["verify", net, "--blobs", dumps["TEST"], "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["phase"] == "TEST"
    assert [(layer["layer"], layer["status"], layer["metrics"]["differing"])
            for layer in run["layers"]] == [("norm_test", "pass", 0)]


def test_verify_phase_train_checks_the_train_variant(phased, capsys):
    net, dumps = phased
    assert main(["verify", net, "--blobs", dumps["TRAIN"], "--phase", "TRAIN"]) == 0
    out = capsys.readouterr().out
    assert "norm_train" in out and "norm_test" not in out and "phase:     TRAIN" in out
    # The other phase's dump does not match: the choice of variant is real.
    assert main(["verify", net, "--blobs", dumps["TRAIN"]]) == 1


def test_verify_names_a_layer_left_out_by_the_phase(phased, capsys):
    net, dumps = phased
    assert main(["verify", net, "--blobs", dumps["TEST"], "--layer", "norm_train"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not in the net in phase TEST" in err


def test_inspect_shows_the_rules(phased, capsys):
    net, _ = phased
    assert main(["inspect", net, "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["rules"]) for r in records] == [
        ("norm_train", "include phase: TRAIN"), ("norm_test", "include phase: TEST")]
    assert main(["inspect", net]) == 0
    assert "include phase: TRAIN" in capsys.readouterr().out
