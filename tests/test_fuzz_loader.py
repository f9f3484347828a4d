"""Fuzzing the net loader and the LRN parameter record: bad nets give typed errors, never a crash.

Text nets are the real BVLC and legacy prototxts mutated (characters deleted, inserted,
replaced; truncated; tokens swapped; random field names and values); binary nets are the
bundled cifar10 caffemodel and small serialized nets, mutated and truncated. The only
failures allowed are caffe_lrn's own errors; a net that loads must be upgraded (no legacy
``layers`` left) and its LRN layers must satisfy Caffe's rules.
"""
import math
import pathlib
import struct
import tempfile

import numpy as np
from hypothesis import strategies as st

from caffe_lrn.errors import CaffeLRNError, NetParseError, ParameterError
from caffe_lrn.nets.loader import load_net, parse_net
from caffe_lrn.nets.lrn_layers import lrn_layers
from caffe_lrn.params import LRNParams
from caffe_lrn.schema import LayerParameter, LRNParameter, NetParameter
from caffe_lrn.nets.textproto import parse_text
from caffe_lrn.nets.upgrade import upgrade_net
from conftest import BVLC_NETS, DATA, EXAMPLES
from fuzzing import assert_one_line_error, fuzz_tests, run_cli, typed_or_ok

LEGACY = DATA / "nets" / "legacy"
TEXT_SEEDS = {p.name: p.read_text() for p in sorted(BVLC_NETS.glob("*.prototxt"))}
TEXT_SEEDS.update({p.name: p.read_text() for p in sorted(LEGACY.glob("*.prototxt"))})
# The small nets first: hypothesis shrinks towards the start of a sampled list.
SEED_NAMES = sorted(TEXT_SEEDS, key=lambda name: len(TEXT_SEEDS[name]))
CAFFEMODEL = (EXAMPLES / "cifar10_full.caffemodel").read_bytes()


def _binary_seeds():
    """Serialized nets: every text seed as binary (legacy ones keep their V0/V1 ``layers``),
    and the caffemodel with each blob cut to 3 values (small, but every field kind kept)."""
    seeds = {}
    for name in SEED_NAMES:
        net = parse_text(TEXT_SEEDS[name], NetParameter())
        seeds[name.replace(".prototxt", ".bin")] = net.SerializeToString()
    small = NetParameter.FromString(CAFFEMODEL)
    for layer in small.layer:
        for blob in layer.blobs:
            del blob.data[3:]
    seeds["cifar10_small.caffemodel"] = small.SerializeToString()
    return seeds


BINARY_SEEDS = _binary_seeds()
BINARY_NAMES = sorted(BINARY_SEEDS, key=lambda name: len(BINARY_SEEDS[name]))

# Pieces of prototxt syntax and awkward values, inserted or substituted by the mutations.
TOKENS = [
    "{", "}", "<", ">", ":", ";", ",", '"', "'", "#", "\\", "\n", " ", "[", "]", "-", ".",
    "layer {", "layers {", "layer {", "lrn_param {", "local_size:", "alpha:", "beta:", "k:",
    "norm_region:", "engine:", "type:", 'type: "LRN"', "type: LRN", "bottom:", "top:",
    "name:", "input:", "input_dim:", "input_shape { dim: 1 }", "ACROSS_CHANNELS",
    "WITHIN_CHANNEL", "CUDNN", "nan", "-nan", "inf", "-inf", "infinity", "1e309", "-1e-400",
    "0x7fffffff", "0xffffffffffffffff", "18446744073709551616", "-1", "0", "2", "4",
    "3.5", "1e-4", "1e-4f", "0.75f", "true", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"",
    "\"\\377\"", "\x00", "\ufeff", "\u00e9", "\U0001f600", "\t", "\r", "\r\n",
]
FIELD_NAMES = [f.name for f in LRNParameter.DESCRIPTOR.fields] + [
    "locl_size", "size", "bias", "depth_radius", "lrn_param", "name", "type"]
