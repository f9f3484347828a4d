"""Under a memory limit (``ulimit -v 1500000``, 1.5 GB of address space), a net and a blob
too large for it end with one error line and exit 1: never a traceback, a crash or a hang.

Each command runs in its own process with the limit set and a timeout. The verify runs on
the NumPy engine (``CAFFE_LRN_BACKEND=numpy``) so that it does not need the numba extra
(numba does start under this limit too: measured).
"""
import pathlib
import resource
import subprocess
import sys

import numpy as np
import pytest

# About 8 s together; address-space limits (RLIMIT_AS) as tested here are Linux's.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="RLIMIT_AS address-space limit is Linux-specific")

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIMIT_KB = 1500000
LAYERS = 10**6


def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def write_huge_net(path, layers=LAYERS):
    """A binary NetParameter of ``layers`` ReLU layers, each with include rules (stages)
    and a param spec: about 190 bytes a layer on disk, some 30 times that parsed."""
    rule = _field(8, b"".join(_field(4, b"stage_%d" % s) for s in range(8)))
    body = [_field(1, b"huge")]
    for index in range(layers):
        body.append(_field(100, _field(1, b"layer_with_a_long_name_%07d" % index)
                           + _field(2, b"ReLU") + _field(3, b"data") + _field(3, b"aux")
                           + _field(4, b"data") + rule + _field(6, _field(1, b"w"))))
    path.write_bytes(b"".join(body))


def write_sparse_npy(path, shape):
    """An all-zero float32 .npy of ``shape`` as a sparse file (no disk blocks for the data)."""
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f4", "fortran_order": False, "shape": shape})
        handle.truncate(handle.tell() + int(np.prod(shape)) * 4)


def _limit():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_KB * 1024, LIMIT_KB * 1024))


def run_limited(argv, cwd, env=None):
    done = subprocess.run([sys.executable, "-c", "import sys; from caffe_lrn.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", *argv],
                          cwd=cwd, capture_output=True, text=True, timeout=600,
                          preexec_fn=_limit,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **(env or {})})
    return done


def _assert_one_line_exit_1(done, words):
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("caffe-lrn: error: "), done.stderr[-2000:]
    assert words in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_inspect_of_a_million_layer_net_under_the_limit(tmp_path):
    net = tmp_path / "huge.caffemodel"
    write_huge_net(net)
    done = run_limited(["inspect", str(net)], tmp_path)
    _assert_one_line_exit_1(done, "out of memory parsing a")


def test_verify_of_a_blob_larger_than_the_limit(tmp_path):
    # One image of 1.6 GB: more than the whole address space the process may have.
    shape = (1, 2, 20000, 10000)
    ref = tmp_path / "ref"
    ref.mkdir()
    write_sparse_npy(ref / "data.npy", shape)
    write_sparse_npy(ref / "norm.npy", shape)
    net = tmp_path / "net.prototxt"
    net.write_text('layer { name: "norm" type: "LRN" bottom: "data" top: "norm" '
                   'lrn_param { local_size: 3 } }')
    done = run_limited(["verify", str(net), "--blobs", str(ref)], tmp_path,
                       env={"CAFFE_LRN_BACKEND": "numpy"})
    _assert_one_line_exit_1(done, "out of memory")
