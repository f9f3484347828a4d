"""Repairing a converted model's LRN operations so they compute the Caffe layers.

ncnn ``.param`` (:func:`repair_ncnn`): its LRN layer has both regions and a bias, so each
wrong LRN line is rewritten (``0=`` region, ``1=`` local_size, ``2=`` alpha, ``3=`` beta,
``4=`` bias: k across channels, 1 within); every other line stays byte for byte.

ONNX (:func:`repair_onnx`):

For each Caffe layer whose operation breaks a semantic or rounding rule:

- ACROSS_CHANNELS with an ``LRN`` node: the node's ``size``, ``alpha``, ``beta`` and ``bias``
  attributes are rewritten in place (name, inputs, outputs and other attributes kept);
- WITHIN_CHANNEL (an across-channel ``LRN`` standing for it, or a composite with wrong
  values): the operation's nodes are replaced by the WITHIN composite: ``Mul(x, x)``,
  ``AveragePool`` (kernel local_size, stride 1, pads (local_size - 1) / 2,
  ``count_include_pad=1``), ``Mul`` by alpha, ``Add`` 1, ``Pow(-beta)``, ``Mul`` by x;
- ``form="caffe-order"``: every ACROSS_CHANNELS operation is replaced by the running-window
  form (a ``Scan`` over channels in Caffe's order, within 2 ULP of Caffe), even a correct one.

The new parts are built by :func:`caffe_lrn.frameworks.onnx.layer_model` and grafted in:
their input and output keep the replaced operation's tensor names, their other tensors and
nodes are named ``<op name>/...``. Every other node, initializer, input, output and name is
left as it was (compared as serialized bytes by the tests). The default opset is raised only
when the new nodes need it (7 for the composite, 13 for the running window), and the result
says so. A wrong layout (``wrong-axis``) is not an LRN parameter: it is reported, not fixed.
"""
import os
import pathlib
from dataclasses import dataclass, field

from caffe_lrn.audit.audit import audit_model
from caffe_lrn.audit.ops import ConvertedModel
from caffe_lrn.audit.read_onnx import default_opset, find_lrn_ops, load_onnx
from caffe_lrn.audit.rules import short
from caffe_lrn.frameworks.deps import import_onnx
from caffe_lrn.frameworks.forms import CAFFE_ORDER, FORMS, NATIVE
from caffe_lrn.frameworks.onnx import layer_model
from caffe_lrn.errors import ConvertedModelError, OutputExistsError
from caffe_lrn.io.files import check_output_path, write_bytes

# A layout is the graph's, not the LRN's: replacing the operation would not fix it.
UNFIXABLE = {"wrong-axis"}
OPSET_NEEDED = {"LRN": 1, "within-composite": 7, "caffe-order": 13}


@dataclass
class RepairResult:
    """What a repair did: ``model`` (the repaired ``onnx.ModelProto``), ``changes`` (one line
    per operation rewritten), ``left`` (operations with problems a repair cannot fix),
    ``opset_before``/``opset_after``, ``output`` (path written, or None)."""

    model: object
    changes: list = field(default_factory=list)
    left: list = field(default_factory=list)
    opset_before: int = None
    opset_after: int = None
    output: str = None

    def as_dict(self):
        return {"changes": list(self.changes), "left": list(self.left),
                "opset_before": self.opset_before, "opset_after": self.opset_after,
                "output": self.output}


def _same_file(a, b):
    a, b = pathlib.Path(a), pathlib.Path(b)
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _set_attribute(node, name, value):
    from onnx import helper

    new = helper.make_attribute(name, value)
    for attribute in node.attribute:
        if attribute.name == name:
            attribute.CopyFrom(new)
            return
    node.attribute.append(new)


def _names_in(model):
    names = set()
    graph = model.graph
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        names.add(node.name)
    names.update(t.name for t in graph.initializer)
    names.update(v.name for v in list(graph.input) + list(graph.output) +
                 list(graph.value_info))
    return names


class _Namer:
    def __init__(self, taken):
        self.taken = set(taken)

    def __call__(self, wanted):
        name, number = wanted, 1
        while name in self.taken:
            number += 1
            name = f"{wanted}_{number}"
        self.taken.add(name)
        return name


