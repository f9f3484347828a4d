"""The benchmark's cases: seeded, realistic LRN inputs of AlexNet's and cifar10_full's layers.

* A: ACROSS_CHANNELS (32, 96, 55, 55), local_size 5, alpha 1e-4, beta 0.75, k 1 (AlexNet norm1)
* B: ACROSS_CHANNELS (32, 256, 27, 27), same parameters (AlexNet norm2)
* C: WITHIN_CHANNEL (100, 32, 16, 16), local_size 3, alpha 5e-5, beta 0.75 (cifar10_full norm1)

Inputs are float32 ReLU'd Gaussians times 10, as after a conv+ReLU.
"""
from dataclasses import dataclass

import numpy as np

from caffe_lrn.params import LRNParams


@dataclass(frozen=True)
class BenchCase:
    name: str
    title: str
    shape: tuple
    params: LRNParams
    seed: int
    scale: float = 10.0

    def inputs(self):
        """(bottom, top_diff): a ReLU'd Gaussian times ``scale``, and a Gaussian diff."""
        rng = np.random.default_rng(self.seed)
        bottom = rng.standard_normal(self.shape, dtype=np.float32)
        np.maximum(bottom, 0, out=bottom)
        bottom *= np.float32(self.scale)
        top_diff = rng.standard_normal(self.shape, dtype=np.float32)
        return bottom, top_diff

    @property
    def blob_bytes(self):
        return int(np.prod(self.shape)) * 4

    def as_dict(self):
        return {"name": self.name, "title": self.title, "shape": list(self.shape),
                "params": self.params.as_dict(), "seed": self.seed,
                "input": f"max(N(0,1), 0) * {self.scale:g}, float32"}


_ALEXNET = dict(local_size=5, alpha=1e-4, beta=0.75, k=1.0)
_CIFAR = dict(local_size=3, alpha=5e-5, beta=0.75, norm_region="WITHIN_CHANNEL")

FULL_SHAPES = {"A": (32, 96, 55, 55), "B": (32, 256, 27, 27), "C": (100, 32, 16, 16)}
#: ``--quick``: the same layers on small, non-square shapes (a smoke run, not a measurement).
QUICK_SHAPES = {"A": (2, 12, 7, 5), "B": (3, 16, 5, 4), "C": (4, 6, 9, 7)}
_CASE_DEFS = {
    "A": ("AlexNet norm1, ACROSS_CHANNELS", _ALEXNET, 1),
    "B": ("AlexNet norm2, ACROSS_CHANNELS", _ALEXNET, 2),
    "C": ("cifar10_full norm1, WITHIN_CHANNEL", _CIFAR, 3),
}
CASE_NAMES = tuple(_CASE_DEFS)


def make_case(name, quick=False):
    title, params, seed = _CASE_DEFS[name]
    shape = (QUICK_SHAPES if quick else FULL_SHAPES)[name]
    return BenchCase(name, title, shape, LRNParams(**params), seed)
