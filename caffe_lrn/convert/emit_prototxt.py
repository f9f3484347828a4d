"""Write LRN layers as Caffe prototxt text (current ``layer { ... }`` form)."""
from caffe_lrn.numerics.shortest import float32_text
from caffe_lrn.params import LRNParams


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def layer_text(name, bottom, top, params, notes=()):
    """One ``layer { type: "LRN" ... }`` block; every lrn_param field set explicitly."""
    if not isinstance(params, LRNParams):
        params = LRNParams(**params)
    lines = [f"# {note}" for note in notes]
    lines += ["layer {", f"  name: {_quote(name)}", '  type: "LRN"',
              f"  bottom: {_quote(bottom)}", f"  top: {_quote(top)}", "  lrn_param {",
              f"    local_size: {params.local_size}",
              f"    alpha: {float32_text(params.alpha)}",
              f"    beta: {float32_text(params.beta)}",
              f"    norm_region: {params.norm_region}",
              f"    k: {float32_text(params.k)}"]
    if params.engine != "DEFAULT":
        lines.append(f"    engine: {params.engine}")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def emit_prototxt(layers, header=None):
    """Prototxt text for ``layers``: records with name, bottom, top, params (and notes)."""
    blocks = [f"# {line}\n" for line in (header or [])]
    blocks += [layer_text(layer.name, layer.bottom, layer.top, layer.params,
                          getattr(layer, "notes", ())) for layer in layers]
    return "".join(blocks)
