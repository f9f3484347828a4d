"""Verify reference LRN activations: does our engine give the reference's top, bit for bit?

For each LRN layer of a net, the layer's bottom blob is taken from a reference dump (made by
some Caffe build), run through :class:`caffe_lrn.LRNLayer`, and our top is compared with
the reference's top blob element by element (see :class:`caffe_lrn.verify.comparison.BlobComparison`).

Policy: a layer passes when our top is bit-identical to the reference; with ``max_ulp=N`` it
passes when no element is more than N float32 ULPs away (for references from other Caffe
builds: GPU, MKL). A NaN or inf pattern mismatch always fails.

Which Caffe build made the dump (``profile``, :mod:`caffe_lrn.numerics.profiles`): a fixed
profile runs the engine as that build; ``"auto"`` (the default) runs the default profile
first and, only when the layer is not bit-identical, each other group of profiles that can
give different bits (one forward each); the layer records the profiles that reproduce it,
or the closest one when none does. The pass/fail policy is applied to that comparison.

A layer whose blobs cannot be checked is reported as ``unverifiable`` (which fails the run)
with the reason, rather than compared: a missing blob, a shape or dtype that cannot be an
LRN's bottom/top, an empty blob, or a blob overwritten in place by a later layer (Caffe's
in-place ReLU after an LRN, say): a dump holds a blob's last value, so such a blob is that
later layer's output, and any number computed from it would mislead.

The functions here return plain records (:class:`NetReport`, :class:`LayerCheck`,
:class:`FrameworkCheck`); :mod:`caffe_lrn.verify.report` renders them.
"""
import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from caffe_lrn.convert import frameworks
from caffe_lrn.convert.records import FRAMEWORKS
from caffe_lrn.errors import (
    CaffeLRNError, LayerNotFoundError, MissingDependencyError, ParameterError,
)
from caffe_lrn.io.reference import open_blobs
from caffe_lrn.io.stream import read_images
from caffe_lrn.layers.backend import resolve_threads
from caffe_lrn.layers.checks import native_dtype
from caffe_lrn.layers.lrn import LRNLayer
from caffe_lrn.nets.loader import load_net
from caffe_lrn.nets.lrn_layers import lrn_layer_named, lrn_layers
from caffe_lrn.nets.state import State, filter_net
from caffe_lrn.numerics.profiles import PROFILES, get_profile, profile_groups
from caffe_lrn.parallel import per_run, runs
from caffe_lrn.progress import NoProgress
from caffe_lrn.verify.comparison import BlobComparison

PASS = "pass"
FAIL = "fail"
UNVERIFIABLE = "unverifiable"

#: ``profile="auto"``: find the Caffe build that reproduces each layer.
AUTO = "auto"

# Images per forward call: bounded memory on large (memory-mapped) blobs, and a progress
# step per chunk. LRN normalizes each image on its own, so chunking does not change a bit.
CHUNK_ELEMENTS = 1 << 22

# Layers that set the channel count of their top from a parameter.
_NUM_OUTPUT_TYPES = {"Convolution": "convolution_param", "Deconvolution": "convolution_param"}


@dataclass
class FrameworkCheck:
    """The same layer run by another framework (``tf``, ``torch``, ``onnx``), vs the reference."""

    framework: str
    native: bool = False  # the framework's own LRN op rather than Caffe's order of operations
    comparison: BlobComparison = None
    error: str = None
    seconds: float = 0.0
    max_ulp: float = None  # the threshold it is held to; None: informational only

    @property
    def passed(self):
        if self.max_ulp is None:
            return True
        return (self.error is None and self.comparison is not None
                and self.comparison.passes(self.max_ulp))


@dataclass
class LayerCheck:
    """The verification of one LRN layer."""

    layer: str
    index: int
    bottom: str
    top: str
    params: object  # LRNParams
    status: str = UNVERIFIABLE
    reason: str = None
    shape: tuple = None
    dtype: str = None
    comparison: BlobComparison = None
    against: list = field(default_factory=list)
    seconds: float = 0.0
    profile: str = None    # the profile whose top ``comparison`` measures
    matching: list = None  # profiles reproducing the reference bit for bit ([]: none)
    tried: list = None     # profiles run or known equal to one run; the rest were not

    @property
    def passed(self):
        return self.status == PASS


