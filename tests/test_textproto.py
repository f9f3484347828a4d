"""parse_text: real prototxt features parse; malformed nets give line and column."""
import pytest

from caffe_lrn.cli import main
from caffe_lrn.errors import NetParseError
from caffe_lrn.schema import LRNParameter, NetParameter
from caffe_lrn.nets.textproto import parse_text
from conftest import DATA

MALFORMED = DATA / "nets" / "malformed"

# file, line, column, a fragment of the message
MALFORMED_CASES = [
    ("unknown_field.prototxt", 8, 5, 'LRNParameter has no field named "locl_size"'),
    ("unclosed_brace.prototxt", 7, 3, 'unexpected end of input: a "{" is not closed'),
    ("bad_enum.prototxt", 5, 18, "NormRegion has no value named ACROSS (expected one of "
                                 "ACROSS_CHANNELS, WITHIN_CHANNEL)"),
    ("fractional_size.prototxt", 4, 27, "could not parse integer: 3.5"),
    ("negative_size.prototxt", 4, 27, "value out of range: -5"),
    ("bad_float.prototxt", 5, 12, "could not parse float: 1e-4x"),
    ("missing_colon.prototxt", 3, 8, 'expected ":"'),
    ("unterminated_string.prototxt", 1, 7, "string missing ending quote"),
    ("extra_brace.prototxt", 4, 1, 'unexpected "}": no open "{" to close'),
    ("repeated_name.prototxt", 2, 7, 'NetParameter should not have multiple "name" fields'),
    ("unquoted_type.prototxt", 4, 9, "expected string but found: 'LRN'"),
    ("misplaced_field.prototxt", 3, 3, 'LayerParameter has no field named "force_backward"'),
    ("bad_int.prototxt", 5, 12, "could not parse integer: 5x"),
]


def test_every_malformed_file_has_a_case():
    assert sorted(p.name for p in MALFORMED.iterdir()) == sorted(c[0] for c in MALFORMED_CASES)
    assert len(MALFORMED_CASES) >= 10


@pytest.mark.parametrize("name,line,column,fragment", MALFORMED_CASES)
def test_malformed_net_error_names_line_and_column(name, line, column, fragment):
    path = MALFORMED / name
    with pytest.raises(NetParseError) as info:
        parse_text(path.read_text(), NetParameter(), source=str(path))
    error = info.value
    assert (error.line, error.column) == (line, column)
    assert fragment in str(error)
    assert str(error).startswith(f"{path}:{line}:{column}: ")
    assert "\n" not in str(error)


@pytest.mark.parametrize("name,line,column,fragment", MALFORMED_CASES)
def test_malformed_net_at_cli_is_one_line_exit_1(name, line, column, fragment, capsys):
    path = MALFORMED / name
    assert main(["inspect", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"caffe-lrn: error: {path}:{line}:{column}: ")
    assert fragment in lines[0]
    assert "Traceback" not in captured.err


def test_comments_repeated_and_nested_fields():
    text = """
    # leading comment
    name: "n"  # trailing comment
    input: "a" input: "b"
    layer { name: "x" type: "LRN" bottom: "a" top: "y"
            lrn_param: { local_size: 3 alpha: 1e-4 norm_region: WITHIN_CHANNEL } }
    layer < name: 'single-quoted' include { phase: TEST } include { stage: "s" } >
    """
    net = parse_text(text, NetParameter())
    assert list(net.input) == ["a", "b"]
    assert net.layer[0].lrn_param.local_size == 3
    assert net.layer[0].lrn_param.norm_region == LRNParameter.WITHIN_CHANNEL
    assert net.layer[1].name == "single-quoted"
    assert [rule.HasField("phase") for rule in net.layer[1].include] == [True, False]


def test_float_fields_hold_float32():
    param = parse_text("alpha: 0.0001 beta: 0.1", LRNParameter())
    assert param.alpha == 9.999999747378752e-05  # 0.0001 rounded to float32
    assert param.beta == 0.10000000149011612


def test_bytes_input_and_byte_order_mark():
    param = parse_text("\ufefflocal_size: 7".encode("utf-8"), LRNParameter())
    assert param.local_size == 7


def test_invalid_utf8_reports_offset():
    with pytest.raises(NetParseError) as info:
        parse_text(b'name: "\xff"', NetParameter(), source="x.prototxt")
    assert info.value.offset == 7
