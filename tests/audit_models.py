"""Converted models of tests/data/converted/audit_pair.prototxt, correct or with one mistake.

The net: ``data`` (2, 12, 7, 9) -> ``norm_a`` (ACROSS_CHANNELS, local_size 5, alpha 1e-4,
beta 0.75, k 2) -> ``norm_w`` (WITHIN_CHANNEL, local_size 3, alpha 5e-5, beta 0.75, k 2,
which Caffe ignores). ``CORRECT`` holds each layer's right values in a format-neutral form;
``MISTAKES`` maps each rule id to the change that plants it (layer, field, value).

ncnn ``.param`` and OpenVINO IR ``.xml`` files are written here by hand, to the published
formats (ncnn: magic 7767517, counts, one layer per line with ``key=value`` parameters;
OpenVINO IR v11: Parameter / Const / LRN / Result layers, edges, axes in the ``.bin``).
"""
import numpy as np

from conftest import DATA

NET = DATA / "converted" / "audit_pair.prototxt"
SHAPE = (2, 12, 7, 9)

CORRECT = {
    "norm_a": dict(within=False, size=5, alpha=1e-4, beta=0.75, bias=2.0, axes=(1,)),
    "norm_w": dict(within=True, size=3, alpha=5e-5, beta=0.75, bias=1.0, axes=(2, 3)),
}
ALPHA_NEXT = float(np.nextafter(np.float32(1e-4), np.float32(1)))

# rule -> (layer, changes): changes are applied to CORRECT[layer].
MISTAKES = {
    "size-mismatch": ("norm_a", dict(size=3)),
    "even-size": ("norm_a", dict(size=4)),
    "alpha-mismatch": ("norm_a", dict(alpha=1e-4 / 5)),
    "alpha-rounding": ("norm_a", dict(alpha=ALPHA_NEXT)),
    "beta-mismatch": ("norm_a", dict(beta=0.5)),
    "bias-not-k": ("norm_a", dict(bias=1.0)),
    "within-as-across": ("norm_w", dict(within=False, axes=(1,))),
    "k-on-within": ("norm_w", dict(bias=2.0)),
    "across-as-within": ("norm_a", dict(within=True, axes=(2, 3))),
    "wrong-axis": ("norm_a", dict(axes=(3,))),
}


def layers_with(rule=None):
    layers = {name: dict(values) for name, values in CORRECT.items()}
    if rule is not None:
        name, change = MISTAKES[rule]
        layers[name].update(change)
    return layers


def write_ncnn(path, layers):
    lines = ["7767517", f"{1 + len(layers)} {1 + len(layers)}",
             f"Input            data     0 1 data 0={SHAPE[3]} 1={SHAPE[2]} 2={SHAPE[1]}"]
    bottom = "data"
    for name, v in layers.items():
        lines.append(f"LRN              {name:8} 1 1 {bottom} {name} 0={int(v['within'])} "
                     f"1={v['size']} 2={v['alpha']:.9e} 3={v['beta']:.6f} 4={v['bias']:.6f}")
        bottom = name
    path.write_text("\n".join(lines) + "\n")
    return path


def _dims(shape):
    return "".join(f"<dim>{d}</dim>" for d in shape)


def write_openvino(path, layers):
    """IR v11: Parameter, then per layer a Const (axes, int64 in the .bin) and an LRN."""
    blob = bytearray()
    xml_layers = [
        f'<layer id="0" name="data" type="Parameter" version="opset1">'
        f'<data shape="{",".join(map(str, SHAPE))}" element_type="f32"/>'
        f'<output><port id="0" precision="FP32" names="data">{_dims(SHAPE)}</port></output>'
        f'</layer>']
    edges = []
    source, number = ("0", "0"), 1
    for name, v in layers.items():
        axes = np.asarray(v["axes"], dtype=np.int64)
        const_id, lrn_id = str(number), str(number + 1)
        xml_layers.append(
            f'<layer id="{const_id}" name="{name}/axes" type="Const" version="opset1">'
            f'<data element_type="i64" shape="{axes.size}" offset="{len(blob)}" '
            f'size="{axes.nbytes}"/><output><port id="0" precision="I64">'
            f'<dim>{axes.size}</dim></port></output></layer>')
        blob += axes.tobytes()
        xml_layers.append(
            f'<layer id="{lrn_id}" name="{name}" type="LRN" version="opset1">'
            f'<data alpha="{v["alpha"]!r}" beta="{v["beta"]!r}" bias="{v["bias"]!r}" '
            f'size="{v["size"]}"/><input><port id="0" precision="FP32">{_dims(SHAPE)}</port>'
            f'<port id="1" precision="I64"><dim>{axes.size}</dim></port></input>'
            f'<output><port id="2" precision="FP32" names="{name}">{_dims(SHAPE)}</port>'
            f'</output></layer>')
        edges.append(f'<edge from-layer="{source[0]}" from-port="{source[1]}" '
                     f'to-layer="{lrn_id}" to-port="0"/>')
        edges.append(f'<edge from-layer="{const_id}" from-port="0" to-layer="{lrn_id}" '
                     f'to-port="1"/>')
        source, number = (lrn_id, "2"), number + 2
    xml_layers.append(f'<layer id="{number}" name="result" type="Result" version="opset1">'
                      f'<input><port id="0">{_dims(SHAPE)}</port></input></layer>')
    edges.append(f'<edge from-layer="{source[0]}" from-port="{source[1]}" '
                 f'to-layer="{number}" to-port="0"/>')
    path.write_text('<?xml version="1.0"?>\n<net name="audit_pair" version="11">\n<layers>\n' +
                    "\n".join(xml_layers) + "\n</layers>\n<edges>\n" + "\n".join(edges) +
                    "\n</edges>\n</net>\n")
    path.with_suffix(".bin").write_bytes(bytes(blob))
    return path