def _graft(part, op, namer):
    """``part``'s nodes and initializers renamed into the host graph: ``bottom`` becomes the
    operation's input, ``top`` its output, everything else ``<op name>/<name>``."""
    prefix = op.name or op.output
    rename = {"bottom": op.input, "top": op.output, "": ""}

    def tensor(name):
        if name not in rename:
            rename[name] = namer(f"{prefix}/{name}")
        return rename[name]

    nodes = []
    for number, source in enumerate(part.graph.node):
        node = type(source)()
        node.CopyFrom(source)
        node.ClearField("input")
        node.ClearField("output")
        node.input.extend(tensor(name) for name in source.input)
        node.output.extend(tensor(name) for name in source.output)
        node.name = namer(f"{prefix}/{source.op_type.lower()}_{number}")
        nodes.append(node)
    initializers = []
    for source in part.graph.initializer:
        tensor_proto = type(source)()
        tensor_proto.CopyFrom(source)
        tensor_proto.name = tensor(source.name)
        initializers.append(tensor_proto)
    return nodes, initializers


def _new_form(params, form):
    """The replacement model for Caffe layer ``params`` and its form name: WITHIN_CHANNEL
    always the AveragePool composite; ACROSS_CHANNELS an LRN node, or the running window."""
    if params.within:
        return layer_model(params, form=NATIVE), "within-composite"
    if form == CAFFE_ORDER:
        return layer_model(params, form=CAFFE_ORDER), "caffe-order"
    return layer_model(params, form=NATIVE), "LRN"


def _escapes(model, op, removed):
    """Tensors made inside the operation's nodes that other nodes (or outputs) still use."""
    inside = set()
    for index in removed:
        inside.update(model.graph.node[index].output)
    inside.discard(op.output)
    used = set(v.name for v in model.graph.output)
    for index, node in enumerate(model.graph.node):
        if index not in removed:
            used.update(node.input)
    return sorted(inside & used)


def _describe(params):
    text = (f"local_size {params.local_size}, alpha {short(params.alpha)}, "
            f"beta {short(params.beta)}")
    return text + (", WITHIN_CHANNEL (shift 1)" if params.within else f", k {short(params.k)}")


def _repairable(report, result):
    """``(layer, op, rules)`` for each matched pair a repair may touch (``rules``: the ids
    that fired, possibly none); what it cannot touch goes to ``result.left``."""
    for entry in report.entries:
        layer, op = entry.layer, entry.op
        if layer is None or op is None:
            if layer is not None:
                result.left.append(f"{layer.name}: no LRN operation found to repair")
            continue
        rules = {f.rule for f in entry.findings}
        if op.handle.get("bad_pads"):
            rules.add("pads")  # a composite's window off centre: found without numbers too
        blocked = rules & UNFIXABLE
        if blocked:
            result.left.append(f"{layer.name}: {', '.join(sorted(blocked))} is not an LRN "
                               "parameter; not repaired")
            continue
        yield layer, op, rules


