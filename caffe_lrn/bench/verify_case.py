"""The benchmark's verify case: ``caffe-lrn verify`` end to end on a multi-file dump.

A dump of AlexNet's norm1 (bottom ``conv1`` and top ``norm1``, (N, 96, 55, 55) float32,
inputs as case A's) is written batch by batch, 8 ``.npz`` files of 60 images: 1.04 GiB in
all (``--quick``: 3 files of case A's quick shape). Its tops are the exact engine's, so the
verification passes and every element is compared. The dump lives in a temporary directory
removed afterwards.

Three things are timed in interleaved rounds, in the same process:

* verify: :func:`caffe_lrn.verify.dumps.verify_dumps` over the files, as the CLI runs it;
* read: every file read once, as verify reads it (:func:`caffe_lrn.io.reference.open_blobs`);
* forward: the engine's forward over every file's bottom, already in memory.

The case reports the dump's GB/s through verify and verify's time over (forward + read):
what checking and bookkeeping add to the two things no verification can skip.
"""
import os
import statistics
import time

import numpy as np

from caffe_lrn.bench.cases import make_case
from caffe_lrn.io.reference import open_blobs
from caffe_lrn.io.stream import DEFAULT_MAX_MEMORY
from caffe_lrn.layers.lrn import LRNLayer
from caffe_lrn.nets.loader import load_net
from caffe_lrn.verify.dumps import verify_dumps

#: Target: verify <= this x (forward + reading the dump once), one thread.
VERIFY_OVER_FLOOR = 1.5

FULL_DUMP = {"files": 8, "images": 60}
QUICK_DUMP = {"files": 3, "images": 2}
BOTTOM, TOP = "conv1", "norm1"

_NET = """name: "AlexNetNorm1"
layer {{ name: "data" type: "Input" top: "{bottom}"
        input_param {{ shape {{ dim: {n} dim: {c} dim: {h} dim: {w} }} }} }}
layer {{ name: "norm1" type: "LRN" bottom: "{bottom}" top: "{top}"
        lrn_param {{ local_size: {p.local_size} alpha: {p.alpha!r} beta: {p.beta!r} }} }}
"""


def make_dump(folder, quick=False):
    """Write the verify case's net and dump into ``folder``; a JSON-ready description."""
    case = make_case("A", quick)
    layout = QUICK_DUMP if quick else FULL_DUMP
    shape = (layout["images"],) + tuple(case.shape[1:])
    layer = LRNLayer(case.params)
    rng = np.random.default_rng(case.seed)
    paths = []
    for index in range(layout["files"]):
        bottom = rng.standard_normal(shape, dtype=np.float32)
        np.maximum(bottom, 0, out=bottom)
        bottom *= np.float32(case.scale)
        path = os.path.join(folder, f"batch_{index:03d}.npz")
        np.savez(path, **{BOTTOM: bottom, TOP: layer.forward(bottom)})
        paths.append(path)
    net = os.path.join(folder, "net.prototxt")
    with open(net, "w", encoding="utf-8") as handle:
        handle.write(_NET.format(bottom=BOTTOM, top=TOP, n=shape[0], c=shape[1], h=shape[2],
                                 w=shape[3], p=case.params))
    return {"net": net, "paths": paths, "files": len(paths), "images": shape[0] * len(paths),
            "shape": list(shape), "bytes": sum(os.path.getsize(p) for p in paths)}


def measure_verify(dump, threads, repeat=3, warmup=1):
    """Time verify, one read of the dump, and the forward, at ``threads``; a dict."""
    net = load_net(dump["net"])
    params = make_case("A").params
    outcome = {}

    def verify():
        reports = verify_dumps(net, dump["paths"], threads=threads,
                               max_memory=DEFAULT_MAX_MEMORY)
        outcome["passed"] = all(report.passed for report in reports)
        outcome["compared"] = sum(c.comparison.compared for r in reports for c in r.checks
                                  if c.comparison is not None)

    def read():
        for path in dump["paths"]:
            blobs = open_blobs(path)
            blobs.get(BOTTOM), blobs.get(TOP)

    layer = LRNLayer(params, threads=threads)

    def forward():
        seconds = 0.0
        for path in dump["paths"]:
            bottom = open_blobs(path).get(BOTTOM)
            started = time.perf_counter()
            layer.forward(bottom)
            seconds += time.perf_counter() - started
        return seconds

    times = {"verify": [], "read": [], "forward": []}
    for round_index in range(warmup + repeat):
        started = time.perf_counter()
        verify()
        verify_s = time.perf_counter() - started
        started = time.perf_counter()
        read()
        read_s = time.perf_counter() - started
        forward_s = forward()
        if round_index >= warmup:
            times["verify"].append(verify_s)
            times["read"].append(read_s)
            times["forward"].append(forward_s)
    median = {key: statistics.median(values) for key, values in times.items()}
    floor = median["read"] + median["forward"]
    return {"threads": threads, "files": dump["files"], "bytes": dump["bytes"],
            "verify_s": median["verify"], "read_s": median["read"],
            "forward_s": median["forward"], "runs": repeat,
            "verify_over_forward_and_read": median["verify"] / floor if floor else None,
            "gb_per_s": dump["bytes"] / median["verify"] / 1e9 if median["verify"] else None,
            "passed": outcome.get("passed"), "compared": outcome.get("compared")}
