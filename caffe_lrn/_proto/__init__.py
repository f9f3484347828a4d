"""Generated protobuf code lives here, built from proto/caffe.proto at install time.

Import it only through :mod:`caffe_lrn.schema`.
"""
