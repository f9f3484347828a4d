"""Reading a converted model's bytes: one size limit and one set of messages for every format.

The ncnn magic number lives here too: format detection and the ncnn reader both need it.
"""
import pathlib

from caffe_lrn.errors import ConvertedModelError

NCNN_MAGIC = b"7767517"
# Reading more than this from a model file is refused: protobuf itself stops at 2 GiB.
MAX_MODEL_BYTES = 2**31 - 1


def read_model_bytes(path):
    """The bytes of the model file at ``path``, or a ConvertedModelError saying why not."""
    path = pathlib.Path(path)
    if not path.exists():
        raise ConvertedModelError(f"{path}: no such file or directory")
    if path.is_dir():
        raise ConvertedModelError(f"{path}: is a directory but not a TF SavedModel (no "
                                  "saved_model.pb in it)")
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ConvertedModelError(f"{path}: {size} bytes exceeds the {MAX_MODEL_BYTES}-byte "
                                  "limit of a protobuf model")
    if size == 0:
        raise ConvertedModelError(f"{path}: file is empty, not a model")
    return path.read_bytes()