VALUES = st.one_of(
    st.integers(-2**70, 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(width=32).map(lambda v: f"{v:.9g}"),
    st.sampled_from(["nan", "inf", "-inf", "ACROSS_CHANNELS", "WITHIN_CHANNEL", "DEFAULT",
                     "CAFFE", "CUDNN", "2", "-0", "0x10", "1e38", "3.4028236e38", "1e-46",
                     "5e-324", "true", "\"5\"", "{ }", "{ local_size: 3 }"]),
    st.text(max_size=8).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)


@st.composite
def text_mutation(draw, text):
    """One mutation of ``text`` (a prototxt) that a careless edit or a bad disk could make."""
    n = len(text)
    kind = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "swap", "duplicate",
                                 "value"]))
    i = draw(st.integers(0, n))
    if kind == "delete":
        return text[:i] + text[i + draw(st.integers(1, 40)):]
    if kind == "insert":
        piece = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)))
        return text[:i] + piece + text[i:]
    if kind == "replace":
        piece = draw(st.one_of(st.sampled_from(TOKENS), st.characters()))
        return text[:i] + piece + text[i + 1:]
    if kind == "truncate":
        return text[:i]
    if kind == "swap":
        tokens = text.split(" ")
        if len(tokens) < 2:
            return text
        a = draw(st.integers(0, len(tokens) - 1))
        b = draw(st.integers(0, len(tokens) - 1))
        tokens[a], tokens[b] = tokens[b], tokens[a]
        return " ".join(tokens)
    if kind == "duplicate":
        j = draw(st.integers(i, min(n, i + 200)))
        return text[:j] + text[i:j] + text[j:]
    # "value": give the next "field:" a random value (often inside lrn_param).
    colon = text.find(":", i)
    if colon < 0:
        return text
    end = colon + 1
    while end < n and text[end] not in "\n}":
        end += 1
    return text[:colon + 1] + " " + draw(VALUES) + text[end:]


@st.composite
def mutated_text(draw):
    text = TEXT_SEEDS[draw(st.sampled_from(SEED_NAMES))]
    for _ in range(draw(st.integers(1, 4))):
        text = draw(text_mutation(text))
    return text


@st.composite
def lrn_net_text(draw):
    """A small net whose LRN layer carries random field names and values."""
    fields = draw(st.lists(st.tuples(st.sampled_from(FIELD_NAMES), VALUES), max_size=6))
    body = " ".join(f"{name}: {value}" for name, value in fields)
    layer_type = draw(st.sampled_from(['"LRN"', '"LRN"', '"Input"', '"lrn"']))
    bottoms = draw(st.integers(0, 2))
    legacy = draw(st.booleans())
    if legacy:  # a V1 layer: enum type, parameters in field 18
        return ('input: "data" input_dim: 1 input_dim: 4 input_dim: 3 input_dim: 2\n'
                'layers { name: "norm" type: LRN ' + 'bottom: "data" ' * bottoms +
                'top: "norm" lrn_param { ' + body + " } }\n")
    return ('layer { name: "data" type: "Input" top: "data" '
            'input_param { shape { dim: 1 dim: 4 dim: 3 dim: 2 } } }\n'
            f'layer {{ name: "norm" type: {layer_type} ' + 'bottom: "data" ' * bottoms +
            'top: "norm" lrn_param { ' + body + " } }\n")


@st.composite
def binary_mutation(draw, data):
    n = len(data)
    kind = draw(st.sampled_from(["flip", "byte", "delete", "insert", "truncate", "duplicate",
                                 "varint", "tag"]))
    i = draw(st.integers(0, n))
    if kind == "flip" and n:
        i = min(i, n - 1)
        return data[:i] + bytes([data[i] ^ (1 << draw(st.integers(0, 7)))]) + data[i + 1:]
    if kind == "byte" and n:
        i = min(i, n - 1)
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
    if kind == "delete":
        return data[:i] + data[i + draw(st.integers(1, 16)):]
    if kind == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=12)) + data[i:]
    if kind == "truncate":
        return data[:i]
    if kind == "duplicate":
        j = draw(st.integers(i, min(n, i + 64)))
        return data[:j] + data[i:j] + data[j:]
    if kind == "varint":  # an over-long or huge length / value
        value = draw(st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32, 2**63, 2**64 - 1]))
        return data[:i] + _varint(value) + data[i:]
    # "tag": a field key, sometimes of a real field with the wrong wire type.
    number = draw(st.one_of(st.sampled_from([1, 2, 3, 18, 100, 118, 1000, 2**29 - 1]),
                            st.integers(0, 2**29)))
    wire = draw(st.integers(0, 7))
    return data[:i] + _varint((number << 3) | wire) + data[i:]


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@st.composite
def mutated_binary(draw):
    # The full caffemodel is large and mostly float data; the small nets carry the structure.
    if draw(st.integers(0, 9)) == 0:
        data = CAFFEMODEL
    else:
        data = BINARY_SEEDS[draw(st.sampled_from(BINARY_NAMES))]
    for _ in range(draw(st.integers(1, 4))):
        data = draw(binary_mutation(data))
    return data