def repair_onnx(model, report, form=NATIVE):
    """A repaired copy of ``model`` for the audit ``report`` of it: a :class:`RepairResult`."""
    onnx, _ = import_onnx()
    if form not in FORMS:
        raise ConvertedModelError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    result = RepairResult(model=fixed, opset_before=default_opset(model))
    namer = _Namer(_names_in(model))
    replace_at, removed, needed = {}, set(), result.opset_before or 1
    for layer, op, rules in _repairable(report, result):
        to_caffe_order = form == CAFFE_ORDER and not layer.params.within and \
            op.op != "caffe-order"
        if not rules and not to_caffe_order:
            continue
        params = layer.params
        if not params.within and op.op == "LRN" and form == NATIVE:
            node = fixed.graph.node[op.handle["lrn_node"]]
            for name, value in (("size", params.local_size), ("alpha", params.alpha),
                                ("beta", params.beta), ("bias", params.k)):
                _set_attribute(node, name, value)
            result.changes.append(f"{layer.name}: LRN attributes set to size "
                                  f"{params.local_size}, alpha {short(params.alpha)}, beta "
                                  f"{short(params.beta)}, bias {short(params.k)} (fixes "
                                  f"{', '.join(sorted(rules))})")
            continue
        nodes = set(op.handle["nodes"])
        escaping = _escapes(model, op, nodes)
        if escaping:
            result.left.append(f"{layer.name}: tensors {escaping} of its {op.op} are used "
                               "elsewhere; not replaced")
            continue
        part, kind = _new_form(params, form)
        new_nodes, new_inits = _graft(part, op, namer)
        replace_at[min(nodes)] = new_nodes
        removed |= nodes
        fixed.graph.initializer.extend(new_inits)
        needed = max(needed, OPSET_NEEDED[kind])
        why = ", ".join(sorted(rules)) if rules else "--form caffe-order"
        result.changes.append(f"{layer.name}: {op.op} replaced by the {kind} form "
                              f"({len(new_nodes)} nodes; {_describe(params)}; fixes {why})")
    if removed:
        kept = []
        for index, node in enumerate(fixed.graph.node):
            if index in replace_at:
                kept.extend(replace_at[index])
            if index not in removed:
                kept.append(node)
        del fixed.graph.node[:]
        fixed.graph.node.extend(kept)
        _drop_orphans(fixed, model, removed)
    if result.opset_before is None or needed > result.opset_before:
        _set_opset(fixed, needed)
        result.changes.append(f"opset raised from {result.opset_before} to {needed}: the new "
                              "nodes need it (the other nodes are read under the new opset)")
    result.opset_after = default_opset(fixed)
    try:
        onnx.checker.check_model(fixed)
    except onnx.checker.ValidationError as exc:
        raise ConvertedModelError(f"the repaired model fails onnx.checker: "
                                  f"{str(exc).splitlines()[0]}") from None
    return result


def repair_ncnn(text, report):
    """A repaired copy of the ncnn ``.param`` ``text``: a :class:`RepairResult` whose
    ``model`` is the new text."""
    lines = text.splitlines(keepends=True)
    result = RepairResult(model=None)
    for layer, op, rules in _repairable(report, result):
        if not rules:
            continue
        params = layer.params
        number = op.handle["line"] - 1
        line = lines[number]
        ending = line[len(line.rstrip("\r\n")):]
        tokens = line.split()
        head = tokens[:4 + int(tokens[2]) + int(tokens[3])]
        values = (f"0={int(params.within)} 1={params.local_size} 2={short(params.alpha)} "
                  f"3={short(params.beta)} 4={short(1.0 if params.within else params.k)}")
        lines[number] = " ".join(head) + " " + values + ending
        result.changes.append(f"{layer.name}: LRN line set to {values} (fixes "
                              f"{', '.join(sorted(rules))})")
    result.model = "".join(lines)
    return result


def _drop_orphans(fixed, original, removed):
    """Initializers only the removed nodes used (a replaced composite's constants)."""
    before = set()
    for index in removed:
        before.update(original.graph.node[index].input)
    used = set(v.name for v in fixed.graph.output)
    for node in fixed.graph.node:
        used.update(node.input)
    kept = [t for t in fixed.graph.initializer if t.name in used or t.name not in before]
    if len(kept) != len(fixed.graph.initializer):
        del fixed.graph.initializer[:]
        fixed.graph.initializer.extend(kept)


def _set_opset(model, version):
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = version
            return
    entry = model.opset_import.add()
    entry.domain = ""
    entry.version = version


def check_repair_output(output, converted, force=False):
    """Refuse, before any work, to write over the model being repaired or (without
    ``force``) over an existing file."""
    if _same_file(output, converted):
        raise OutputExistsError(f"{output} is the model being repaired; write the "
                                "repaired model to another file")
    check_output_path(output, force)


def repair_model(net, converted, output=None, form=NATIVE, force=False, blobs=None):
    """Repair the LRN operations of the ONNX model ``converted`` (a path) against ``net``.

    Writes the repaired model to ``output`` when given (never over an existing file unless
    ``force``; never over ``converted`` itself). Returns a :class:`RepairResult`.
    """
    if output is not None:
        check_repair_output(output, converted, force)
    model = load_onnx(converted)
    ops, _ = find_lrn_ops(model)
    report = audit_model(net, ConvertedModel("onnx", str(converted), ops, source=model),
                         blobs=blobs, numbers=False)
    result = repair_onnx(model, report, form=form)
    if output is not None:
        write_bytes(output, result.model.SerializeToString(), force=force)
        result.output = str(output)
    return result
