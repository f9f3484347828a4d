"""Caffe layers, one per module: LRN and the four layers of its WITHIN_CHANNEL pipeline.

Each module holds a function for the math and a thin class for the layer's lifecycle
(built from parameters and validated at construction, then ``forward`` and ``backward``).
"""
from caffe_lrn.layers.eltwise import EltwiseLayer
from caffe_lrn.layers.lrn import LRNLayer
from caffe_lrn.layers.pooling import PoolingLayer
from caffe_lrn.layers.power import PowerLayer
from caffe_lrn.layers.split import SplitLayer

__all__ = ["LRNLayer", "SplitLayer", "PowerLayer", "PoolingLayer", "EltwiseLayer"]
