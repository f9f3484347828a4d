"""The bundled example: three BVLC nets with LRN blobs dumped by a real Caffe build.

The files ship inside the package (``caffe_lrn/examples/``) and are located with
``importlib.resources``, so ``caffe-lrn verify --example`` works from any installation.
"""
import contextlib
import importlib.resources
from dataclasses import dataclass

PROVENANCE = (
    "The reference blobs were dumped by BVLC Caffe (commit 9b891540, CPU_ONLY build, "
    "OpenBLAS with its AVX-512 kernels, glibc libm), running each net forward with seeded "
    "random weights on a random input.")


@dataclass(frozen=True)
class Example:
    title: str
    net: str      # file name in caffe_lrn/examples/
    blobs: str
    about: str


EXAMPLES = (
    Example("cifar10_full", "cifar10_full.caffemodel", "cifar10_full_blobs.npz",
            "CIFAR-10 full, batch 2: two WITHIN_CHANNEL LRN layers; the net is read from "
            "the binary .caffemodel Caffe saved"),
    Example("alexnet", "alexnet_deploy.prototxt", "alexnet_blobs.npz",
            "BVLC AlexNet: two ACROSS_CHANNELS LRN layers after the in-place ReLU"),
    Example("caffenet", "caffenet_deploy.prototxt", "caffenet_blobs.npz",
            "BVLC reference CaffeNet: two ACROSS_CHANNELS LRN layers after pooling"),
)


def example_file(name):
    """A Traversable for a file in the bundled examples."""
    return importlib.resources.files("caffe_lrn").joinpath("examples", name)


@contextlib.contextmanager
def example_paths(example):
    """Real file-system paths of an example's net and blobs, for as long as needed."""
    with importlib.resources.as_file(example_file(example.net)) as net, \
            importlib.resources.as_file(example_file(example.blobs)) as blobs:
        yield net, blobs