def check_loaded(net):
    """Invariants of a net that loaded: current format, LRN layers valid by Caffe's rules."""
    assert isinstance(net, NetParameter)
    assert not len(net.layers), "legacy layers left after upgrade"
    infos, _ = typed_or_ok(lrn_layers, net)
    for info in infos or ():
        params = info.params
        assert params.local_size % 2 == 1
        assert all(math.isfinite(v) for v in (params.alpha, params.beta, params.k))
        assert LRNParams.from_proto(params.to_proto()) == params
        assert net.layer[info.index].name == info.name


def check_net_bytes(data):
    """parse_net + upgrade_net + lrn_layers: a typed error or a valid net, nothing else."""
    parsed, error = typed_or_ok(parse_net, data, source="fuzz.net")
    if error is not None:
        assert isinstance(error, NetParseError)
        return
    net, form = parsed
    assert form in ("text", "binary")
    _, error = typed_or_ok(upgrade_net, net)
    if error is None:
        check_loaded(net)


def check_text(text):
    check_net_bytes(text.encode("utf-8", "surrogatepass"))


test_mutated_text_quick, test_mutated_text_long = fuzz_tests(
    check_text, mutated_text(), long=2500)
test_lrn_fields_quick, test_lrn_fields_long = fuzz_tests(
    check_text, lrn_net_text(), long=1500)
test_mutated_binary_quick, test_mutated_binary_long = fuzz_tests(
    check_net_bytes, mutated_binary(), long=2000)
test_random_bytes_quick, test_random_bytes_long = fuzz_tests(
    check_net_bytes, st.binary(max_size=300), quick=100, long=500)


def check_file(data, suffix):
    """load_net and ``caffe-lrn inspect`` on a file: typed error / exit 1 with one line."""
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / f"net{suffix}"
        path.write_bytes(data)
        net, error = typed_or_ok(load_net, path)
        if error is None:
            check_loaded(net)
        code, out, err = run_cli(["inspect", "--json", str(path)])
        if code != 0:
            assert_one_line_error(code, err)
        assert path.read_bytes() == data  # the input is never modified


def check_text_file(text, suffix):
    check_file(text.encode("utf-8", "surrogatepass"), suffix)


FILE_SUFFIXES = st.sampled_from([".prototxt", ".caffemodel", ".txt", ""])
test_file_text_quick, test_file_text_long = fuzz_tests(
    check_text_file,
    st.one_of(mutated_text(), lrn_net_text()), FILE_SUFFIXES, quick=60, long=600)
test_file_binary_quick, test_file_binary_long = fuzz_tests(
    check_file, mutated_binary(), FILE_SUFFIXES, quick=60, long=600)


# -- the LRN parameter record -----------------------------------------------------------------

PARAM_VALUES = st.one_of(
    st.integers(-2**40, 2**40), st.sampled_from([0, 1, 2, 3, 4, 5, 2**31 - 1, 2**32 - 1, 2**32,
                                                 2**64 + 1, -1, -3]),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(width=32),
    st.sampled_from([1e39, -3.5e38, 3.4028235e38, 1e-46, float("nan"), float("inf"), 1.5]),
    st.booleans(), st.none(), st.text(max_size=4), st.sampled_from(["3", "ACROSS_CHANNELS",
                                                                    b"5", [3], 3 + 0j]),
    st.sampled_from([np.int64(3), np.uint8(5), np.float32(1e-4), np.float16(2), np.int32(4),
                     np.float64("nan")]),
)
PARAM_NAMES = ("local_size", "alpha", "beta", "k", "norm_region", "engine")


def check_params(values):
    params, error = typed_or_ok(LRNParams, **values)
    if error is not None:
        assert isinstance(error, ParameterError)
        return
    assert isinstance(params.local_size, int) and params.local_size % 2 == 1
    for name in ("alpha", "beta", "k"):
        value = getattr(params, name)
        assert math.isfinite(value) and float(np.float32(value)) == value
    assert LRNParams.from_proto(params.to_proto()) == params
    assert LRNParams(**params.as_dict()) == params


