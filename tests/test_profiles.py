"""Build profiles: each reproduces its own Caffe build (tests/data/caffe-reference/profiles/,
real BVLC Caffe linked to OpenBLAS AVX-512, OpenBLAS AVX2 and ATLAS), float32 and float64,
and ``verify --profile auto`` names the build behind a dump."""
import ctypes
import ctypes.util
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from caffe_lrn import LRNLayer, LRNParams
from caffe_lrn.cli import main
from caffe_lrn.errors import ParameterError
from caffe_lrn.layers import lrn as lrn_module
from caffe_lrn.layers.backend import numba_available
from caffe_lrn.numerics.caffe_math import axpy, fma64, pow64
from caffe_lrn.numerics.profiles import (ATLAS, DEFAULT_PROFILE, ENV_PROFILE, OPENBLAS_AVX2,
                                         OPENBLAS_AVX512, PROFILES, get_profile,
                                         profile_groups)
from caffe_lrn.numerics.ulp import bit_differs
from conftest import REFERENCE

#: The file of each profile's build.
FILES = {"openblas-avx512": "openblas-skylakex", "openblas-avx2": "openblas-haswell",
         "atlas": "atlas"}
FIELDS = ("top", "bottom_diff", "top64", "bottom_diff64")


@pytest.fixture(scope="session")
def builds():
    """``builds[profile][case][field]`` from the three Caffe builds' files."""
    out = {}
    for profile, stem in FILES.items():
        with np.load(REFERENCE / "profiles" / f"{stem}.npz", allow_pickle=False) as z:
            names = [str(n) for n in z["case_names"]]
            out[profile] = {name: {field: z[f"{name}__{field}"] for field in FIELDS}
                            for name in names}
    return out


def _params(case):
    return LRNParams(local_size=int(case["local_size"]), alpha=float(case["alpha"]),
                     beta=float(case["beta"]), k=float(case["k"]),
                     norm_region=str(case["norm_region"]))


def differing(ours, theirs):
    """Elements whose bits differ, NaN included (its position, sign and payload)."""
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    view = np.int32 if ours.dtype == np.float32 else np.int64
    return int(np.count_nonzero(ours.view(view) != theirs.view(view)))


def differing_values(ours, theirs):
    """What verify counts: bitwise differences, any NaN equal to any NaN."""
    return int(np.count_nonzero(bit_differs(ours, theirs)))


def differing_table(refs, builds, **layer_kwargs):
    """``{(case, profile): (top, bottom_diff, top64, bottom_diff64)}`` differing counts."""
    table = {}
    for profile in FILES:
        for name, want in builds[profile].items():
            case = refs[name]
            counts = []
            for dtype, suffix in ((np.float32, ""), (np.float64, "64")):
                layer = LRNLayer(_params(case), profile=profile, **layer_kwargs)
                top = layer.forward(case["x"].astype(dtype))
                bottom_diff = layer.backward(case["top_diff"].astype(dtype))
                counts += [differing(top, want["top" + suffix]),
                           differing(bottom_diff, want["bottom_diff" + suffix])]
            table[name, profile] = tuple(counts)
    return table


def report(table):
    lines = [f"{'case':<20} {'profile':<16} top bottom_diff top64 bottom_diff64"]
    lines += [f"{name:<20} {profile:<16} " + " ".join(str(n) for n in counts)
              for (name, profile), counts in sorted(table.items())]
    print("\n".join(lines))
    return {key: counts for key, counts in table.items() if any(counts)}


def test_every_profile_reproduces_its_build_numpy(refs, builds):
    table = differing_table(refs, builds, backend="numpy")
    assert len(table) == 3 * 24
    assert report(table) == {}


@pytest.mark.kernels
@pytest.mark.skipif(not numba_available(), reason="needs numba (the fast extra)")
@pytest.mark.parametrize("threads", [1, 2])
def test_every_profile_reproduces_its_build_numba(refs, builds, threads):
    assert report(differing_table(refs, builds, backend="numba", threads=threads)) == {}


@pytest.mark.kernels
@pytest.mark.parametrize("backend", ["numpy"] + (["numba"] if numba_available() else []))
def test_every_profile_reproduces_its_build_chunked(refs, builds, backend, monkeypatch):
    # One image per chunk, and on NumPy runs of 2 rows (blocks of 32 then straddle chunks).
    monkeypatch.setattr(lrn_module, "CHUNK_ELEMENTS", 16)
    assert report(differing_table(refs, builds, backend=backend, chunk_images=1)) == {}
    assert report(differing_table(refs, builds, backend=backend)) == {}


