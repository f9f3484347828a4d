"""Pairing each Caffe LRN layer with the converted operation that stands for it.

First by name: converters keep the layer name (caffe2onnx, MMdnn, ncnn, OpenVINO) or the top
blob's name, or nest it in a scope (``norm1/LRN``, ``model/norm1/LocalResponseNorm``); names
are compared case-insensitively with every character other than a letter or a digit read as
``_``, whole and per ``/``-separated part. Then by order and shape: the Caffe layers left, in
net order, take the converted operations left, in graph order, skipping an operation whose
channel count is known and differs (unless its input is the Caffe bottom in another
layout, which the layout rule reports). What is left on either side is reported as unmatched.
"""
import itertools
import re
from dataclasses import dataclass

BY_NAME = "name"
BY_ORDER = "order"


@dataclass
class Pair:
    """A Caffe layer (``LRNLayerInfo``, or None) and a converted op (or None); ``how``:
    "name", "order", or None when one side is missing."""

    layer: object
    op: object
    how: str = None


def _norm(text):
    return re.sub(r"[^0-9a-z]", "_", text.lower())


def _keys(op):
    keys = set()
    for name in op.names:
        if not name:
            continue
        keys.add(_norm(name))
        for part in re.split(r"[/:;]", name):
            if part:
                keys.add(_norm(part))
    return keys


def _channels(layer_shape, op):
    """(Caffe channels, op channels) when both are known, else None."""
    shape = op.caffe_shape
    if layer_shape is None or shape is None:
        return None
    if sorted(op.input_shape) == sorted(layer_shape):
        return None  # the same blob in another layout: wrong-axis tells, not the matching
    return layer_shape[1], shape[1]


def match(layers, ops, shapes=None):
    """Pairs in Caffe net order, then the converted ops no layer took, in graph order.

    ``shapes``: Caffe bottom shape per layer name, when known.
    """
    shapes = shapes or {}
    taken = {}
    used = set()
    for layer in layers:
        wanted = {_norm(layer.name), _norm(layer.top)}
        for position, op in enumerate(ops):
            if position not in used and wanted & _keys(op):
                taken[layer.name] = (position, BY_NAME)
                used.add(position)
                break
    for layer in layers:
        if layer.name in taken:
            continue
        for position, op in enumerate(ops):
            if position in used:
                continue
            channels = _channels(shapes.get(layer.name), op)
            if channels is not None and channels[0] != channels[1]:
                continue
            taken[layer.name] = (position, BY_ORDER)
            used.add(position)
            break
    pairs = []
    for layer in layers:
        if layer.name in taken:
            position, how = taken[layer.name]
            pairs.append(Pair(layer, ops[position], how))
        else:
            pairs.append(Pair(layer, None, None))
    for position, op in enumerate(ops):
        if position not in used:
            pairs.append(Pair(None, op, None))
    return pairs


def refine_perm(op, caffe_shape):
    """Read the operation's layout from shapes when both are known and unambiguous.

    If exactly one permutation of Caffe's NCHW bottom shape gives the operation's input
    shape (always so when N, C, H and W differ), that is the layout the operation sees,
    whatever the format's default; a note says when it is not the assumed one.
    """
    if caffe_shape is None or op.input_shape is None or len(op.input_shape) != 4:
        return
    fits = [perm for perm in itertools.permutations(range(4))
            if tuple(caffe_shape[p] for p in perm) == tuple(op.input_shape)]
    if len(fits) == 1 and fits[0] != tuple(op.perm):
        op.notes.append(f"its input has shape {list(op.input_shape)}: Caffe's NCHW bottom "
                        f"{list(caffe_shape)} in axis order {list(fits[0])}, not the "
                        f"assumed {list(op.perm)}")
        op.perm = fits[0]
