"""The implementations ``caffe-lrn bench`` times: this project's engine, its peers, the floor.

Each implementation is an :class:`Implementation` with a ``prepare(case, bottom, top_diff,
threads)`` that builds a :class:`Runner` for one case at one thread count. A runner holds
two zero-argument callables, ``forward`` and ``backward`` (``None`` where the
implementation has no backward), so that only the computation is timed; layout changes
(NCHW -> NHWC for TensorFlow) and graph/session building happen in ``prepare``.
``top_of`` and ``bottom_diff_of`` turn a timed call's result back into an NCHW float32
array, outside the timing, for the output checks.

Peers are optional: every framework is imported inside the function that needs it, and a
missing one makes the implementation unavailable (``n/a``), never an error.

Parameter mapping (LRN-SPEC.md sections 6 and 7), checked against the engine's output:
PyTorch and ONNX take Caffe's alpha as is (they divide by the window size themselves);
TensorFlow takes ``alpha / local_size`` (rounded to float32 as Caffe's alpha_over_size) and
``depth_radius = (local_size - 1) / 2``; OpenCV reads Caffe's own prototxt. WITHIN_CHANNEL
is ``x * (1 + alpha/n^2 * boxsum_nxn(x^2))^(-beta)`` (k ignored): peers without it run a
composite of square, zero-padded n x n average pool counting the padding, power, product.
"""
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from typing import Callable, Optional

import numpy as np

from caffe_lrn import __version__
from caffe_lrn.errors import CaffeLRNError, MissingDependencyError
from caffe_lrn.layers.backend import resolve_backend
from caffe_lrn.layers.lrn import LRNLayer
from caffe_lrn.frameworks import onnx as onnx_layers, tf_ops, torch as torch_layers
from caffe_lrn.numerics.shortest import float32_text
from caffe_lrn.optional import require

#: Kinds of implementation: the exact engine, its fast mode, a peer framework, the floor.
EXACT, FAST, PEER, FLOOR = "exact", "fast", "peer", "floor"


class Unavailable(Exception):
    """An implementation cannot run here (not installed, or not for this case); the reason."""


@dataclass
class Runner:
    forward: Callable[[], object]
    backward: Optional[Callable[[], object]] = None
    top_of: Callable[[object], np.ndarray] = np.asarray
    bottom_diff_of: Callable[[object], np.ndarray] = np.asarray
    #: A note printed under the table (e.g. what the timed call includes).
    note: str = ""
    #: ``None``: outputs are checked against the exact engine's. Otherwise a callable giving
    #: the (top, bottom_diff) this runner must reproduce (the floor checks its own pass).
    reference: Optional[Callable[[], tuple]] = None


@dataclass
class Implementation:
    """One column of the benchmark table.

    ``probe()`` returns a version string or raises :class:`Unavailable`; ``prepare`` builds a
    :class:`Runner` or raises :class:`Unavailable` for a case it cannot run.
    """

    name: str
    kind: str
    label: str
    probe: Callable[[], str]
    prepare: Callable[..., Runner]
    #: Applies a thread count process-wide before the first ``prepare`` (frameworks with a
    #: global thread pool); ``None`` when the count is given to ``prepare`` only.
    set_threads: Optional[Callable[[int], None]] = None
    #: For the engine's modes: ``make_layer(params, threads)`` -> a fresh layer (with
    #: ``forward``), used to measure the memory of one forward.
    make_layer: Optional[Callable[..., object]] = None
    #: ``modes(case, bottom, top_diff, threads)`` -> {label: Runner}: other ways of running
    #: the same implementation (e.g. other chunkings) whose results must be bit-identical.
    modes: Optional[Callable[..., dict]] = None


def _version(dist_names):
    for name in dist_names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "?"


#: The pip extra that installs each peer's module.
EXTRAS = {"torch": "torch", "tensorflow": "tf", "onnx": "onnx", "onnxruntime": "onnx",
          "cv2": "opencv"}


def _import(module):
    """A peer's framework; not installed makes the peer unavailable (n/a), not an error."""
    try:
        return require(module, EXTRAS[module])
    except MissingDependencyError as exc:
        raise Unavailable(str(exc)) from None


# ---------------------------------------------------------------------------- our engine

def _make_layer(params, exact, threads, **extra):
    return LRNLayer(params, exact=exact, threads=threads, **extra)


