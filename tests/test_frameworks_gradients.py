"""The Caffe-order form's gradient in TensorFlow and PyTorch against Caffe's bottom_diff.

bottom_diff = top_diff * scale**(-beta) - (2 alpha beta / n) * x * window_sum(...): the two
terms cancel, so an element's ULP distance says little where the difference is tiny; the
bound is relative to the case's largest |bottom_diff|. Caffe's own bottom_diff comes from
refs.npz (every case whose blobs are all finite); for the bundled nets' dumps, which hold
forward blobs only, it is this project's engine, which reproduces Caffe's bottom_diff bit for
bit on every case of refs.npz (tests/test_lrn_layer.py), from a seeded top_diff.
"""
import numpy as np
import pytest

from caffe_lrn.layers.lrn import lrn_backward
from caffe_lrn.numerics.ulp import ulp_distance
from caffe_lrn.params import LRNParams
from frameworks_data import finite_bottom_diff, need, net_layers

pytestmark = pytest.mark.frameworks
#: |framework - Caffe| <= RELATIVE_BOUND * max |Caffe's bottom_diff|, per case.
RELATIVE_BOUND = 1e-6
NETS = ("alexnet", "caffenet", "cifar10_full")


def caffe_params(case):
    return LRNParams(local_size=int(case["local_size"]), alpha=float(case["alpha"]),
                     beta=float(case["beta"]), k=float(case["k"]),
                     norm_region=str(case["norm_region"]))


def gradient_cases(refs):
    """(name, params, x, top_diff, Caffe's bottom_diff) for every finite refs case and every
    LRN layer of the bundled nets."""
    cases = [(name, caffe_params(case), case["x"], case["top_diff"], case["bottom_diff"])
             for name, case in refs.items() if finite_bottom_diff(case)]
    for net in NETS:
        for layer, bottom, _ in net_layers(net):
            top_diff = np.random.default_rng(9).standard_normal(bottom.shape,
                                                                dtype=np.float32)
            cases.append((f"{net}/{layer.name}", layer.params, bottom, top_diff,
                          lrn_backward(top_diff, bottom, layer.params)))
    return cases


def tf_gradient(params, x, top_diff):
    from caffe_lrn.frameworks.deps import import_tf
    from caffe_lrn.frameworks import tf_ops

    tf = import_tf()
    bottom = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(bottom)
        top = tf_ops.lrn(tf, bottom, params, channel_axis=1)
    return tape.gradient(top, bottom, output_gradients=tf.constant(top_diff)).numpy()


def torch_gradient(params, x, top_diff):
    from caffe_lrn.frameworks import torch as torch_layers

    torch = torch_layers.torch
    bottom = torch.from_numpy(x.copy()).requires_grad_(True)
    torch_layers.lrn(bottom, params).backward(torch.from_numpy(top_diff))
    return bottom.grad.numpy()


@pytest.mark.parametrize("framework", ["tf", "torch"])
def test_gradient_matches_caffes_bottom_diff(refs, framework):
    need(framework)
    gradient = {"tf": tf_gradient, "torch": torch_gradient}[framework]
    cases = gradient_cases(refs)
    assert len(cases) == 20 + 6  # 20 of the 24 refs cases have finite blobs
    worst = {}
    print(f"\n{framework}: case, |diff| / max|bottom_diff| (bound {RELATIVE_BOUND:g}), max ULP")
    for name, params, x, top_diff, expected in cases:
        diff = gradient(params, x, top_diff)
        assert diff.dtype == np.float32 and diff.shape == x.shape
        scale = max(float(np.abs(expected).max()), np.finfo(np.float32).tiny)
        relative = float(np.abs(diff.astype(np.float64) - expected).max()) / scale
        ulp = int(ulp_distance(diff, expected).max())
        worst[name] = relative
        print(f"  {name:24s} {relative:.3g}  {ulp}")
    assert max(worst.values()) <= RELATIVE_BOUND, worst