@dataclass
class NetReport:
    """Every checked LRN layer of one net against one reference."""

    net: str
    blobs: str
    blobs_kind: str
    net_name: str
    max_ulp: float = None
    checks: list = field(default_factory=list)
    title: str = None
    fast: bool = False  # run in the engine's fast mode (LRNLayer(exact=False))
    phase: str = "TEST"  # the net state whose layers were checked (State.describe())
    profile: str = AUTO  # the profile asked for: a name, or "auto"

    @property
    def passed(self):
        return bool(self.checks) and all(check.passed for check in self.checks)

    def counts(self):
        counts = {PASS: 0, FAIL: 0, UNVERIFIABLE: 0}
        for check in self.checks:
            counts[check.status] += 1
        return counts


def select_layers(net, infos, names=None, unfiltered=None, state=None):
    """The LRN layers to check: all of ``infos``, or those named (in the order named).

    An unknown name raises LayerNotFoundError listing the net's LRN layers (``unfiltered``:
    the net before :func:`caffe_lrn.nets.state.filter_net`, to say when a layer exists but
    not in ``state``).
    """
    if not names:
        return list(infos)
    by_name = {info.name: info for info in infos}
    lrn_names = ", ".join(by_name) or "none"
    chosen = []
    for name in names:
        info = lrn_layer_named(infos, name)
        if info is not None:
            if info not in chosen:
                chosen.append(info)
            continue
        other = [layer for layer in net.layer if layer.name == name]
        if not other and unfiltered is not None and any(
                layer.name == name for layer in unfiltered.layer):
            raise LayerNotFoundError(
                f"layer {name!r} is not in the net in phase {state.describe()} (its "
                f"include/exclude rules leave it out; choose another with --phase); the "
                f"LRN layers in this phase are: {lrn_names}")
        if other:
            raise LayerNotFoundError(
                f"layer {name!r} is a {other[0].type} layer, not LRN; the net's LRN layers "
                f"are: {lrn_names}")
        raise LayerNotFoundError(
            f"no layer named {name!r} in the net; its LRN layers are: {lrn_names}")
    return chosen


def find_overwrites(net, info):
    """Why the dump cannot hold this LRN layer's own bottom or top, if it cannot.

    Returns a list of messages: the LRN computed in place (bottom == top), or a later layer
    writing the LRN's bottom or top blob (in place), whose output is what a dump holds.
    """
    problems = []
    if info.bottom == info.top:
        problems.append(
            f"{info.name} computes in place (bottom and top are both {info.bottom!r}), so "
            f"the dump holds only its top, not its bottom")
    for later in list(net.layer)[info.index + 1:]:
        for blob in later.top:
            if blob in (info.bottom, info.top):
                role = "bottom" if blob == info.bottom else "top"
                problems.append(
                    f"blob {blob!r} ({info.name}'s {role}) is overwritten in place by a later "
                    f"layer, {later.name!r} ({later.type}): the dump holds {later.name}'s "
                    f"output, not {info.name}'s {role}")
    return problems


def _producer(net, info):
    """The layer that made the LRN's bottom (skipping in-place layers such as ReLU)."""
    for layer in reversed(list(net.layer)[:info.index]):
        if info.bottom in layer.top and info.bottom not in layer.bottom:
            return layer
    return None


def _native(array):
    """A run of a dump's images, C-ordered in the machine's byte order (dumps from
    big-endian hosts exist)."""
    return np.ascontiguousarray(array, dtype=native_dtype(array.dtype))


