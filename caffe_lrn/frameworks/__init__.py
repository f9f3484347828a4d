"""Caffe's LRN as a layer of other frameworks, and the one home of each framework form.

* :mod:`caffe_lrn.frameworks.keras`: ``CaffeLRN``, a serialisable Keras 3 layer;
* :mod:`caffe_lrn.frameworks.torch`: ``CaffeLRN``, a ``torch.nn.Module``, and the torch ops;
* :mod:`caffe_lrn.frameworks.onnx`: ONNX graphs of a layer and models of a net's LRN layers;
* :mod:`caffe_lrn.frameworks.tf_ops`: the TensorFlow ops the Keras layer and the runners use;
* :mod:`caffe_lrn.frameworks.forms`: the options every layer accepts (form, data_format);
* :mod:`caffe_lrn.frameworks.deps`: importing a framework, or naming the extra to install.

Each framework is imported only by the module that needs it, when that module is imported:
importing this package (or caffe-lrn's core) imports no framework.
"""
