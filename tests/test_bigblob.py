"""A blob of more than 2 GB on disk runs through ``caffe-lrn run`` within 1 GB of memory.

The input (64, 96, 300, 300) float32 is 2.2 GB; ``caffe-lrn run`` runs in its own process
and its peak resident memory is read from ``os.wait4``. A few images of the output, at the
start, the end and across chunk boundaries, are compared bit for bit with the layer run in
memory on the same images. About 2 minutes on 2 cores and 4.5 GB of disk (deleted after).

The default-suite test below runs the same path on a small blob with a tiny budget, so
the chunked path is always covered.
"""
import os
import pathlib
import sys
import time

import numpy as np
import pytest

from caffe_lrn import LRNLayer
from caffe_lrn.compare import count_differing
from caffe_lrn.fileio import load_npy
from caffe_lrn.params import LRNParams

BIG_SHAPE = (64, 96, 300, 300)
LRN_PARAM = "local_size: 5 alpha: 0.0001 beta: 0.75"
PEAK_LIMIT = 2**30


def _console():
    script = pathlib.Path(sys.executable).parent / "caffe-lrn"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from caffe_lrn.cli import main; "
                                  "sys.exit(main(sys.argv[1:]))"]


def run_measured(argv):
    """Run ``caffe-lrn argv`` in a child process: ``(exit code, peak RSS in bytes, seconds)``."""
    import subprocess

    start = time.perf_counter()
    child = subprocess.Popen(_console() + argv)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, usage.ru_maxrss * 1024, time.perf_counter() - start


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


def _run_and_check(tmp_path, shape, budget, spans):
    x, out = tmp_path / "x.npy", tmp_path / "top.npy"
    try:
        write_random_npy(x, shape)
        code, peak, seconds = run_measured(
            ["run", "--lrn-param", LRN_PARAM, "--input", str(x), "-o", str(out),
             "--max-memory", budget])
        assert code == 0
        assert out.stat().st_size == x.stat().st_size
        check_images(x, out, spans)
        return peak, seconds
    finally:
        for path in (x, out):
            path.unlink(missing_ok=True)


@pytest.mark.bigblob
def test_2gb_blob_runs_within_1gb(tmp_path):
    size = int(np.prod(BIG_SHAPE)) * 4
    assert size >= 2 * 10**9
    # Images 0, 1 (first chunk), a run across chunk boundaries, and the last image.
    peak, seconds = _run_and_check(tmp_path, BIG_SHAPE, "512M",
                                   [(0, 2), (30, 35), (63, 64)])
    print(f"\n{size / 1e9:.2f} GB blob: peak RSS {peak / 2**20:.0f} MiB, {seconds:.0f} s")
    assert peak < PEAK_LIMIT


def test_small_blob_in_many_chunks(tmp_path):
    # 9 images of 0.5 MiB each under a budget that fits one: the same path as the 2 GB run.
    peak, _ = _run_and_check(tmp_path, (9, 16, 90, 90), "100M", [(0, 9)])
    assert peak < PEAK_LIMIT
