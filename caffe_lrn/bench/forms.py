"""``caffe-lrn bench --forms``: the framework layers' Caffe-order form beside the native op.

For each case, in TensorFlow (eager, ``tf.function``, XLA) and PyTorch (eager,
``torch.compile``), the Caffe-order form of :mod:`caffe_lrn.frameworks` and the framework's
native LRN op are timed in interleaved rounds in this process, on one thread, for the
forward and for the gradient (forward plus backward, as training runs it); the table gives
caffe-order / native. WITHIN_CHANNEL (case C) has no native op: both columns run the
composite, so its ratio only shows the noise. Opt-in because compiling every variant takes
minutes.
"""
import numpy as np

from caffe_lrn.bench import peers as bench_peers
from caffe_lrn.bench.cases import make_case
from caffe_lrn.bench.measure import time_rounds
from caffe_lrn.frameworks import tf_ops, torch as torch_layers
from caffe_lrn.frameworks.deps import import_tf, import_torch
from caffe_lrn.frameworks.forms import CAFFE_ORDER, NATIVE

MODES = {"tf": ("eager", "tf.function", "XLA"), "torch": ("eager", "compiled")}
LABELS = {"tf": "TensorFlow", "torch": "PyTorch"}
PASS_NAMES = {"forward": "forward", "backward": "gradient"}


def _tf_calls(case, bottom, top_diff, mode):
    tf = import_tf()
    x = tf.constant(np.ascontiguousarray(bottom.transpose(0, 2, 3, 1)))
    dy = tf.constant(np.ascontiguousarray(top_diff.transpose(0, 2, 3, 1)))
    calls = {}
    for form in (CAFFE_ORDER, NATIVE):
        def forward(v, form=form):
            return tf_ops.lrn(tf, v, case.params, form=form)

        def gradient(v, g, forward=forward):
            with tf.GradientTape() as tape:
                tape.watch(v)
                top = forward(v)
            return tape.gradient(top, v, output_gradients=g)

        if mode != "eager":
            forward = tf.function(forward, jit_compile=(mode == "XLA"), autograph=False)
            gradient = tf.function(gradient, jit_compile=(mode == "XLA"), autograph=False)
        calls[(form, "forward")] = lambda f=forward: f(x).numpy()
        calls[(form, "backward")] = lambda f=gradient: f(x, dy).numpy()
    return calls


def _torch_calls(case, bottom, top_diff, mode):
    torch = import_torch()
    dy = torch.from_numpy(top_diff)
    calls = {}
    for form in (CAFFE_ORDER, NATIVE):
        layer = torch_layers.CaffeLRN(case.params.local_size, case.params.alpha,
                                      case.params.beta, case.params.k,
                                      case.params.norm_region, form=form)
        if mode == "compiled":
            layer = torch.compile(layer)

        def forward(layer=layer):
            with torch.no_grad():
                return layer(torch.from_numpy(bottom)).numpy()

        def gradient(layer=layer):
            x = torch.from_numpy(bottom).requires_grad_(True)
            return torch.autograd.grad(layer(x), x, dy)[0].numpy()

        calls[(form, "forward")] = forward
        calls[(form, "backward")] = gradient
    return calls


def _available(framework):
    try:
        {"tf": bench_peers._probe_tf, "torch": bench_peers._probe_torch}[framework]()
        return True
    except bench_peers.Unavailable:
        return False


def measure_forms(cases, passes, repeat=5, warmup=1, budget=20.0, quick=False):
    """Rows {case, framework, mode, pass, caffe_order, native, ratio} (median seconds)."""
    rows = []
    frameworks = [name for name in MODES if _available(name)]
    if "tf" in frameworks:
        bench_peers._tf_threads(1)
    if "torch" in frameworks:
        bench_peers._torch_threads(1)
    for name in cases:
        case = make_case(name, quick=quick)
        bottom, top_diff = case.inputs()
        for framework in frameworks:
            for mode in MODES[framework]:
                build = _tf_calls if framework == "tf" else _torch_calls
                calls = {key: call for key, call in
                         build(case, bottom, top_diff, mode).items() if key[1] in passes}
                timed, failed = time_rounds(calls, repeat, warmup, budget)
                for pass_name in passes:
                    medians = {form: float(np.median(timed[(form, pass_name)][0]))
                               for form in (CAFFE_ORDER, NATIVE)
                               if (form, pass_name) in timed}
                    errors = [f"{form}: {type(failed[(form, pass_name)]).__name__}"
                              for form in (CAFFE_ORDER, NATIVE) if (form, pass_name) in failed]
                    co, native = medians.get(CAFFE_ORDER), medians.get(NATIVE)
                    rows.append({"case": name, "framework": framework, "mode": mode,
                                 "pass": PASS_NAMES[pass_name], "caffe_order": co,
                                 "native": native,
                                 "ratio": co / native if co and native else None,
                                 "errors": errors})
    return rows


def format_forms(rows):
    """The rows as a text table: caffe-order and native medians, and their ratio."""
    if not rows:
        return "Caffe-order vs native forms: no framework installed (tf, torch extras)\n"
    lines = ["Caffe-order form vs native op (frameworks layers; median, 1 thread; "
             "gradient = forward + backward)",
             f"{'case':4} {'framework':10} {'mode':11} {'pass':8} {'caffe-order':>12} "
             f"{'native':>10} {'ratio':>7}"]
    for row in rows:
        def ms(value):
            return "n/a" if value is None else f"{value * 1e3:.1f} ms"

        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        note = f"  ({'; '.join(row['errors'])})" if row["errors"] else ""
        lines.append(f"{row['case']:4} {LABELS[row['framework']]:10} {row['mode']:11} "
                     f"{row['pass']:8} {ms(row['caffe_order']):>12} {ms(row['native']):>10} "
                     f"{ratio:>7}{note}")
    return "\n".join(lines) + "\n"
