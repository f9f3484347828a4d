"""``audit_model``: a Caffe net's LRN layers against a converted model, rules and numbers."""
import pathlib

import numpy as np

from caffe_lrn.audit.formats import read_converted
from caffe_lrn.audit.matching import match, refine_perm
from caffe_lrn.audit.numbers import (
    DEFAULT_SHAPE, ROUNDING_BOUND_ULP, generated_bottom, measure,
)
from caffe_lrn.audit.ops import ConvertedModel
from caffe_lrn.audit.report import AuditReport, LayerAudit
from caffe_lrn.audit.rules import Finding, check_rules
from caffe_lrn.errors import ConvertedModelError
from caffe_lrn.io.reference import BlobStore, open_blobs
from caffe_lrn.nets.loader import load_net
from caffe_lrn.nets.lrn_layers import lrn_layers
from caffe_lrn.progress import NoProgress
from caffe_lrn.verify.check import find_overwrites, select_layers


def input_shapes(net):
    """Shapes the net declares for its inputs: Input layers, ``input_shape``, ``input_dim``."""
    shapes = {}
    for layer in net.layer:
        if layer.type == "Input":
            for top, shape in zip(layer.top, layer.input_param.shape):
                shapes[top] = tuple(int(d) for d in shape.dim)
    for number, name in enumerate(net.input):
        if number < len(net.input_shape):
            shapes[name] = tuple(int(d) for d in net.input_shape[number].dim)
        elif len(net.input_dim) >= 4 * (number + 1):
            shapes[name] = tuple(int(d) for d in net.input_dim[4 * number:4 * number + 4])
    return shapes


def _bottom_source(net, info, blobs, declared):
    """``(array or None, shape or None, note)`` for the layer's bottom."""
    if blobs is not None and info.bottom in blobs:
        problems = find_overwrites(net, info)
        array = np.asarray(blobs.get(info.bottom))
        if problems:
            return None, array.shape, problems[0]
        if array.ndim == 4 and array.dtype.kind == "f":
            return array.astype(np.float32), array.shape, None
        return None, None, f"blob {info.bottom!r} of shape {array.shape} is not a 4-axis blob"
    shape = declared.get(info.bottom)
    note = None if blobs is None else f"the reference has no blob {info.bottom!r}"
    return None, shape if shape and len(shape) == 4 else None, note


def _generated_shape(op, shape):
    if shape is not None:
        return tuple(shape)
    if op.caffe_shape is not None and all(d > 0 for d in op.caffe_shape):
        return op.caffe_shape
    return DEFAULT_SHAPE


def audit_model(net, converted, blobs=None, layers=None, numbers=True, progress=None):
    """Audit the LRN layers of ``converted`` against the Caffe ``net``.

    ``net``: a path or a loaded NetParameter; ``converted``: a path (format told by content)
    or a :class:`~caffe_lrn.audit.ops.ConvertedModel`; ``blobs``: a reference dump (path or
    :class:`~caffe_lrn.io.reference.BlobStore`) whose bottom blobs feed the numbers, else
    generated inputs; ``layers``: Caffe LRN layer names to audit (default: all, and the
    converted operations matching no layer are reported too); ``numbers``: run the converted
    operations (False: rules only). Returns an :class:`~caffe_lrn.audit.report.AuditReport`.
    """
    net_path = None
    if isinstance(net, (str, pathlib.Path)):
        net_path = str(net)
        net = load_net(net)
    if not isinstance(converted, ConvertedModel):
        converted = read_converted(converted)
    blob_path = None
    if blobs is not None and not isinstance(blobs, BlobStore):
        blob_path = str(blobs)
        blobs = open_blobs(blobs)
    infos = lrn_layers(net)
    chosen = {info.name for info in select_layers(net, infos, layers)}
    declared = input_shapes(net)
    sources = {info.name: _bottom_source(net, info, blobs, declared) for info in infos}
    shapes = {name: source[1] for name, source in sources.items()}
    pairs = match(infos, converted.ops, shapes)
    report = AuditReport(net=net_path or net.name, converted=converted.path,
                         fmt=converted.fmt, blobs=blob_path, notes=list(converted.notes))
    progress = progress or NoProgress()
    with progress:
        for pair in pairs:
            if pair.layer is not None and pair.layer.name not in chosen:
                continue
            if pair.layer is None and layers:
                continue
            entry = LayerAudit(layer=pair.layer, op=pair.op, how=pair.how)
            if pair.layer is not None and pair.op is not None:
                bottom, shape, note = sources[pair.layer.name]
                refine_perm(pair.op, shape)
                entry.findings = check_rules(pair.layer.params, pair.op, shape)
                if note:
                    entry.notes.append(f"reference bottom not used: {note}")
                if numbers:
                    progress.set_label(f"audit {pair.layer.name}")
                    if bottom is not None:
                        text = f"reference blob {pair.layer.bottom!r} from {blob_path or 'REF'}"
                    else:
                        bottom, text = generated_bottom(pair.layer.params,
                                                        _generated_shape(pair.op, shape))
                    try:
                        entry.numbers = measure(converted, pair.op, pair.layer.params, bottom,
                                                text)
                    except ConvertedModelError as exc:  # this op only: the others still run
                        entry.notes.append(f"numbers not measured: {exc}")
                    if entry.numbers is not None and not entry.numbers.within_rounding \
                            and not entry.semantic_findings:
                        c = entry.numbers.comparison
                        entry.findings.append(Finding(
                            "numbers-beyond-rounding",
                            f"max {c.max_ulp:.0f} ULP from Caffe's top, over the "
                            f"{ROUNDING_BOUND_ULP} ULP rounding bound, with "
                            "no parameter rule to explain it", None, c.max_ulp))
            progress.advance()
            report.entries.append(entry)
    return report