def test_the_builds_differ_and_the_profiles_tell_them_apart(refs, builds):
    """The data can fail the test above: the default engine misses the other builds."""
    table = differing_table(refs, builds, backend="numpy")
    cross = {}
    for profile in ("openblas-avx2", "atlas"):
        for name, want in builds[profile].items():
            ours = table[name, profile]
            assert ours == (0, 0, 0, 0)
            default = LRNLayer(_params(refs[name]), backend="numpy")
            top = default.forward(refs[name]["x"])
            cross[profile] = cross.get(profile, 0) + differing(top, want["top"])
    print(cross)
    assert cross["atlas"] > 100 and cross["openblas-avx2"] > 10


def test_row_chunks_count_the_avx2_blocks_from_the_plane_start(monkeypatch):
    # 13 x 13 planes: 169 floats, 5 fused blocks of 32 and 9 rounded twice; cut into runs
    # of 2 rows (26 elements), chunk borders fall inside blocks.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 9, 13, 13)).astype(np.float32) * 4
    params = LRNParams(local_size=5, alpha=7e-3, beta=0.75, k=1.5)
    whole = LRNLayer(params, backend="numpy", profile="openblas-avx2")
    want = whole.forward(x), whole.backward(x[:, ::-1].copy())
    monkeypatch.setattr(lrn_module, "CHUNK_ELEMENTS", 2 * 13 * 9)
    chunked = LRNLayer(params, backend="numpy", profile="openblas-avx2", threads=1)
    got = chunked.forward(x), chunked.backward(x[:, ::-1].copy())
    assert differing(got[0], want[0]) == 0 and differing(got[1], want[1]) == 0
    assert differing(chunked.scale, whole.scale) == 0
    # ... and the profile matters on this input.
    assert differing(LRNLayer(params, backend="numpy").forward(x), want[0]) > 0


# ------------------------------------------------------------------ the primitives
def test_avx2_fuses_whole_blocks_from_the_start_of_each_call():
    # a*x + y with a product that is inexact in float32: fused and unfused differ.
    a = np.float32(1.0 + 2 ** -12)
    x = np.full((2, 5, 7), 1.0 + 2 ** -12, np.float32)  # two calls of 35 elements
    y = np.full_like(x, -1.0)
    fused = axpy(a, x, y.copy())
    twice = axpy(a, x, y.copy(), profile="atlas")
    assert differing(fused, twice) == x.size
    mixed = axpy(a, x, y.copy(), profile="openblas-avx2").reshape(2, 35)
    assert (mixed[:, :32] == fused.reshape(2, 35)[:, :32]).all()
    assert (mixed[:, 32:] == twice.reshape(2, 35)[:, 32:]).all()
    # A piece of a call (rows 1.. of a 5 x 7 plane, 7 elements in): the same placement.
    piece = axpy(a, x[:, 1:], y[:, 1:].copy(), profile="openblas-avx2", plane_size=35,
                 plane_start=7)
    assert differing(piece.reshape(2, 28), mixed[:, 7:]) == 0


def test_axpy_by_a_power_of_two_is_still_one_rounding():
    # 2*x is exact, so its shortcut adds once, except where 2*x overflows and y brings the
    # sum back: the fma's exact product gives 5e307 there, not inf.
    x = np.array([1e308, 3.0, -0.0, 1e-310])
    y = np.array([-1.5e308, 1.0, 0.0, -0.0])
    for profile, first in (("openblas-avx512", 5e307), ("atlas", np.inf)):
        with np.errstate(over="ignore"):  # ATLAS's rounded product overflows
            got = axpy(2.0, x, y.copy(), profile=profile)
        assert got.tolist() == [first, 7.0, 0.0, 2e-310]
        assert not np.signbit(got[2])


def test_fma64_is_correctly_rounded():
    rng = np.random.default_rng(11)
    a = -0.0123456789
    x = rng.standard_normal(4000) * np.exp(rng.uniform(-40, 40, 4000))
    y = -a * x * (1 + rng.standard_normal(4000) * 2.0 ** -rng.integers(20, 60, 4000))
    y[::4] = rng.standard_normal(1000)
    x[:6] = [0.0, -0.0, 1e-310, 1e300, np.inf, np.nan]
    x[6] = 2.0 ** -1000  # a product below the exact split's range
    y[:6] = [-0.0, -0.0, 1e-300, -1e290, 1.0, 1.0]
    got = fma64(a, x, y)
    for xi, yi, gi in zip(x, y, got):
        if not (math.isfinite(xi) and math.isfinite(yi)):
            assert np.isnan(gi) or gi == a * xi + yi
            continue
        exact = Fraction(a) * Fraction(xi) + Fraction(yi)
        want = float(exact) if exact != 0 else a * xi + yi
        assert np.float64(gi).tobytes() == np.float64(want).tobytes(), (xi, yi)
    assert np.count_nonzero(got[6:] != a * x[6:] + y[6:]) > 100  # two roundings would differ


