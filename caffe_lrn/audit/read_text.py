"""ncnn ``.param`` and OpenVINO IR ``.xml``: text formats read with the standard library.

ncnn ``.param`` (text): a magic line ``7767517``, a line ``layer_count blob_count``, then one
line per layer ``type name inputs outputs bottom... top... key=value...``. Its ``LRN`` layer
reads ``0`` = region (0 ACROSS_CHANNELS, 1 WITHIN_CHANNEL), ``1`` = local_size (default 5),
``2`` = alpha (1), ``3`` = beta (0.75), ``4`` = bias (1; releases before 2020 had no bias and
always added 1). ncnn divides alpha by local_size (by local_size^2 within a channel), like
Caffe, and stores each image as C planes of H x W: the window is over channels or planes.

OpenVINO IR (``<net>`` XML, version 10 and later): a ``LRN`` layer (opset1) has ``alpha``,
``beta``, ``bias``, ``size`` and a second input, a ``Const`` holding ``axes``, whose bytes are
in the ``.bin`` file beside the ``.xml``. ``axes = [1]`` is across channels, ``[2, 3]`` within
a plane; alpha is divided by ``size ** len(axes)``, like Caffe in both regions. IR version 7
and older has ``Norm`` layers (``local-size``, ``region`` = across | same, ``k``).
"""
import pathlib
import xml.etree.ElementTree as ElementTree

import numpy as np

from caffe_lrn.audit.model_files import NCNN_MAGIC, read_model_bytes
from caffe_lrn.audit.ops import ACROSS, CAFFE_CONVENTION, WITHIN, ConvertedLRN, ConvertedModel
from caffe_lrn.errors import ConvertedModelError

NCHW = (0, 1, 2, 3)
NCNN_LRN_DEFAULTS = {0: 0, 1: 5, 2: 1.0, 3: 0.75, 4: 1.0}


def _text(path):
    data = read_model_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConvertedModelError(f"{path}: not UTF-8 text (byte {exc.start}: "
                                  f"{data[exc.start:exc.start + 1]!r})") from None


def _ncnn_value(path, number, text):
    try:
        if any(c in text for c in ".eE") or text.lower() in ("nan", "inf", "-inf"):
            return float(text)
        return int(text)
    except ValueError:
        raise ConvertedModelError(f"{path}:{number}: parameter value {text!r} is not a "
                                  "number") from None


def read_ncnn(path):
    return parse_ncnn(_text(path), path)


