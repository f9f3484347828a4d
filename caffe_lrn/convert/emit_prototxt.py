"""Write LRN layers as Caffe prototxt text (current ``layer { ... }`` form)."""
from caffe_lrn.convert.naming import comment_text, prototxt_string
from caffe_lrn.numerics.shortest import float32_text
from caffe_lrn.params import LRNParams


def layer_text(name, bottom, top, params, notes=()):
    """One ``layer { type: "LRN" ... }`` block; every lrn_param field set explicitly."""
    if not isinstance(params, LRNParams):
        params = LRNParams(**params)
    lines = [f"# {comment_text(note)}" for note in notes]
    lines += ["layer {", f"  name: {prototxt_string(name)}", '  type: "LRN"',
              f"  bottom: {prototxt_string(bottom)}", f"  top: {prototxt_string(top)}",
              "  lrn_param {",
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
    blocks = [f"# {comment_text(line)}\n" for line in (header or [])]
    blocks += [layer_text(layer.name, layer.bottom, layer.top, layer.params,
                          getattr(layer, "notes", ())) for layer in layers]
    return "".join(blocks)
