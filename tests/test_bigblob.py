"""A blob of more than 2 GB on disk runs through ``caffe-lrn run`` within 1 GB of memory.

The input (64, 96, 300, 300) float32 is 2.2 GB; ``caffe-lrn run`` runs in its own process
and reports its own peak resident memory (VmHWM). A few images of the output, at the
start, the end and across chunk boundaries, are compared bit for bit with the layer run in
memory on the same images; then ``caffe-lrn verify`` (also measured) compares every element
of the output with the engine's result. About 3 minutes on 2 cores and 4.5 GB of disk
(deleted after).

The default-suite test below runs the same path on a small blob with a tiny budget, so
the chunked path is always covered.
"""
import pathlib
import sys
import time

import numpy as np
import pytest

from caffe_lrn import LRNLayer
from caffe_lrn.numerics.ulp import count_differing
from caffe_lrn.io.files import load_npy
from caffe_lrn.params import LRNParams

BIG_SHAPE = (64, 96, 300, 300)
LRN_PARAM = "local_size: 5 alpha: 0.0001 beta: 0.75"
PEAK_LIMIT = 2**30


# Runs caffe-lrn's main() and records the process's peak resident memory (VmHWM) at exit.
# Measured in the child itself: getrusage/wait4's ru_maxrss of a child also counts the
# parent's memory at fork/exec time, which here is the test process, not caffe-lrn.
LAUNCHER = """
import sys
from caffe_lrn.cli import main
code = main(sys.argv[2:])
with open("/proc/self/status") as status:
    peak = next(line for line in status if line.startswith("VmHWM:"))
with open(sys.argv[1], "w") as out:
    out.write(str(int(peak.split()[1]) * 1024))
sys.exit(code)
"""


def run_measured(argv, folder):
    """``caffe-lrn argv`` in a child process: ``(exit code, peak RSS in bytes, seconds)``."""
    import subprocess

    record = pathlib.Path(folder) / ".peak"
    start = time.perf_counter()
    code = subprocess.run([sys.executable, "-c", LAUNCHER, str(record)] + argv).returncode
    seconds = time.perf_counter() - start
    peak = int(record.read_text())
    record.unlink()
    return code, peak, seconds


def write_random_npy(path, shape, seed=0):
    """A float32 .npy of ``shape`` written an image at a time (never whole in memory)."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f4", "fortran_order": False, "shape": shape})
        for _ in range(shape[0]):
            (rng.standard_normal(shape[1:], dtype=np.float32) * 60).tofile(handle)


def check_images(input_path, output_path, spans):
    bottom = load_npy(input_path, mmap=True)
    top = load_npy(output_path, mmap=True)
    layer = LRNLayer(LRNParams.from_text(LRN_PARAM))
    for start, stop in spans:
        expected = layer.forward(np.array(bottom[start:stop]))
        assert count_differing(np.array(top[start:stop]), expected) == 0, (start, stop)


NET = """name: "big"
layer {{ name: "data" type: "Input" top: "data"
        input_param {{ shape {{ dim: {0} dim: {1} dim: {2} dim: {3} }} }} }}
layer {{ name: "norm" type: "LRN" bottom: "data" top: "norm" lrn_param {{ {4} }} }}
"""


def _run_and_check(tmp_path, shape, budget, spans):
    """``run`` then ``verify`` on a blob of ``shape``; returns both (peak RSS, seconds)."""
    ref = tmp_path / "ref"
    ref.mkdir()
    x, out = ref / "data.npy", ref / "norm.npy"
    net = tmp_path / "net.prototxt"
    net.write_text(NET.format(*shape, LRN_PARAM))
    try:
        write_random_npy(x, shape)
        code, run_peak, run_seconds = run_measured(
            ["run", "--lrn-param", LRN_PARAM, "--input", str(x), "-o", str(out),
             "--max-memory", budget], tmp_path)
        assert code == 0
        assert out.stat().st_size == x.stat().st_size
        check_images(x, out, spans)
        # verify reads both memory-mapped blobs a run of images at a time and compares
        # every element: the chunked output equals the engine's result everywhere.
        code, verify_peak, verify_seconds = run_measured(
            ["verify", str(net), "--blobs", str(ref), "--max-memory", budget], tmp_path)
        assert code == 0
        return (run_peak, run_seconds), (verify_peak, verify_seconds)
    finally:
        for path in (x, out):
            path.unlink(missing_ok=True)


@pytest.mark.bigblob
def test_2gb_blob_runs_within_1gb(tmp_path):
    size = int(np.prod(BIG_SHAPE)) * 4
    assert size >= 2 * 10**9
    # Images 0, 1 (first chunk), a run across chunk boundaries, and the last image.
    (run_peak, run_s), (verify_peak, verify_s) = _run_and_check(
        tmp_path, BIG_SHAPE, "512M", [(0, 2), (30, 35), (63, 64)])
    print(f"\n{size / 1e9:.2f} GB blob: run peak RSS {run_peak / 2**20:.0f} MiB in "
          f"{run_s:.0f} s; verify peak RSS {verify_peak / 2**20:.0f} MiB in {verify_s:.0f} s")
    assert run_peak < PEAK_LIMIT
    assert verify_peak < PEAK_LIMIT


def test_small_blob_in_many_chunks(tmp_path):
    # 9 images of 0.5 MiB each under a budget that fits one: the same path as the 2 GB run.
    (run_peak, _), (verify_peak, _) = _run_and_check(tmp_path, (9, 16, 90, 90), "100M",
                                                     [(0, 9)])
    assert run_peak < PEAK_LIMIT and verify_peak < PEAK_LIMIT