def _c_pow_cases():
    """(x, p, C's pow(x, p)) from the C library itself, special values included."""
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.pow.restype = ctypes.c_double
    libm.pow.argtypes = [ctypes.c_double, ctypes.c_double]
    rng = np.random.default_rng(5)
    x = np.concatenate([[0.0, -0.0, -2.0, -np.inf, np.inf, np.nan, 1e-300, 1e300, 2.0 ** -1074],
                        rng.uniform(0.5, 4.0, 3000)])
    for p in (-0.75, 2.0, 0.5, 3.0, -1.0):
        yield x, p, np.array([libm.pow(float(v), p) for v in x])


needs_libm = pytest.mark.skipif(ctypes.util.find_library("m") is None,
                                reason="needs the C library's libm")


@needs_libm
def test_pow64_is_the_c_librarys_pow():
    for x, p, want in _c_pow_cases():
        assert pow64(x, p).view(np.int64).tolist() == want.view(np.int64).tolist(), p
        # NumPy's own float64 power is not it.
        if p == -0.75:
            assert np.count_nonzero(np.power(x[9:], p) != want[9:]) > 10


@needs_libm
@pytest.mark.kernels
@pytest.mark.skipif(not numba_available(), reason="needs numba (the fast extra)")
def test_compiled_pow64_is_the_c_librarys_pow():
    from caffe_lrn.kernels import libm

    for x, p, want in _c_pow_cases():
        assert libm.pow64(x, p).view(np.int64).tolist() == want.view(np.int64).tolist(), p


# ------------------------------------------------------------------ choosing a profile
def test_names_aliases_and_environment(monkeypatch):
    assert get_profile("reference") is get_profile("netlib") is ATLAS
    assert get_profile("OpenBLAS-Haswell") is OPENBLAS_AVX2
    monkeypatch.delenv(ENV_PROFILE, raising=False)
    assert get_profile(None) is DEFAULT_PROFILE is OPENBLAS_AVX512
    monkeypatch.setenv(ENV_PROFILE, "atlas")
    assert LRNLayer(LRNParams()).profile is ATLAS
    assert LRNLayer.from_text("local_size: 3", profile="openblas-avx2").profile is OPENBLAS_AVX2
    with pytest.raises(ParameterError, match="profile must be one of .* got 'mkl'"):
        LRNLayer(LRNParams(), profile="mkl")
    monkeypatch.setenv(ENV_PROFILE, "bogus")
    with pytest.raises(ParameterError, match=ENV_PROFILE):
        LRNLayer(LRNParams())


def test_groups_of_profiles_that_cannot_differ():
    across, within = LRNParams(), LRNParams(norm_region="WITHIN_CHANNEL")
    assert profile_groups(within, (1, 3, 13, 13), np.float32) == [list(PROFILES)]
    assert profile_groups(across, (1, 3, 3, 3), np.float32) == [
        [OPENBLAS_AVX512], [OPENBLAS_AVX2, ATLAS]]
    assert profile_groups(across, (1, 3, 4, 8), np.float32) == [
        [OPENBLAS_AVX512, OPENBLAS_AVX2], [ATLAS]]
    assert profile_groups(across, (1, 3, 4, 5), np.float64) == [
        [OPENBLAS_AVX512], [OPENBLAS_AVX2], [ATLAS]]


# ------------------------------------------------------------------ verify names the build
@pytest.fixture(autouse=True)
def numpy_engine_for_the_cli(monkeypatch, request):
    """The CLI tests here run the NumPy engine: the kernels' profiles are checked above
    under the kernels marker, and compiling them is not this suite's job."""
    if "kernels" not in request.keywords:
        monkeypatch.setenv("CAFFE_LRN_BACKEND", "numpy")


def _net_and_dump(tmp_path, case, top, name):
    shape = case["x"].shape
    param = _params(case)
    text = (f'name: "{name}"\n'
            f'layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ '
            + " ".join(f"dim: {d}" for d in shape) + " } } }\n"
            f'layer {{ name: "norm" type: "LRN" bottom: "data" top: "norm" lrn_param {{ '
            f"local_size: {param.local_size} alpha: {param.alpha!r} beta: {param.beta!r} "
            f"k: {param.k!r} norm_region: {param.norm_region} }} }}\n")
    net = tmp_path / f"{name}.prototxt"
    net.write_text(text)
    dump = tmp_path / f"{name}.npz"
    np.savez(dump, data=case["x"], norm=top)
    return str(net), str(dump)


def _same_top(builds, name, a, b):
    return differing_values(builds[a][name]["top"], builds[b][name]["top"]) == 0


