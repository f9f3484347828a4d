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


# --- models built with the real frameworks (tests marked ``frameworks``) ----------------

def onnx_pair(layers, opset=17):
    """An ONNX model of the two layers: ``LRN`` nodes across channels, the AveragePool
    composite within a channel; an ``axes`` other than channels transposes around the LRN."""
    from onnx import TensorProto, helper

    nodes, inits = [], []
    bottom = "data"
    for name, v in layers.items():
        if v["within"]:
            n, p = v["size"], (v["size"] - 1) // 2
            inits += [helper.make_tensor(f"{name}_alpha", TensorProto.FLOAT, [], [v["alpha"]]),
                      helper.make_tensor(f"{name}_shift", TensorProto.FLOAT, [], [v["bias"]]),
                      helper.make_tensor(f"{name}_neg_beta", TensorProto.FLOAT, [],
                                         [-v["beta"]])]
            nodes += [
                helper.make_node("Mul", [bottom, bottom], [f"{name}_sq"], name=f"{name}_sq"),
                helper.make_node("AveragePool", [f"{name}_sq"], [f"{name}_pool"],
                                 name=f"{name}_pool", kernel_shape=[n, n], strides=[1, 1],
                                 pads=[p] * 4, count_include_pad=1),
                helper.make_node("Mul", [f"{name}_pool", f"{name}_alpha"], [f"{name}_sc"]),
                helper.make_node("Add", [f"{name}_sc", f"{name}_shift"], [f"{name}_sh"]),
                helper.make_node("Pow", [f"{name}_sh", f"{name}_neg_beta"], [f"{name}_pw"]),
                helper.make_node("Mul", [bottom, f"{name}_pw"], [name], name=name)]
        else:
            source, target = bottom, name
            if v["axes"] != (1,):
                perm = [0, v["axes"][0], 2, 1] if v["axes"][0] == 3 else None
                nodes.append(helper.make_node("Transpose", [bottom], [f"{name}_in"],
                                              perm=perm))
                source, target = f"{name}_in", f"{name}_out"
            nodes.append(helper.make_node("LRN", [source], [target], name=name,
                                          size=v["size"], alpha=v["alpha"], beta=v["beta"],
                                          bias=v["bias"]))
            if v["axes"] != (1,):
                nodes.append(helper.make_node("Transpose", [target], [name], perm=perm))
        bottom = name
    graph = helper.make_graph(
        nodes, "audit_pair", [helper.make_tensor_value_info("data", TensorProto.FLOAT, SHAPE)],
        [helper.make_tensor_value_info(bottom, TensorProto.FLOAT, SHAPE)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


# TF holds alpha / local_size; the plants are the mistakes TF ports make.
TF_CORRECT = dict(depth_radius=2, bias=2.0, alpha=float(np.float32(1e-4) / np.float32(5)),
                  beta=0.75, nchw=False)
TF_MISTAKES = {
    "size-mismatch": dict(depth_radius=5),  # the window width used as the radius
    "alpha-mismatch": dict(alpha=1e-4),  # not divided by local_size
    "alpha-rounding": dict(alpha=float(np.nextafter(np.float32(2e-5), np.float32(1)))),
    "beta-mismatch": dict(beta=0.5),
    "bias-not-k": dict(bias=1.0),
    "wrong-axis": dict(nchw=True),  # an NCHW tensor fed straight to TF's NHWC op
}


def tf_function(rule=None):
    import tensorflow as tf

    v = dict(TF_CORRECT)
    v.update(TF_MISTAKES.get(rule, {}))
    shape = SHAPE if v["nchw"] else (SHAPE[0], SHAPE[2], SHAPE[3], SHAPE[1])

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def norm(x):
        return tf.nn.local_response_normalization(
            x, depth_radius=v["depth_radius"], bias=v["bias"], alpha=v["alpha"],
            beta=v["beta"], name="norm_a")

    return norm


def save_tf(path, rule=None):
    import tensorflow as tf

    module = tf.Module()
    module.norm = tf_function(rule)
    tf.saved_model.save(module, str(path))
    return path


def save_tflite(path, rule=None):
    import tensorflow as tf

    norm = tf_function(rule)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [norm.get_concrete_function()], norm)
    path.write_bytes(converter.convert())
    return path


def save_graphdef(path, rule=None):
    """A frozen GraphDef ``.pb`` (constants folded in, as TF 1 exporters wrote)."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    frozen = convert_variables_to_constants_v2(tf_function(rule).get_concrete_function())
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    return path
