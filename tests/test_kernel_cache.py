"""The compiled engine where numba finds no writable cache folder (a non-root user of an
installed, read-only copy, HOME unwritable): it falls back to a private temporary folder,
or to compiling without a cache, and the command works.

Each case runs in a fresh process in which numba's two usual cache places (next to the
kernels, and the user's cache folder) fail as an unwritable folder does (PermissionError
from numba's own writability check): running as root, file modes alone cannot show it.
"""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.kernels

ROOT = pathlib.Path(__file__).resolve().parent.parent

SCRIPT = """
import sys
from numba.core import caching

def unwritable(self):
    raise PermissionError(13, "Permission denied", self.get_cache_path())

caching.InTreeCacheLocator.ensure_cache_path = unwritable
caching.UserWideCacheLocator.ensure_cache_path = unwritable
if sys.argv[1] == "no-cache-anywhere":
    caching.UserProvidedCacheLocator.ensure_cache_path = unwritable

from caffe_lrn.cli import main
code = main(["run", "--lrn-param", "local_size: 3", "--backend", "numba",
             "--input", sys.argv[2], "-o", sys.argv[3]])
from caffe_lrn.kernels.jit import JIT
print("cache", JIT["cache"])
sys.exit(code)
"""


def _run(case, tmp_path):
    x = np.random.default_rng(3).standard_normal((2, 5, 3, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"HOME": "/nonexistent", "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, case, str(tmp_path / "x.npy"),
                           str(tmp_path / "top.npy")], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "cannot cache" not in done.stderr and "Traceback" not in done.stderr
    from caffe_lrn.layers.lrn import LRNLayer
    expected = LRNLayer.from_text("local_size: 3", backend="numpy").forward(x)
    assert np.array_equal(np.load(tmp_path / "top.npy").view(np.uint32),
                          expected.view(np.uint32))
    return done.stdout, tmp


def test_falls_back_to_a_private_temporary_cache(tmp_path):
    out, tmp = _run("private-folder", tmp_path)
    assert "cache True" in out
    folders = list(tmp.glob("caffe-lrn-numba-*"))
    assert len(folders) == 1 and (folders[0].stat().st_mode & 0o777) == 0o700
    assert list(folders[0].rglob("*.nbi"))  # numba wrote its index there


def test_compiles_without_a_cache_when_nothing_is_writable(tmp_path):
    out, _ = _run("no-cache-anywhere", tmp_path)
    assert "cache False" in out