def test_verify_auto_names_the_build_of_each_dump(tmp_path, refs, builds, capsys):
    """Single-LRN nets with each build's top as the reference: auto passes and names the
    build (or the builds that give the same top); a wrong fixed profile fails."""
    named = {}
    for profile in FILES:
        for name in builds[profile]:
            net, dump = _net_and_dump(tmp_path, refs[name], builds[profile][name]["top"],
                                      f"{name}_{profile}")
            assert main(["verify", net, "--blobs", dump, "--json"]) == 0
            layer = json.loads(capsys.readouterr().out)["runs"][0]["layers"][0]
            matching = layer["profile"]["matching"]
            same = {other for other in FILES if _same_top(builds, name, profile, other)}
            assert matching and set(matching) <= same, (name, profile, matching)
            if DEFAULT_PROFILE.name not in same:
                assert profile in matching  # the dump's own build, found by trying
            if name.startswith("within"):
                assert matching == [p.name for p in PROFILES]
            named[name, profile] = matching
            wrong = [other for other in FILES if other not in same]
            if wrong:
                assert main(["verify", net, "--blobs", dump, "--profile", wrong[0]]) == 1
                out = capsys.readouterr().out
                count = differing_values(builds[wrong[0]][name]["top"],
                                         builds[profile][name]["top"])
                assert f"{count:,} of {refs[name]['x'].size:,} elements differ" in out
    # ATLAS dumps of ACROSS layers are found as such, by words too.
    assert named["across_alexnet", "atlas"] == ["atlas"]
    assert named["across_alexnet", "openblas-avx2"] == ["openblas-avx512", "openblas-avx2"] \
        or named["across_alexnet", "openblas-avx2"] == ["openblas-avx512"]
    net, dump = _net_and_dump(tmp_path, refs["across_default"],
                              builds["atlas"]["across_default"]["top"], "words")
    assert main(["verify", net, "--blobs", dump]) == 0
    out = capsys.readouterr().out
    assert ("Caffe on OpenBLAS with its AVX2 kernels (Haswell to Skylake desktops, AMD Zen), "
            "or Caffe on ATLAS, reference BLAS, or OpenBLAS without AVX2: the dump does not "
            "tell them apart") in out.replace("\n", " ")


def test_verify_within_dump_does_not_tell_builds_apart(tmp_path, refs, builds, capsys):
    net, dump = _net_and_dump(tmp_path, refs["within_cifar"],
                              builds["atlas"]["within_cifar"]["top"], "within")
    assert main(["verify", net, "--blobs", dump]) == 0
    out = capsys.readouterr().out
    assert "any Caffe build: the dump does not tell them apart" in out


def test_verify_reports_the_closest_build_when_none_matches(tmp_path, refs, builds, capsys):
    top = builds["atlas"]["across_alexnet"]["top"].copy()
    top[1, 50, 6, 6] = np.nextafter(top[1, 50, 6, 6], np.float32(np.inf))
    net, dump = _net_and_dump(tmp_path, refs["across_alexnet"], top, "none")
    assert main(["verify", net, "--blobs", dump]) == 1
    out = capsys.readouterr().out
    assert "no build profile gives these bits; closest: atlas" in out
    assert "1 elements differ, at most 1 ULP" in out
    assert main(["verify", net, "--blobs", dump, "--max-ulp", "1", "--json"]) == 0
    layer = json.loads(capsys.readouterr().out)["runs"][0]["layers"][0]
    assert layer["profile"]["compared"] == "atlas" and layer["profile"]["matching"] == []


def test_run_and_verify_take_a_profile(tmp_path, refs, builds, capsys):
    case = refs["across_alexnet"]
    np.save(tmp_path / "x.npy", case["x"].astype(np.float64))
    np.save(tmp_path / "dy.npy", case["top_diff"].astype(np.float64))
    param = _params(case)
    text = f"local_size: {param.local_size} alpha: {param.alpha!r} beta: {param.beta!r}"
    assert main(["run", "--lrn-param", text, "--input", str(tmp_path / "x.npy"),
                 "--top-diff", str(tmp_path / "dy.npy"), "-o", str(tmp_path / "out.npz"),
                 "--profile", "reference"]) == 0
    assert "exact as Caffe on ATLAS" in capsys.readouterr().out
    with np.load(tmp_path / "out.npz") as out:
        assert differing(out["top"], builds["atlas"]["across_alexnet"]["top64"]) == 0
        assert differing(out["bottom_diff"],
                         builds["atlas"]["across_alexnet"]["bottom_diff64"]) == 0
    assert main(["verify", "--example", "--profile", "mkl"]) == 2
    assert "--profile: must be auto or one of openblas-avx512" in capsys.readouterr().err