def blob_problem(net, info, bottom, top):
    """Why this bottom/top pair cannot be an LRN layer's blobs, or None when it can."""
    for role, name, array in (("bottom", info.bottom, bottom), ("top", info.top, top)):
        if native_dtype(array.dtype) not in (np.float32, np.float64):
            return (f"{role} blob {name!r} has dtype {array.dtype}; an LRN blob is float32 "
                    f"(or float64)")
    if native_dtype(bottom.dtype) != native_dtype(top.dtype):
        return (f"bottom blob {info.bottom!r} is {bottom.dtype} but top blob {info.top!r} is "
                f"{top.dtype}; a Caffe net has one dtype")
    if bottom.ndim != 4:
        return (f"bottom blob {info.bottom!r} must have 4 axes (num, channels, height, width), "
                f"but shape is {bottom.shape}")
    if bottom.size == 0:
        return f"bottom blob {info.bottom!r} is empty (shape {bottom.shape})"
    if top.shape != bottom.shape:
        return (f"top blob {info.top!r} has shape {top.shape} but bottom blob {info.bottom!r} "
                f"has shape {bottom.shape}; an LRN top has its bottom's shape")
    producer = _producer(net, info)
    if producer is not None and producer.type in _NUM_OUTPUT_TYPES:
        num_output = getattr(producer, _NUM_OUTPUT_TYPES[producer.type]).num_output
        if num_output and bottom.shape[1] != num_output:
            return (f"bottom blob {info.bottom!r} has {bottom.shape[1]} channels, but the net's "
                    f"layer {producer.name!r} ({producer.type}) makes num_output {num_output}: "
                    f"the reference does not belong to this net")
    return None


def _run_framework(framework, params, bottom, reference, max_ulp, progress, native=False,
                   chunk_elements=CHUNK_ELEMENTS):
    check = FrameworkCheck(framework, native=native, max_ulp=max_ulp)
    started = time.perf_counter()
    comparison = BlobComparison(reference.shape)
    per_image = int(np.prod(bottom.shape[1:]))
    try:
        for start, stop in runs(bottom.shape[0], per_run(per_image, chunk_elements)):
            chunk = np.ascontiguousarray(read_images(bottom, start, stop), dtype=np.float32)
            theirs = np.asarray(frameworks.run_layer(framework, params, chunk, native=native))
            comparison.update(theirs.astype(np.float32),
                              np.asarray(read_images(reference, start, stop),
                                         dtype=np.float32), start)
            progress.advance((stop - start) * per_image)
    except MissingDependencyError:
        raise
    except CaffeLRNError as exc:
        check.error = str(exc)
    else:
        check.comparison = comparison
    check.seconds = time.perf_counter() - started
    return check


def _images(blob, start, stop):
    """Images ``start:stop``: read from the file for a memory-mapped blob, else a view."""
    if isinstance(blob, np.memmap):
        return _native(read_images(blob, start, stop))
    return _native(blob[start:stop])


def _compare_run(layer, bottom, top, start, stop):
    """The comparison of images ``start:stop``: read, run, compare."""
    ours = layer.forward(_images(bottom, start, stop))
    return BlobComparison(top.shape).update(ours, _images(top, start, stop), start)