test_params_quick, test_params_long = fuzz_tests(
    check_params,
    st.dictionaries(st.sampled_from(PARAM_NAMES),
                    st.one_of(PARAM_VALUES, st.sampled_from(
                        ["ACROSS_CHANNELS", "WITHIN_CHANNEL", "CAFFE", "CUDNN", "across"]))),
    quick=200, long=1500)


def check_param_proto(local_size, alpha, beta, k, region, engine, via_layer):
    """Any wire-level LRNParameter (enums out of range too): a record or ParameterError."""
    message = LRNParameter()
    message.ParseFromString(
        _varint(1 << 3) + _varint(local_size) + bytes([2 << 3 | 5]) + struct.pack("<f", alpha)
        + bytes([3 << 3 | 5]) + struct.pack("<f", beta) + _varint(4 << 3) + _varint(region)
        + bytes([5 << 3 | 5]) + struct.pack("<f", k) + _varint(6 << 3) + _varint(engine))
    if via_layer:
        layer = LayerParameter(name="n", type="LRN")
        layer.lrn_param.CopyFrom(message)
        params, error = typed_or_ok(LRNParams.from_layer, layer)
    else:
        params, error = typed_or_ok(LRNParams.from_proto, message)
    if error is not None:
        assert isinstance(error, ParameterError)
        return
    assert params.local_size == local_size and local_size % 2 == 1
    assert all(math.isfinite(v) for v in (alpha, beta, k))


test_param_proto_quick, test_param_proto_long = fuzz_tests(
    check_param_proto, st.integers(0, 2**32 - 1),
    st.floats(width=32), st.floats(width=32), st.floats(width=32),
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.booleans(), long=1000)


def check_param_text(text):
    params, error = typed_or_ok(LRNParams.from_text, text)
    if error is not None:
        assert isinstance(error, (ParameterError, NetParseError))


test_param_text_quick, test_param_text_long = fuzz_tests(
    check_param_text,
    st.one_of(
        st.lists(st.tuples(st.sampled_from(FIELD_NAMES), VALUES), max_size=5).map(
            lambda fields: " ".join(f"{n}: {v}" for n, v in fields)),
        st.lists(st.tuples(st.sampled_from(FIELD_NAMES), VALUES), max_size=5).map(
            lambda fields: "lrn_param { " + " ".join(f"{n}: {v}" for n, v in fields) + " }"),
        st.text(max_size=40)),
    long=1000)


# -- nesting and size: no hang, no RecursionError ---------------------------------------------

def test_deeply_nested_text_is_a_parse_error():
    for text in ("layer { " * 100_000, "layer { lrn_param " + "{ " * 100_000,
                 "layer { include < " * 50_000, "{" * 200_000 + "}" * 200_000):
        try:
            parse_net(text.encode(), source="deep.prototxt")
        except NetParseError as error:
            assert error.line == 1 and error.column is not None
        else:
            raise AssertionError("deep nesting parsed")


def test_deeply_nested_binary_is_a_parse_error():
    # Unknown groups nested 100,000 deep inside a layer, and layer-in-layer length fields.
    groups = _varint(1000 << 3 | 3) * 100_000 + _varint(1000 << 3 | 4) * 100_000
    nested = b""
    for _ in range(2000):
        nested = _varint(100 << 3 | 2) + _varint(len(nested)) + nested
    for data in (groups, _varint(100 << 3 | 2) + _varint(len(groups)) + groups, nested):
        try:
            net, _ = parse_net(data, source="deep.caffemodel", binary=True)
            upgrade_net(net)
        except NetParseError as error:
            assert error.offset is not None
            assert len(str(error)) < 500, "the error message must stay one readable line"
        except CaffeLRNError:
            pass


def test_huge_text_net_loads_in_linear_time():
    # 20,000 LRN layers: loading is linear, not quadratic, and lists them all.
    layer = 'layer { name: "n%d" type: "LRN" bottom: "a" top: "b" lrn_param { local_size: 3 } }\n'
    text = "".join(layer % i for i in range(20_000))
    net, _ = parse_net(text.encode(), source="huge.prototxt")
    assert len(lrn_layers(net)) == 20_000
