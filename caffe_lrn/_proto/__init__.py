"""The compiled schema lives here: ``caffe.desc``, built from proto/caffe.proto at install time.

Load it only through :mod:`caffe_lrn.schema`.
"""
