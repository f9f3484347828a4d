"""Reading Caffe nets of any vintage: text and binary formats, V0/V1 upgrade, the LRN layers."""