def _engine_backend():
    """Which backend the engine runs on here, e.g. "numba 0.68.1" or "numpy"."""
    try:
        backend = resolve_backend()
    except CaffeLRNError as exc:  # a bad CAFFE_LRN_BACKEND: say so in the table
        return f"backend unknown: {exc}"
    if backend == "numba":
        return f"numba {_version(['numba'])}"
    return backend


def _probe_engine():
    return f"{__version__} on {_engine_backend()}"


def _prepare_engine(exact, **extra):
    def prepare(case, bottom, top_diff, threads):
        layer = _make_layer(case.params, exact, threads, **extra)
        layer.forward(bottom)  # backward needs the forward's state (Caffe's scale)
        return Runner(forward=lambda: layer.forward(bottom),
                      backward=lambda: layer.backward(top_diff))
    return prepare


def _engine_modes(exact):
    """The engine with other chunkings: one image at a time, and the whole batch at once."""
    def modes(case, bottom, top_diff, threads):
        return {f"chunk_images={n}": _prepare_engine(exact, chunk_images=n)(
                    case, bottom, top_diff, threads)
                for n in sorted({1, bottom.shape[0]})}
    return modes


def _engine_layer(exact):
    def make_layer(params, threads):
        return _make_layer(params, exact, threads)
    return make_layer


# ---------------------------------------------------------------------------- PyTorch

def _probe_torch():
    torch = _import("torch")
    return torch.__version__


def _torch_threads(n):
    torch = _import("torch")
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only settable before the first parallel work; harmless later
        pass


def _prepare_torch(case, bottom, top_diff, threads):
    torch = _import("torch")
    x = torch.from_numpy(bottom).requires_grad_(True)
    dy = torch.from_numpy(top_diff)

    def lrn(t):
        return torch_layers.lrn(t, case.params, form="native")

    def forward():
        with torch.no_grad():
            return lrn(x)

    y = lrn(x)

    def backward():
        return torch.autograd.grad(y, x, dy, retain_graph=True)[0]

    def to_numpy(t):
        return t.detach().numpy()

    note = ("torch: caffe_lrn.frameworks.torch's native form (F.local_response_norm; "
            "WITHIN_CHANNEL as its avg_pool2d composite); backward = autograd.grad on a "
            "retained graph")
    return Runner(forward=forward, backward=backward, top_of=to_numpy,
                  bottom_diff_of=to_numpy, note=note)


# ---------------------------------------------------------------------------- TensorFlow

def _probe_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = _import("tensorflow")
    return tf.__version__


def _tf_threads(n):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = _import("tensorflow")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # TensorFlow fixes its pools when it initialises; a later change is refused. The
        # benchmark runs each thread count in a fresh process, so this only happens in-process.
        pass


def _prepare_tf(case, bottom, top_diff, threads):
    tf = _import("tensorflow")
    x = tf.constant(np.ascontiguousarray(bottom.transpose(0, 2, 3, 1)))
    dy = tf.constant(np.ascontiguousarray(top_diff.transpose(0, 2, 3, 1)))

    def lrn(t):
        return tf_ops.lrn(tf, t, case.params, form="native")

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = lrn(x)

    def backward():
        return tape.gradient(y, x, output_gradients=dy)

    def to_nchw(t):
        return np.ascontiguousarray(t.numpy().transpose(0, 3, 1, 2))

    note = ("tf: caffe_lrn.frameworks.tf_ops's native form on NHWC input (transpose "
            "outside the timing; WITHIN_CHANNEL as its zero pad + VALID avg_pool2d "
            "composite); backward = GradientTape.gradient")
    return Runner(forward=lambda: lrn(x), backward=backward, top_of=to_nchw,
                  bottom_diff_of=to_nchw, note=note)


# ---------------------------------------------------------------------------- ONNX Runtime

def _probe_ort():
    ort = _import("onnxruntime")
    _import("onnx")
    return f"{ort.__version__} (onnx {_version(['onnx'])})"


def lrn_onnx_model(params, shape):
    """An in-memory ONNX model computing the layer (LRN op, or the WITHIN composite):
    caffe_lrn.frameworks.onnx's native form, input "bottom", output "top"."""
    _import("onnx")
    return onnx_layers.layer_model(params, list(shape), form="native")


