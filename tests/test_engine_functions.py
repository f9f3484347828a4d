"""The engine's functional form and the planner every cut of a blob goes through."""
import numpy as np
import pytest

from caffe_lrn import LRNLayer, LRNParams
from caffe_lrn.errors import BlobError, ParameterError
from caffe_lrn.layers.checks import BlobSpec, check_diff, check_top_diff
from caffe_lrn.layers.lrn import lrn_backward, lrn_forward
from caffe_lrn.numerics.ulp import count_differing
from caffe_lrn.parallel import chunks, per_run, runs, tiles
from caffe_lrn.schema import LayerParameter


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
def test_functions_give_the_layers_bits(region):
    rng = np.random.default_rng(11)
    bottom = (rng.standard_normal((3, 5, 4, 6)) * 30).astype(np.float32)
    top_diff = rng.standard_normal(bottom.shape).astype(np.float32)
    params = LRNParams(local_size=3, alpha=2e-2, beta=0.75, norm_region=region, k=2.0)
    layer = LRNLayer(params, backend="numpy", threads=1)
    top = layer.forward(bottom)
    bottom_diff = layer.backward(top_diff)
    assert count_differing(lrn_forward(bottom, params), top) == 0
    assert count_differing(lrn_backward(top_diff, bottom, params), bottom_diff) == 0
    # The functions compute; they do not keep state or touch their inputs.
    assert not np.shares_memory(lrn_forward(bottom, params), bottom)


@pytest.mark.parametrize("shape, axis, budget", [
    ((3, 5, 4, 6), 2, 1000),   # several images a chunk
    ((3, 5, 4, 6), 2, 50),     # rows of one image (ACROSS_CHANNELS)
    ((2, 7, 3, 5), 1, 20),     # channel planes of one image (WITHIN_CHANNEL)
    ((4, 2, 3, 3), 1, 1),      # a budget below one plane: one plane a chunk
])
def test_chunks_cover_every_element_once(shape, axis, budget):
    seen = np.zeros(shape, np.int64)
    pieces = list(chunks(shape, axis, budget))
    for piece in pieces:
        seen[piece] += 1
    assert seen.min() == 1 and seen.max() == 1
    per_image = int(np.prod(shape[1:]))
    if per_image > budget:
        assert len(pieces) > shape[0]
    else:
        assert len(pieces) == -(-shape[0] // per_run(per_image, budget))


def test_runs_tiles_and_fixed_chunks():
    assert list(runs(10, 4)) == [(0, 4), (4, 8), (8, 10)]
    assert list(runs(0, 3)) == []
    assert per_run(7, 20) == 2 and per_run(30, 20) == 1 and per_run(0, 5) == 5
    assert [p[0] for p in chunks((5, 2, 3, 4), 2, 10, chunk_images=2)] == [
        slice(0, 2), slice(2, 4), slice(4, 5)]
    assert tiles(5, 9, threads=2) == [(0, 3, 0, 9), (3, 5, 0, 9)]
    assert tiles(1, 9, threads=2) == [(0, 1, 0, 5), (0, 1, 5, 9)]
    assert tiles(5, 9, threads=2, chunk_images=4) == [(0, 4, 0, 9), (4, 5, 0, 9)]
    assert tiles(0, 9, threads=2) == []


def test_top_diff_check_reads_only_shape_and_dtype():
    top = BlobSpec((2, 3, 4, 5), np.dtype(np.float32))
    big_endian = np.ones(top.shape, ">f4")
    diff = check_diff(big_endian, top)
    assert diff.dtype == np.float32 and diff.dtype.isnative and np.all(diff == 1)
    check_top_diff(BlobSpec(top.shape, np.dtype(">f4")), top)  # a header, no data
    with pytest.raises(BlobError, match=r"top_diff shape \(2, 3, 4\) differs from the top "
                                        r"shape \(2, 3, 4, 5\)"):
        check_top_diff(BlobSpec((2, 3, 4), np.dtype(np.float32)), top)
    with pytest.raises(BlobError, match="top_diff dtype float64 differs from the top dtype "
                                        "float32"):
        check_diff(np.ones(top.shape), top)


def test_params_of_every_form():
    params = LRNParams(local_size=3, alpha=1e-4, norm_region="WITHIN_CHANNEL")
    layer = LayerParameter(name="norm", type="LRN")
    layer.lrn_param.CopyFrom(params.to_proto())
    assert LRNParams.of(params) is params
    assert LRNParams.of(params.to_proto()) == params
    assert LRNParams.of(layer) == params
    with pytest.raises(ParameterError, match="expected LRNParams, an LRNParameter or an LRN "
                                             "LayerParameter, got dict"):
        LRNLayer({"local_size": 3})
