"""The JSON conversion document: a net's LRN layers in another convention, and back.

One document per conversion::

    {"format": "caffe-lrn-convert", "version": 1, "source": "...", "to": "tf",
     "layers": [{"name", "bottom", "top",
                 "caffe": {local_size, alpha, beta, norm_region, k, engine},
                 "target": {"framework", "op", "params"[, "steps"]},
                 "layout": {"from", "to", "perm"},
                 "exact": true, "notes": [...]}]}

Converting a document back to Caffe reads only each layer's ``target``; the ``caffe`` block,
when present, is what the result is checked against, and any difference is reported.
"""
from dataclasses import dataclass, field

from caffe_lrn.convert.records import (
    FRAMEWORKS, OnnxLRN, TFLRN, TorchLRN, WithinComposite, int_value,
)
from caffe_lrn.convert.tf_params import caffe_to_tf, composite_to_caffe, tf_to_caffe
from caffe_lrn.convert.size_scaled import (
    caffe_to_onnx, caffe_to_torch, onnx_to_caffe, torch_to_caffe,
)
from caffe_lrn.errors import CaffeLRNError, ConversionError, InputFileError, shorten
from caffe_lrn.params import LRNParams

FORMAT = "caffe-lrn-convert"
VERSION = 1
LAYOUTS = {"tf": ("NCHW", "NHWC"), "torch": ("NCHW", "NCHW"), "onnx": ("NCHW", "NCHW")}
_TO = {"tf": caffe_to_tf, "torch": caffe_to_torch, "onnx": caffe_to_onnx}
_BACK = {"tf": tf_to_caffe, "torch": torch_to_caffe, "onnx": onnx_to_caffe}
# The op each framework's entry may name: its LRN op, or the WITHIN_CHANNEL composite.
_OPS = {"tf": (TFLRN.op, WithinComposite.op), "torch": (TorchLRN.op, WithinComposite.op),
        "onnx": (OnnxLRN.op, WithinComposite.op)}


@dataclass
class LayerRecord:
    """An LRN layer as the emitters need it: names, blobs, parameters, notes."""

    name: str
    bottom: str
    top: str
    params: LRNParams
    exact: bool = True
    notes: list = field(default_factory=list)


def layer_entry(layer, to):
    """The document entry for one layer (``name``, ``bottom``, ``top``, ``params``)."""
    if to not in _TO:
        raise ConversionError(f"target must be one of {', '.join(FRAMEWORKS)}, got {to!r}")
    conversion = _TO[to](layer.params)
    target = conversion.target
    described = {"framework": to, "op": target.op, "params": target.as_dict()}
    if isinstance(target, WithinComposite):
        described["steps"] = target.steps
    source_layout, target_layout = LAYOUTS[to]
    return {
        "name": layer.name, "bottom": layer.bottom, "top": layer.top,
        "caffe": layer.params.as_dict(),
        "target": described,
        "layout": {"from": source_layout, "to": target_layout, "perm": list(conversion.perm)},
        "exact": conversion.exact, "notes": list(conversion.notes),
    }


def build_document(source, layers, to):
    """The conversion document for ``layers`` (records with name, bottom, top, params)."""
    return {"format": FORMAT, "version": VERSION, "source": str(source), "to": to,
            "layers": [layer_entry(layer, to) for layer in layers]}


def _field(mapping, key, where, kind=None):
    if not isinstance(mapping, dict) or key not in mapping:
        raise InputFileError(f"{where}: missing {key!r}")
    value = mapping[key]
    if kind is not None and not isinstance(value, kind):
        raise InputFileError(f"{where}: {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _back(target, where):
    framework = _field(target, "framework", where, str)
    params = _field(target, "params", where, dict)
    if framework not in _BACK:
        raise InputFileError(f"{where}: framework must be one of {', '.join(FRAMEWORKS)}, "
                             f"got {framework!r}")
    op = _field(target, "op", where, str)
    if op not in _OPS[framework]:
        raise ConversionError(f"{where}: op must be one of {', '.join(_OPS[framework])} for "
                              f"{framework}, got {shorten(repr(op), 60)}")
    if op == WithinComposite.op:
        composite = WithinComposite(
            local_size=int_value("local_size", _field(params, "local_size", where)),
            alpha=_field(params, "alpha", where), beta=_field(params, "beta", where),
            framework=framework)
        return composite_to_caffe(composite)
    try:
        return _BACK[framework](dict(params))
    except TypeError as exc:  # unknown or missing parameter names
        raise InputFileError(f"{where}: bad {framework} parameters {params}: {exc}") from None


def layers_from_document(document, source="the document"):
    """Caffe layers rebuilt from each entry's ``target``, with losses as notes.

    Returns ``LayerRecord``s whose ``exact`` is False when the conversion back loses
    something or the result differs from the entry's ``caffe`` block.
    """
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputFileError(f"{source}: not a caffe-lrn conversion document "
                             f"(expected \"format\": \"{FORMAT}\")")
    version = document.get("version")
    if isinstance(version, bool) or version != VERSION:
        shown = shorten(repr(version), 60)
        raise ConversionError(f"{source}: conversion document version {shown} is not one "
                              f"this caffe-lrn reads (it reads version {VERSION})")
    entries = _field(document, "layers", source, list)
    records = []
    for index, entry in enumerate(entries):
        where = f"{source}: layer {index}"
        name = _field(entry, "name", where, str)
        where = f"{source}: layer {name!r}"
        bottom = _field(entry, "bottom", where, str)
        top = _field(entry, "top", where, str)
        try:
            conversion = _back(_field(entry, "target", where, dict), where)
        except ConversionError as exc:
            raise ConversionError(f"{where}: {exc}") from None
        record = LayerRecord(name, bottom, top, conversion.target, conversion.exact,
                             list(conversion.notes))
        original = entry.get("caffe")
        if original is not None:
            try:
                original = LRNParams(**original)
            except (CaffeLRNError, TypeError) as exc:
                raise InputFileError(f"{where}: bad 'caffe' block: {exc}") from None
            differing = [f"{key} {getattr(original, key)!r} -> {getattr(record.params, key)!r}"
                         for key in original.as_dict()
                         if getattr(original, key) != getattr(record.params, key)]
            if differing:
                record.exact = False
                record.notes.append("differs from the source lrn_param: " + ", ".join(differing))
        records.append(record)
    return records