def compare_runs(params, bottom, top, chunk_elements=CHUNK_ELEMENTS, threads=1,
                 progress=None, fast=False, profile=None):
    """Run the engine on ``bottom`` and compare with ``top``, a run of images at a time.

    With one thread the runs follow one another. With ``threads`` > 1 that many runs are in
    flight at once, each read, run (by a one-thread engine) and compared on its own
    thread, so reading one run overlaps computing another; each run then holds
    ``chunk_elements / threads`` elements, so memory stays within the same bound. The
    runs' comparisons are merged in order (:meth:`BlobComparison.merge`): the report is the
    same for any thread count. ``profile``: the Caffe build the engine runs as. Returns the
    :class:`BlobComparison`.
    """
    progress = progress or NoProgress()
    threads = max(1, int(threads))
    per_image = int(np.prod(bottom.shape[1:]))
    comparison = BlobComparison(bottom.shape)
    pieces = list(runs(bottom.shape[0], per_run(per_image, chunk_elements // threads)))
    if threads == 1 or len(pieces) == 1:
        layer = LRNLayer(params, exact=not fast, threads=threads, profile=profile)
        for start, stop in pieces:
            comparison.merge(_compare_run(layer, bottom, top, start, stop))
            progress.advance((stop - start) * per_image)
        return comparison
    layers = threading.local()

    def work(run):
        if not hasattr(layers, "layer"):
            layers.layer = LRNLayer(params, exact=not fast, threads=1, profile=profile)
        return _compare_run(layers.layer, bottom, top, *run)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="caffe-lrn-verify") \
            as pool:
        pending = collections.deque()
        for run in pieces:
            if len(pending) >= threads:
                _merge_next(pending, comparison, progress, per_image)
            pending.append((run, pool.submit(work, run)))
        while pending:
            _merge_next(pending, comparison, progress, per_image)
    return comparison


def _merge_next(pending, comparison, progress, per_image):
    (start, stop), future = pending.popleft()
    comparison.merge(future.result())
    progress.advance((stop - start) * per_image)


def _identical(comparison):
    return comparison.differing == 0 and comparison.pattern_agrees


def compare_profiles(check, bottom, top, profile=AUTO, fast=False, progress=None,
                     chunk_elements=CHUNK_ELEMENTS, threads=1):
    """The comparison of our top with the reference under ``profile`` (a name or "auto"),
    recording on ``check`` the profile compared and the profiles that reproduce the
    reference (see the module docstring)."""
    progress = progress or NoProgress()
    groups = profile_groups(check.params, bottom.shape, native_dtype(bottom.dtype))
    if profile != AUTO:
        chosen = get_profile(profile)
        groups = [group for group in groups if chosen in group]
        groups[0] = [chosen] + [p for p in groups[0] if p is not chosen]
    tried = []
    for number, group in enumerate(groups):
        comparison = compare_runs(check.params, bottom, top, chunk_elements, threads,
                                  progress if number == 0 else NoProgress(), fast, group[0])
        tried.append((group, comparison))
        if number == 0 and _identical(comparison):
            break  # the first profile tried reproduces it: the others are not run
    group, comparison = min(tried, key=lambda pair: (
        not _identical(pair[1]), not pair[1].pattern_agrees, pair[1].max_ulp,
        pair[1].differing))
    check.profile = group[0].name
    matched = {p.name for tried_group, c in tried if _identical(c) for p in tried_group}
    check.matching = [p.name for p in PROFILES if p.name in matched]
    check.tried = [p.name for tried_group, _ in tried for p in tried_group]
    return comparison


def check_layer(net, info, blobs, max_ulp=None, against=(), against_max_ulp=None,
                native=False, progress=None, chunk_elements=CHUNK_ELEMENTS, fast=False,
                threads=1, profile=AUTO):
    """Verify one LRN layer (``info``, an LRNLayerInfo) against ``blobs`` (a BlobStore).

    ``fast``: run the engine's fast mode (``LRNLayer(exact=False)``), whose top is within
    2 float32 ULP of the exact engine's: against Caffe's bits it needs ``max_ulp=2``.
    ``profile``: the Caffe build to run as, or ``"auto"`` (see :func:`compare_profiles`).

    Blobs are read ``chunk_elements`` at a time (whole images), memory-mapped ones from
    their files (:func:`caffe_lrn.io.stream.read_images`), so memory stays bounded;
    ``threads`` runs of images are read, run and compared at once (:func:`compare_runs`).
    """
    progress = progress or NoProgress()
    check = LayerCheck(layer=info.name, index=info.index, bottom=info.bottom, top=info.top,
                       params=info.params)
    started = time.perf_counter()
    problems = find_overwrites(net, info)
    if problems:
        check.reason = "; ".join(problems)
        return check
    missing = [f"{role} blob {name!r}" for role, name in
               (("bottom", info.bottom), ("top", info.top)) if name not in blobs]
    if missing:
        check.reason = (f"the reference has no {' and no '.join(missing)}; it has: "
                        f"{blobs.describe_names()}")
        return check
    bottom = blobs.get(info.bottom)
    top = blobs.get(info.top)
    problem = blob_problem(net, info, bottom, top)
    check.shape = tuple(int(d) for d in bottom.shape)
    check.dtype = str(native_dtype(bottom.dtype))
    if problem:
        check.reason = problem
        return check

    comparison = check.comparison = compare_profiles(check, bottom, top, profile, fast,
                                                     progress, chunk_elements, threads)
    check.status = PASS if comparison.passes(max_ulp) else FAIL
    if not comparison.pattern_agrees:
        check.reason = (f"NaN/inf pattern differs: {comparison.nan_mismatch} NaN and "
                        f"{comparison.inf_mismatch} inf elements disagree")

    for framework in against:
        framework_check = _run_framework(framework, info.params, bottom, top, against_max_ulp,
                                         progress, native=native,
                                         chunk_elements=chunk_elements)
        check.against.append(framework_check)
        if not framework_check.passed and check.status == PASS:
            check.status = FAIL
            check.reason = (f"{framework} is more than {against_max_ulp} ULP from the "
                            f"reference" if framework_check.error is None
                            else f"{framework} failed: {framework_check.error}")
    check.seconds = time.perf_counter() - started
    return check


def verify_net(net, blobs, layers=None, max_ulp=None, against=(), against_max_ulp=None,
               native=False, progress_factory=None, net_path="", title=None,
               chunk_elements=CHUNK_ELEMENTS, fast=False, threads=None, state=None,
               profile=AUTO):
    """Verify the LRN layers of ``net`` (a NetParameter) against ``blobs`` (a BlobStore).

    ``state``: the :class:`caffe_lrn.nets.state.State` the net is built for (default TEST,
    as Caffe runs a net for inference): layers whose include/exclude rules leave them out
    of it are not checked, and do not count as overwriting a blob.

    ``layers``: names to check (default: every LRN layer). ``against``: frameworks to run
    each layer in too, via ``caffe_lrn.convert.frameworks.run_layer`` (Caffe's order of
    operations in the framework's ops; ``native=True``: the framework's own LRN op), whose
    distance from the reference is informational unless ``against_max_ulp`` is given. ``progress_factory(total, label,
    layer_count)`` returns a progress object (see :mod:`caffe_lrn.progress`); the total is
    counted in bottom elements (once for our engine, once per ``against`` framework).
    ``chunk_elements``: how many bottom elements (whole images) to process at once.
    ``fast``: run the engine's fast mode (see :func:`check_layer`). ``threads``: runs of
    images checked at once (default: ``CAFFE_LRN_THREADS``, else every core); the report
    does not depend on it. ``profile``: the Caffe build to run as, or ``"auto"`` to find it
    per layer (see :func:`compare_profiles`).
    Returns a :class:`NetReport`.
    """
    if max_ulp is not None and max_ulp < 0:
        raise ParameterError(f"max_ulp must be >= 0, got {max_ulp}")
    unknown = [f for f in against if f not in FRAMEWORKS]
    if unknown:
        raise ParameterError(f"unknown framework {unknown[0]!r}; choose from "
                             f"{', '.join(FRAMEWORKS)}")
    threads = resolve_threads(threads)
    state = state or State()
    unfiltered, net = net, filter_net(net, state)
    profile = AUTO if profile is None or str(profile).lower() == AUTO else \
        get_profile(profile).name  # an unknown name fails before any work
    infos = lrn_layers(net)
    if not infos:
        phase = (f" in phase {state.describe()}" if len(lrn_layers(unfiltered)) else "")
        raise LayerNotFoundError(
            f"net {net.name or net_path!r} has no LRN layers to verify{phase}")
    chosen = select_layers(net, infos, layers, unfiltered=unfiltered, state=state)
    report = NetReport(net=str(net_path), blobs=str(blobs.path), blobs_kind=blobs.kind,
                       net_name=net.name, max_ulp=max_ulp, title=title, fast=bool(fast),
                       phase=state.describe(), profile=profile)
    total = 0
    for info in chosen:
        if info.bottom in blobs:
            shape = getattr(blobs.get(info.bottom), "shape", ())
            total += int(np.prod(shape, dtype=np.int64)) if len(shape) == 4 else 0
    total *= 1 + len(against)
    label = f"verifying {net.name or net_path}"
    progress = (progress_factory(total, label, len(chosen)) if progress_factory
                else NoProgress())
    with progress:
        for info in chosen:
            progress.set_label(f"{label}: {info.name}")
            report.checks.append(check_layer(net, info, blobs, max_ulp=max_ulp,
                                             against=against,
                                             against_max_ulp=against_max_ulp,
                                             native=native, progress=progress,
                                             chunk_elements=chunk_elements, fast=fast,
                                             threads=threads, profile=profile))
    return report


def verify_paths(net_path, blobs_path, **options):
    """:func:`verify_net` on files: NET (text or binary, any version) and a reference."""
    net = load_net(net_path)
    blobs = open_blobs(blobs_path)
    return verify_net(net, blobs, net_path=net_path, **options)
