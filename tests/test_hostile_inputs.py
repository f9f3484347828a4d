"""Hostile inputs: names that try to become code, outputs that are inputs, special files,
hostile array headers and JSON documents. Each is refused with a typed error (one line and
exit 1 at the CLI) or carried through escaped; nothing from an input ever runs."""
import importlib.util
import json
import sys

import pytest

from caffe_lrn import load_net, lrn_layers
from fuzzing import assert_one_line_error, run_cli

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

INJECTED = "import pathlib; pathlib.Path(__file__).with_name('RAN').write_text('x')"


def net_text(name, bottom, top):
    """A prototxt with one LRN layer whose names are given as protobuf-escaped strings."""
    return (f'layer {{ name: "data" type: "Input" top: "{bottom}" '
            "input_param { shape { dim: 2 dim: 3 dim: 5 dim: 4 } } }\n"
            f'layer {{ name: "{name}" type: "LRN" bottom: "{bottom}" top: "{top}" }}\n')


def import_isolated(path):
    """Import a generated module with TensorFlow made unimportable (it must not need it)."""
    spec = importlib.util.spec_from_file_location("generated_lrn", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("tensorflow", "absent")
    sys.modules["tensorflow"] = None
    try:
        spec.loader.exec_module(module)
    finally:
        if saved == "absent":
            del sys.modules["tensorflow"]
        else:
            sys.modules["tensorflow"] = saved
    return module


def test_blob_name_with_triple_quotes_does_not_run_code(tmp_path):
    bottom = '\\"\\"\\"\\n' + INJECTED.replace("'", "\\'") + '\\n\\"\\"\\"'
    net = tmp_path / "net.prototxt"
    net.write_text(net_text('n\\"\\"\\"\\\\', bottom, "t\\000"))
    out = tmp_path / "lrn.py"
    code, _, err = run_cli(["convert", str(net), "--to", "tf", "--emit", "python", "-o",
                            str(out)])
    assert code == 0, err
    module = import_isolated(out)
    assert not (tmp_path / "RAN").exists()
    [info] = lrn_layers(load_net(net))
    assert info.bottom.startswith('"""\nimport pathlib')
    assert list(module.LAYERS) == [info.name] == ['n"""\\']
    assert module.SOURCE == str(net)


def test_source_path_with_triple_quotes_gives_an_importable_module(tmp_path):
    net = tmp_path / 'q""".prototxt'
    net.write_text(net_text("norm1", "data", "norm1"))
    out = tmp_path / "lrn.py"
    assert run_cli(["convert", str(net), "--to", "tf", "--emit", "python", "-o",
                    str(out)])[0] == 0
    module = import_isolated(out)
    assert module.SOURCE == str(net) and list(module.LAYERS) == ["norm1"]


def test_names_with_newline_and_nul_survive_prototxt_round_trip(tmp_path):
    net = tmp_path / "net.prototxt"
    net.write_text(net_text("a\\nlayer { name: \\\"x\\\" }", "b\\000\\\\", 'c\\"'))
    document = tmp_path / "doc.json"
    assert run_cli(["convert", str(net), "--to", "onnx", "-o", str(document)])[0] == 0
    back = tmp_path / "back.prototxt"
    code, _, err = run_cli(["convert", str(document), "--to", "caffe", "-o", str(back)])
    assert code == 0, err
    [before], [after] = lrn_layers(load_net(net)), lrn_layers(load_net(back))
    assert (after.name, after.bottom, after.top) == (before.name, before.bottom, before.top)
    assert (after.name, after.bottom, after.top) == ('a\nlayer { name: "x" }', "b\x00\\",
                                                      'c"')
    assert after.params == before.params


def test_document_path_with_a_newline_stays_in_the_comment(tmp_path):
    net = tmp_path / "net.prototxt"
    net.write_text(net_text("norm1", "data", "norm1"))
    document = tmp_path / 'doc\nlayer { name: "injected" type: "LRN" }\n.json'
    assert run_cli(["convert", str(net), "--to", "tf", "-o", str(document)])[0] == 0
    back = tmp_path / "back.prototxt"
    assert run_cli(["convert", str(document), "--to", "caffe", "-o", str(back)])[0] == 0
    assert [info.name for info in lrn_layers(load_net(back))] == ["norm1"]
