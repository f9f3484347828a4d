"""caffe-lrn run, called through main([...]): bit for bit with Caffe, and its refusals."""
import numpy as np
import pytest

from caffe_lrn.cli import main
from caffe_lrn.numerics.ulp import count_differing
from conftest import REFERENCE
from test_lrn_layer import CASE_NAMES, NET_CASES

PROTOTXT = REFERENCE / "prototxt"


def shortest(value):
    return np.format_float_scientific(np.float32(value), unique=True)


def lrn_param_text(case):
    return (f"local_size: {int(case['local_size'])} alpha: {shortest(case['alpha'])} "
            f"beta: {shortest(case['beta'])} k: {shortest(case['k'])} "
            f"norm_region: {case['norm_region']}")


@pytest.fixture
def blobs(tmp_path):
    def save(name, array):
        path = tmp_path / name
        np.save(path, array)
        return path
    return save


def run(argv, capsys):
    code = main(["run"] + [str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_every_case_bit_for_bit_through_lrn_param(refs, blobs, tmp_path, capsys):
    counts = {}
    for name in CASE_NAMES:
        case = refs[name]
        x = blobs(f"{name}_x.npy", case["x"])
        dy = blobs(f"{name}_dy.npy", case["top_diff"])
        out = tmp_path / f"{name}_out.npz"
        code, stdout, err = run(["--lrn-param", lrn_param_text(case), "--input", x,
                                 "--top-diff", dy, "-o", out], capsys)
        assert (code, err) == (0, ""), err
        assert str(out) in stdout
        with np.load(out) as result:
            assert sorted(result.files) == ["bottom_diff", "top"]
            counts[name] = (count_differing(result["top"], case["top"]),
                            count_differing(result["bottom_diff"], case["bottom_diff"]))
    assert all(pair == (0, 0) for pair in counts.values()), counts


@pytest.mark.parametrize("name", sorted(NET_CASES))
def test_net_layer_by_name_matches_caffe_net_outputs(refs, net_outputs, blobs, tmp_path,
                                                    capsys, name):
    x = blobs("x.npy", refs[name]["x"])
    dy = blobs("dy.npy", refs[name]["top_diff"])
    out = tmp_path / "out.npz"
    code, stdout, err = run([PROTOTXT / f"{name}.prototxt", "--layer", NET_CASES[name],
                             "--input", x, "--top-diff", dy, "-o", out], capsys)
    assert (code, err) == (0, "")
    with np.load(out) as result:
        assert count_differing(result["top"], net_outputs[f"{name}__top_net"]) == 0
        assert count_differing(result["bottom_diff"],
                               net_outputs[f"{name}__bottom_diff_net"]) == 0


def test_forward_only_and_float64_keep_the_dtype(refs, blobs, tmp_path, capsys):
    x64 = refs["across_k2"]["x"].astype(np.float64)
    out = tmp_path / "out.npz"
    code, _, err = run(["--lrn-param", "local_size: 3 alpha: 0.0002 k: 2",
                        "--input", blobs("x.npy", x64), "-o", out], capsys)
    assert (code, err) == (0, "")
    with np.load(out) as result:
        assert result.files == ["top"]
        assert result["top"].dtype == np.float64
        np.testing.assert_allclose(result["top"], refs["across_k2"]["top"], rtol=1e-6)


def test_existing_output_is_kept_without_force(refs, blobs, tmp_path, capsys):
    x = blobs("x.npy", refs["across_default"]["x"])
    out = tmp_path / "out.npz"
    out.write_bytes(b"precious")
    code, _, err = run(["--lrn-param", "local_size: 5", "--input", x, "-o", out], capsys)
    assert code == 1 and "exists" in err and "--force" in err
    assert out.read_bytes() == b"precious"
    code, _, err = run(["--lrn-param", "local_size: 5", "--input", x, "-o", out, "--force"],
                       capsys)
    assert code == 0
    with np.load(out) as result:
        assert count_differing(result["top"], refs["across_default"]["top"]) == 0


def test_chunk_option_gives_the_same_bits(refs, blobs, tmp_path, capsys):
    case = refs["within_cifar"]
    x, dy = blobs("x.npy", case["x"]), blobs("dy.npy", case["top_diff"])
    out = tmp_path / "out.npz"
    code, _, _ = run(["--lrn-param", lrn_param_text(case), "--input", x, "--top-diff", dy,
                      "-o", out, "--chunk", "1"], capsys)
    assert code == 0
    with np.load(out) as result:
        assert count_differing(result["bottom_diff"], case["bottom_diff"]) == 0


def test_fast_threads_and_backend_options(refs, blobs, tmp_path, capsys):
    from caffe_lrn.numerics.ulp import ulp_distance

    case = refs["across_alexnet"]
    x, dy = blobs("x.npy", case["x"]), blobs("dy.npy", case["top_diff"])
    fast_out, exact_out = tmp_path / "fast.npz", tmp_path / "exact.npz"
    code, stdout, err = run(["--lrn-param", lrn_param_text(case), "--input", x, "--top-diff",
                             dy, "-o", fast_out, "--fast"], capsys)
    assert (code, err) == (0, "") and "fast mode" in stdout
    code, stdout, err = run(["--lrn-param", lrn_param_text(case), "--input", x, "--top-diff",
                             dy, "-o", exact_out, "--threads", "2", "--backend", "numpy"],
                            capsys)
    assert (code, err) == (0, "") and "exact" in stdout
    with np.load(fast_out) as fast, np.load(exact_out) as exact:
        assert count_differing(exact["top"], case["top"]) == 0
        assert count_differing(exact["bottom_diff"], case["bottom_diff"]) == 0
        assert ulp_distance(fast["top"], case["top"]).max() <= 2


@pytest.mark.parametrize("argv, message", [
    (["--input", "x.npy", "-o", "o.npz"], "give NET --layer NAME, or --lrn-param TEXT"),
    ([str(PROTOTXT / "across_default.prototxt"), "--input", "x.npy", "-o", "o.npz"],
     "give NET --layer NAME"),
    ([str(PROTOTXT / "across_default.prototxt"), "--layer", "lrn", "--lrn-param",
      "local_size: 3", "--input", "x.npy", "-o", "o.npz"], "not both"),
    (["--lrn-param", "local_size: 3", "--input", "x.npy", "-o", "o.npz", "--chunk", "0"],
     "--chunk"),
    (["--lrn-param", "local_size: 3", "-o", "o.npz"], "--input"),
    (["--lrn-param", "local_size: 3", "--input", "x.npy", "-o", "o.npz", "--threads", "0"],
     "--threads must be at least 1, got 0"),
    (["--lrn-param", "local_size: 3", "--input", "x.npy", "-o", "o.npz", "--backend", "gpu"],
     "invalid choice: 'gpu'"),
])
def test_usage_errors_exit_2(argv, message, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2 and message in err


def test_input_errors_exit_1_with_one_line(refs, blobs, tmp_path, capsys):
    good = blobs("x.npy", refs["across_default"]["x"])
    out = tmp_path / "out.npz"
    problems = [
        (["--lrn-param", "local_size: 4", "--input", good, "-o", out],
         "LRN only supports odd values for local_size"),
        (["--lrn-param", "local_size: 3 bogus: 1", "--input", good, "-o", out], "bogus"),
        (["--lrn-param", "local_size: 3", "--input", tmp_path / "missing.npy", "-o", out],
         "missing.npy"),
        (["--lrn-param", "local_size: 3", "--input", blobs("x3.npy", np.zeros((2, 7, 3),
                                                                              np.float32)),
          "-o", out], "Input must have 4 axes"),
        (["--lrn-param", "local_size: 3", "--input", blobs("xi.npy", np.zeros((1, 2, 3, 4),
                                                                              np.int32)),
          "-o", out], "int32"),
        (["--lrn-param", "local_size: 3", "--input", good, "--top-diff",
          blobs("dy.npy", np.zeros((2, 7, 3, 4), np.float32)), "-o", out], "shape"),
        ([PROTOTXT / "across_default.prototxt", "--layer", "nope", "--input", good, "-o", out],
         "no LRN layer named 'nope'; LRN layers: 'lrn'"),
        ([PROTOTXT / "across_default.prototxt", "--layer", "data", "--input", good, "-o", out],
         "type 'Input'"),
        ([PROTOTXT / "bad_even_size.prototxt", "--layer", "lrn", "--input", good, "-o", out],
         "odd values for local_size"),
        (["--lrn-param", "local_size: 3", "--input", good, "-o", tmp_path / "no" / "o.npz"],
         "does not exist"),
    ]
    for argv, message in problems:
        code, _, err = run(argv, capsys)
        assert code == 1, (argv, err)
        assert err.startswith("caffe-lrn: error: ") and err.count("\n") == 1, err
        assert message in err, (message, err)
        assert not out.exists()
