"""Verifying many dumps in one run, and runs of images checked on several threads."""
import json
import re

import numpy as np
import pytest

from caffe_lrn import LRNLayer, LRNParams
from caffe_lrn.cli import main
from caffe_lrn.errors import InputFileError
from caffe_lrn.io.stream import FIXED_OVERHEAD
from caffe_lrn.progress import Progress
from caffe_lrn.verify.check import compare_runs
from caffe_lrn.verify.dumps import MIN_RUN_MEMORY, expand_references, files_at_once, \
    verify_dumps

SHAPE = (3, 7, 5, 4)  # N != C != H != W
NET = """
name: "TwoNorms"
layer { name: "data" type: "Input" top: "data"
        input_param { shape { dim: 3 dim: 7 dim: 5 dim: 4 } } }
layer { name: "norm1" type: "LRN" bottom: "data" top: "norm1"
        lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } }
layer { name: "norm2" type: "LRN" bottom: "norm1" top: "norm2"
        lrn_param { local_size: 3 alpha: 0.00005 beta: 0.75 norm_region: WITHIN_CHANNEL } }
"""
NORM1 = LRNParams(local_size=5, alpha=1e-4, beta=0.75)
NORM2 = LRNParams(local_size=3, alpha=5e-5, beta=0.75, norm_region="WITHIN_CHANNEL")
PERTURBED = (1, 4, 2, 3)


def _dump(seed):
    data = np.random.default_rng(seed).standard_normal(SHAPE).astype(np.float32) * 10
    norm1 = LRNLayer(NORM1, threads=1).forward(data)
    return {"data": data, "norm1": norm1, "norm2": LRNLayer(NORM2, threads=1).forward(norm1)}


@pytest.fixture()
def dumps(tmp_path):
    """Three batches of a dump; in batch_1 one element of norm2 is 3 ULP off."""
    (tmp_path / "net.prototxt").write_text(NET)
    folder = tmp_path / "dumps"
    folder.mkdir()
    for batch in range(3):
        arrays = _dump(batch)
        if batch == 1:
            top = arrays["norm2"]
            for _ in range(3):
                top[PERTURBED] = np.nextafter(top[PERTURBED], np.float32(np.inf))
        np.savez(folder / f"batch_{batch}.npz", **arrays)
    return tmp_path


def _without_seconds(document):
    text = json.dumps(document)
    return json.loads(re.sub(r'"seconds": [0-9.e-]+', '"seconds": 0', text))