def _prepare_ort(case, bottom, top_diff, threads):
    ort = _import("onnxruntime")
    model = lrn_onnx_model(case.params, bottom.shape)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    feed = {"bottom": bottom}
    return Runner(forward=lambda: session.run(None, feed)[0],
                  note="ort: forward only (no training runtime); WITHIN_CHANNEL as a "
                       "Mul/AveragePool/Pow graph")


# ---------------------------------------------------------------------------- OpenCV

def _probe_cv2():
    cv2 = _import("cv2")
    if not hasattr(cv2, "dnn") or not hasattr(cv2.dnn, "readNetFromCaffe"):
        raise Unavailable(f"OpenCV {cv2.__version__} has no Caffe importer (needs < 5)")
    return cv2.__version__


def _cv2_threads(n):
    _import("cv2").setNumThreads(n)


def lrn_prototxt(params, shape):
    """A Caffe net: an input blob ``data`` of ``shape`` and one LRN layer ``norm``."""
    p = params
    dims = " ".join(f"dim: {d}" for d in shape)
    return (
        'name: "caffe_lrn_bench"\n'
        'input: "data"\n'
        f"input_shape {{ {dims} }}\n"
        'layer {\n  name: "norm"\n  type: "LRN"\n  bottom: "data"\n  top: "norm"\n'
        f"  lrn_param {{ local_size: {p.local_size} alpha: {_decimal(p.alpha)} "
        f"beta: {_decimal(p.beta)} k: {_decimal(p.k)} norm_region: {p.norm_region} }}\n"
        "}\n")


def _decimal(value):
    return float32_text(value, positional=True)


def _prepare_cv2(case, bottom, top_diff, threads):
    cv2 = _import("cv2")
    cv2.setNumThreads(threads)
    with tempfile.TemporaryDirectory(prefix="caffe-lrn-bench-") as tmp:
        path = os.path.join(tmp, "lrn.prototxt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(lrn_prototxt(case.params, bottom.shape))
        net = cv2.dnn.readNetFromCaffe(path)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    # The input is copied into the net once, outside the timing (about 7 ms on case A):
    # peers are timed on the computation alone, as their most favourable measure.
    net.setInput(bottom)
    return Runner(forward=net.forward,
                  note="cv2: dnn.readNetFromCaffe on an LRN prototxt, input set once outside "
                       "the timing; forward only (OpenCV's dnn has no backward)")


# ---------------------------------------------------------------------------- the floor

def _probe_floor():
    return np.__version__


def _prepare_floor(case, bottom, top_diff, threads):
    """One float32 ``np.power`` pass over a blob of the case's size: no LRN can do less.

    The base is a positive blob (Caffe's scale for the across-channel formula without the
    window sum), made outside the timing; the output is preallocated.
    """
    p = case.params
    base = np.float32(p.k) + np.float32(p.alpha / p.local_size) * bottom * bottom
    out = np.empty_like(base)
    exponent = np.float32(-p.beta)

    def power():
        return np.power(base, exponent, out=out)

    def reference():
        # The same power in float64, rounded once: the floor must be a real pow pass.
        expected = np.power(base.astype(np.float64), float(exponent)).astype(np.float32)
        return expected, expected

    return Runner(forward=power, backward=power, reference=reference,
                  note="floor: one np.power(base, -beta) over the blob, used for both passes")


# ---------------------------------------------------------------------------- registry

def default_registry():
    """Every implementation the benchmark knows, in table order (available or not)."""
    return [
        Implementation("exact", EXACT, "caffe-lrn exact", _probe_engine, _prepare_engine(True),
                       make_layer=_engine_layer(True), modes=_engine_modes(True)),
        Implementation("fast", FAST, "caffe-lrn fast", _probe_engine, _prepare_engine(False),
                       make_layer=_engine_layer(False), modes=_engine_modes(False)),
        Implementation("torch", PEER, "PyTorch", _probe_torch, _prepare_torch, _torch_threads),
        Implementation("tf", PEER, "TensorFlow", _probe_tf, _prepare_tf, _tf_threads),
        Implementation("ort", PEER, "ONNX Runtime", _probe_ort, _prepare_ort),
        Implementation("cv2", PEER, "OpenCV dnn", _probe_cv2, _prepare_cv2, _cv2_threads),
        Implementation("floor", FLOOR, "np.power floor", _probe_floor, _prepare_floor),
    ]


PEER_NAMES = ("torch", "tf", "ort", "cv2", "floor")