def parse_ncnn(text, path="<ncnn .param>"):
    """The LRN layers of an ncnn ``.param`` text; ``source`` keeps the text."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != NCNN_MAGIC.decode():
        raise ConvertedModelError(f"{path}: not an ncnn .param file (the first line must be "
                                  f"the magic number {NCNN_MAGIC.decode()})")
    ops = []
    index = 0
    for number, line in enumerate(lines[2:], start=3):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 4:
            raise ConvertedModelError(f"{path}:{number}: a layer line needs type, name, "
                                      f"input and output counts; got {line.strip()!r}")
        kind, name = tokens[0], tokens[1]
        try:
            inputs, outputs = int(tokens[2]), int(tokens[3])
        except ValueError:
            raise ConvertedModelError(f"{path}:{number}: layer {name!r}: input and output "
                                      "counts must be integers") from None
        blobs = tokens[4:4 + inputs + outputs]
        if inputs < 0 or outputs < 0 or len(blobs) != inputs + outputs:
            raise ConvertedModelError(f"{path}:{number}: layer {name!r} declares {inputs} "
                                      f"input(s) and {outputs} output(s) but names "
                                      f"{len(blobs)} blob(s)")
        index += 1
        if kind != "LRN":
            continue
        params = dict(NCNN_LRN_DEFAULTS)
        given = set()
        for item in tokens[4 + inputs + outputs:]:
            key, sep, value = item.partition("=")
            try:
                key = int(key)
            except ValueError:
                key = None
            if not sep or key is None:
                raise ConvertedModelError(f"{path}:{number}: layer {name!r}: parameter "
                                          f"{item!r} is not key=value")
            params[key] = _ncnn_value(path, number, value)
            given.add(key)
        if inputs != 1 or outputs != 1:
            raise ConvertedModelError(f"{path}:{number}: LRN layer {name!r} must have one "
                                      f"input and one output, has {inputs} and {outputs}")
        region = params[0]
        if region not in (0, 1):
            raise ConvertedModelError(f"{path}:{number}: LRN layer {name!r}: region type "
                                      f"0={region} is neither 0 (across) nor 1 (within)")
        stored = {"0 (region)": region, "1 (local_size)": params[1], "2 (alpha)": params[2],
                  "3 (beta)": params[3], "4 (bias)": params[4]}
        within = region == 1
        op = ConvertedLRN(
            name=name, fmt="ncnn", op="LRN", region=WITHIN if within else ACROSS,
            size=int(params[1]), alpha=float(np.float32(params[2])),
            convention=CAFFE_CONVENTION, beta=float(np.float32(params[3])),
            bias=float(np.float32(params[4])), perm=NCHW, axes=(2, 3) if within else (1,),
            index=index, input=blobs[0], output=blobs[1], names=(name, blobs[1]),
            stored=stored, handle={"line": number})
        if 4 not in given:
            op.notes.append("no 4= (bias): ncnn reads 1; ncnn releases before 2020 always "
                            "add 1 whatever the Caffe k")
        ops.append(op)
    return ConvertedModel(fmt="ncnn", path=str(path), ops=ops, source=text)


# --- OpenVINO IR ------------------------------------------------------------------------

_BIN_TYPES = {"i64": np.int64, "i32": np.int32, "u64": np.uint64, "u32": np.uint32}


def _parse_xml(path):
    text = _text(path)
    # Entities are refused outright: a model never needs them, and they are how XML input
    # is made to expand without bound.
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ConvertedModelError(f"{path}: XML with a DOCTYPE or ENTITY declaration is "
                                  "not an OpenVINO IR; refused")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise ConvertedModelError(f"{path}: not well-formed XML ({exc})") from None
    if root.tag != "net":
        raise ConvertedModelError(f"{path}: not an OpenVINO IR (the root element is "
                                  f"<{root.tag}>, not <net>)")
    return root


def _dims(port):
    dims = []
    for dim in port.findall("dim"):
        try:
            dims.append(int(dim.text))
        except (TypeError, ValueError):
            return None
    return tuple(dims) if dims else None


def _float_attr(path, layer, data, key, default=None):
    value = data.get(key)
    if value is None:
        if default is None:
            raise ConvertedModelError(f"{path}: {layer.get('type')} layer "
                                      f"{layer.get('name')!r} has no {key} attribute")
        return default
    try:
        return float(value)
    except ValueError:
        raise ConvertedModelError(f"{path}: {layer.get('type')} layer {layer.get('name')!r}: "
                                  f"{key}={value!r} is not a number") from None


def _read_const(path, layer):
    data = layer.find("data")
    if data is None:
        raise ConvertedModelError(f"{path}: Const layer {layer.get('name')!r} has no <data>")
    kind = data.get("element_type", "")
    if kind not in _BIN_TYPES:
        raise ConvertedModelError(f"{path}: Const layer {layer.get('name')!r} has element "
                                  f"type {kind!r}; LRN axes are i64 or i32")
    try:
        offset, size = int(data.get("offset")), int(data.get("size"))
    except (TypeError, ValueError):
        raise ConvertedModelError(f"{path}: Const layer {layer.get('name')!r} needs integer "
                                  "offset and size") from None
    weights = pathlib.Path(path).with_suffix(".bin")
    if not weights.is_file():
        raise ConvertedModelError(f"{path}: the LRN axes are stored in {weights}, which does "
                                  "not exist (keep the .bin beside the .xml)")
    with open(weights, "rb") as handle:
        handle.seek(offset)
        raw = handle.read(size)
    item = np.dtype(_BIN_TYPES[kind]).itemsize
    if offset < 0 or size < 0 or len(raw) != size or size % item:
        raise ConvertedModelError(f"{weights}: Const {layer.get('name')!r} wants {size} bytes "
                                  f"at offset {offset}; the file has {len(raw)} there")
    return tuple(int(v) for v in np.frombuffer(raw, dtype=_BIN_TYPES[kind]))


def read_openvino(path):
    root = _parse_xml(path)
    layers = root.find("layers")
    if layers is None:
        raise ConvertedModelError(f"{path}: OpenVINO IR without <layers>")
    by_id = {layer.get("id"): layer for layer in layers.findall("layer")}
    feeds = {}
    edges = root.find("edges")
    for edge in (edges.findall("edge") if edges is not None else []):
        feeds[(edge.get("to-layer"), edge.get("to-port"))] = (edge.get("from-layer"),
                                                              edge.get("from-port"))
    ops = []
    for index, layer in enumerate(layers.findall("layer")):
        kind = layer.get("type")
        if kind not in ("LRN", "Norm"):
            continue
        name = layer.get("name", f"#{layer.get('id')}")
        data = layer.find("data")
        data = data if data is not None else ElementTree.Element("data")
        in_ports = sorted(layer.find("input").findall("port") if layer.find("input")
                          is not None else [], key=lambda p: int(p.get("id", "0")))
        out_ports = layer.find("output").findall("port") if layer.find("output") \
            is not None else []
        shape = _dims(in_ports[0]) if in_ports else None
        source = feeds.get((layer.get("id"), in_ports[0].get("id"))) if in_ports else None
        source_name = ""
        if source is not None and source[0] in by_id:
            source_name = by_id[source[0]].get("name", "")
        output = out_ports[0].get("names", name).split(",")[0] if out_ports else name
        if kind == "LRN":
            if len(in_ports) < 2:
                raise ConvertedModelError(f"{path}: LRN layer {name!r} has no axes input")
            axes_from = feeds.get((layer.get("id"), in_ports[1].get("id")))
            if axes_from is None or axes_from[0] not in by_id or \
                    by_id[axes_from[0]].get("type") != "Const":
                raise ConvertedModelError(f"{path}: LRN layer {name!r}: its axes input is "
                                          "not fed by a Const layer")
            rank = len(shape) if shape else 4
            axes = tuple(sorted(a % rank for a in _read_const(path, by_id[axes_from[0]])))
            size = int(_float_attr(path, layer, data, "size"))
            stored = {"size": size, "alpha": _float_attr(path, layer, data, "alpha"),
                      "beta": _float_attr(path, layer, data, "beta"),
                      "bias": _float_attr(path, layer, data, "bias"), "axes": list(axes)}
            bias = stored["bias"]
        else:
            region_text = data.get("region", "across").lower()
            axes = (1,) if region_text == "across" else (2, 3)
            size = int(_float_attr(path, layer, data, "local-size"))
            stored = {"local-size": size, "region": region_text,
                      "alpha": _float_attr(path, layer, data, "alpha"),
                      "beta": _float_attr(path, layer, data, "beta"),
                      "k": _float_attr(path, layer, data, "k", 1.0)}
            bias = stored["k"]
        region = WITHIN if len(axes) == 2 else ACROSS
        op = ConvertedLRN(
            name=name, fmt="openvino", op=kind, region=region, size=size,
            alpha=float(np.float32(stored["alpha"])), convention=CAFFE_CONVENTION,
            beta=float(np.float32(stored["beta"])), bias=float(np.float32(bias)), perm=NCHW,
            axes=axes, index=index,
            input=source_name, output=output, input_shape=shape, names=(name, output),
            stored=stored, handle={"id": layer.get("id")})
        ops.append(op)
    return ConvertedModel(fmt="openvino", path=str(path), ops=ops)