def test_three_dumps_one_perturbed_names_file_layer_and_element(dumps, capsys):
    net = str(dumps / "net.prototxt")
    code = main(["verify", net, "--blobs", str(dumps / "dumps")])
    out = capsys.readouterr().out
    assert code == 1
    assert out.count("reference: ") == 3
    assert "all 3 dumps:" in out
    assert (f"worst of all: {dumps / 'dumps' / 'batch_1.npz'}, layer norm2, (n, c, h, w) = "
            f"(1,4,2,3)") in out
    assert "3 ULP" in out
    assert re.search(r"FAIL: 1 failed of 6 LRN layers \(2,520 elements compared, "
                     r"1 differing\)", out)

    code = main(["verify", net, "--blobs", str(dumps / "dumps"), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [run["blobs"] for run in document["runs"]] == [
        str(dumps / "dumps" / f"batch_{b}.npz") for b in range(3)]
    assert [run["passed"] for run in document["runs"]] == [True, False, True]
    summary = document["summary"]
    assert (summary["runs"], summary["files"], summary["layers"], summary["compared"],
            summary["differing"]) == (3, 3, 6, 6 * 420, 1)
    assert summary["worst"]["blobs"] == str(dumps / "dumps" / "batch_1.npz")
    assert (summary["worst"]["layer"], summary["worst"]["index"], summary["worst"]["ulp"]) \
        == ("norm2", list(PERTURBED), 3.0)
    assert [(t["layer"], t["runs"], t["compared"], t["differing"], t["failed"], t["max_ulp"])
            for t in summary["per_layer"]] == [("norm1", 3, 1260, 0, 0, 0.0),
                                               ("norm2", 3, 1260, 1, 1, 3.0)]


def test_glob_list_and_directory_name_the_same_dumps(dumps, capsys):
    net = str(dumps / "net.prototxt")
    folder = dumps / "dumps"
    documents = []
    for blobs in ([str(folder)], [str(folder / "batch_*.npz")],
                  [str(folder / f"batch_{b}.npz") for b in range(3)]):
        assert main(["verify", net, "--blobs", *blobs, "--json", "--threads", "2"]) == 1
        documents.append(_without_seconds(json.loads(capsys.readouterr().out)))
    assert documents[0] == documents[1] == documents[2]


def test_many_dumps_on_one_thread_and_two_give_the_same_report(dumps):
    from caffe_lrn import load_net

    net = load_net(dumps / "net.prototxt")
    paths = expand_references([dumps / "dumps"])
    reports = [verify_dumps(net, paths, threads=threads, max_memory=max_memory)
               for threads, max_memory in ((1, 512 * 2**20), (2, 4 * 2**30))]
    from caffe_lrn.verify.report import to_json
    one, two = (_without_seconds(to_json(r)) for r in reports)
    assert one == two


def test_runs_on_threads_merge_to_the_one_thread_comparison():
    bottom = np.random.default_rng(5).standard_normal((9, 6, 5, 3)).astype(np.float32)
    top = LRNLayer(NORM1, threads=1).forward(bottom)
    top[6, 2, 4, 0] = np.nextafter(top[6, 2, 4, 0], np.float32(0))
    top[2, 5, 0, 1] = -top[2, 5, 0, 1]
    one = compare_runs(NORM1, bottom, top, chunk_elements=90, threads=1)
    for threads in (2, 3):
        many = compare_runs(NORM1, bottom, top, chunk_elements=90, threads=threads)
        assert many.as_dict() == one.as_dict()
        assert many.channel_max_ulp.tolist() == one.channel_max_ulp.tolist()
    assert one.differing == 2 and one.worst_index == (2, 5, 0, 1)


def test_progress_counts_files_and_bytes(dumps):
    from caffe_lrn import load_net

    bars = []

    def factory(total, label, count):
        bars.append(Progress(total, label, enabled=False))
        return bars[-1]

    paths = expand_references([dumps / "dumps" / "batch_*.npz"])
    verify_dumps(load_net(dumps / "net.prototxt"), paths, threads=1, progress_factory=factory)
    total = sum(path.stat().st_size for path in paths)
    assert bars[0].total == total and bars[0].done == total
    assert re.search(r": 3/3 files, [0-9.]+ KB of [0-9.]+ KB$", bars[0].label)


def test_files_at_once_fit_the_budget(tmp_path):
    paths = []
    for index in range(4):
        path = tmp_path / f"d{index}.npz"
        path.write_bytes(b"x" * 1000)
        paths.append(path)
    room = FIXED_OVERHEAD + 2 * (1000 + MIN_RUN_MEMORY)
    assert files_at_once(paths, threads=8, max_memory=room) == 2
    assert files_at_once(paths, threads=8, max_memory=room - 1) == 1
    assert files_at_once(paths, threads=3, max_memory=100 * room) == 3
    assert files_at_once(paths[:1], threads=8, max_memory=100 * room) == 1


def test_a_pattern_matching_nothing_is_one_line_error(dumps, capsys):
    code = main(["verify", str(dumps / "net.prototxt"), "--blobs",
                 str(dumps / "dumps" / "nothing_*.npz")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("caffe-lrn: error: ") and "no file matches" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(InputFileError, match="no .npz dumps"):
        expand_references([dumps])  # holds net.prototxt and a folder, no dump
