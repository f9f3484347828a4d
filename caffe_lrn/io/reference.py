"""Reading reference blobs: dumped activations keyed by Caffe blob name.

A reference (``REF``) is one of:

- an ``.npz`` archive whose keys are Caffe blob names (members read only when used, a run of
  images at a time: :mod:`caffe_lrn.io.lazy`);
- a directory of ``.npy`` files, one per blob, named ``<escaped-name>.npy`` (read a run of
  images at a time from the file, so a blob larger than memory is checked in pieces);
- a directory of Caffe ``.binaryproto`` files, one ``BlobProto`` per blob, named
  ``<escaped-name>.binaryproto`` (``data`` or ``double_data``; the shape from ``shape`` or
  from the legacy ``num``/``channels``/``height``/``width`` fields);
- a single ``.npy`` or ``.binaryproto`` file is refused: it carries no blob name.

Blob names may hold characters a file name cannot: GoogLeNet's ``pool1/norm1``. Names are
escaped in file names (and may be escaped in npz keys) by percent-encoding exactly two
characters: ``%`` as ``%25`` and ``/`` as ``%2F`` (``%2f`` is read too). Any other ``%``
sequence is kept literally. ``pool1/norm1`` is stored as ``pool1%2Fnorm1.npy``.
"""
import math
import pathlib
import re

import numpy as np
from google.protobuf.message import DecodeError

from caffe_lrn.errors import BlobError, InputFileError
from caffe_lrn.io.files import check_array_header, read_input
from caffe_lrn.io.lazy import open_npy, open_npz
from caffe_lrn.schema import BlobProto

NPY_SUFFIX = ".npy"
BINARYPROTO_SUFFIX = ".binaryproto"
_ESCAPE_RE = re.compile(r"%(25|2[fF])")


def escape_name(name):
    """The file-name form of a Caffe blob name: ``%`` → ``%25``, ``/`` → ``%2F``."""
    return name.replace("%", "%25").replace("/", "%2F")


def unescape_name(text):
    """Inverse of :func:`escape_name` (one left-to-right pass; other ``%`` kept as is)."""
    return _ESCAPE_RE.sub(lambda m: "%" if m.group(1) == "25" else "/", text)


def blob_from_proto(proto, source="BlobProto"):
    """A NumPy array from a ``caffe_pb2.BlobProto``.

    ``double_data`` gives float64, ``data`` float32. The shape is ``shape.dim`` when set,
    else the legacy 4-D ``(num, channels, height, width)``. The element count must match.
    """
    if proto.HasField("shape"):
        shape = tuple(proto.shape.dim)
    elif any(proto.HasField(f) for f in ("num", "channels", "height", "width")):
        shape = (proto.num, proto.channels, proto.height, proto.width)
    else:
        shape = None
    if len(proto.double_data) and len(proto.data):
        raise BlobError(f"{source}: holds both data ({len(proto.data)} values) and "
                        f"double_data ({len(proto.double_data)} values); expected one")
    if len(proto.double_data):
        values = np.array(proto.double_data, dtype=np.float64)
    else:
        values = np.array(proto.data, dtype=np.float32)
    if shape is None:
        shape = (values.size,)
    check_array_header(shape, values.dtype, None, source, error=BlobError)
    count = math.prod(shape)  # Python ints: huge dimensions cannot wrap around
    if count != values.size:
        raise BlobError(f"{source}: shape {shape} needs {count} values, "
                        f"but the blob holds {values.size}")
    return values.reshape(shape)


def blob_to_proto(array, legacy_shape=False):
    """A ``caffe_pb2.BlobProto`` holding ``array`` (float64 as ``double_data``)."""
    array = np.asarray(array)
    proto = BlobProto()
    if legacy_shape:
        if array.ndim != 4:
            raise BlobError(f"the legacy num/channels/height/width shape needs 4 axes, "
                            f"but shape is {array.shape}")
        proto.num, proto.channels, proto.height, proto.width = (int(d) for d in array.shape)
    else:
        proto.shape.dim.extend(int(d) for d in array.shape)
    if array.dtype == np.float64:
        proto.double_data.extend(array.ravel().tolist())
    else:
        proto.data.extend(array.astype(np.float32).ravel().tolist())
    return proto


def read_binaryproto(path):
    """Read one ``.binaryproto`` file (a serialized ``BlobProto``) as an array."""
    path = pathlib.Path(path)
    data = read_input(path, ".binaryproto blob", why=" (protobuf messages are limited to 2 GiB)")
    proto = BlobProto()
    try:
        proto.ParseFromString(data)
    except DecodeError as exc:
        raise InputFileError(f"{path}: not a Caffe BlobProto ({exc})") from None
    return blob_from_proto(proto, source=str(path))


class BlobStore:
    """Reference blobs by Caffe name; arrays are read when asked for.

    ``names`` lists the Caffe blob names (unescaped) in sorted order; ``get(name)`` returns the
    array (memory-mapped for ``.npy`` directories); ``kind`` is ``"npz"``, ``"npy-dir"`` or
    ``"binaryproto-dir"``.
    """

    def __init__(self, path, kind, loaders):
        self.path = pathlib.Path(path)
        self.kind = kind
        self._loaders = loaders  # Caffe name -> zero-argument function returning the array
        self._cache = {}

    @property
    def names(self):
        return sorted(self._loaders)

    def __contains__(self, name):
        return name in self._loaders

    def __len__(self):
        return len(self._loaders)

    def get(self, name):
        if name not in self._loaders:
            raise BlobError(f"{self.path} has no blob {name!r}; it has {self.describe_names()}")
        if name not in self._cache:
            self._cache[name] = self._loaders[name]()
        return self._cache[name]

    def describe_names(self, limit=12):
        names = self.names
        if not names:
            return "no blobs"
        shown = ", ".join(names[:limit])
        more = f", ... ({len(names)} in all)" if len(names) > limit else ""
        return shown + more


def _add(loaders, origins, name, origin, load, path):
    if name in loaders:
        raise InputFileError(f"{path}: blob {name!r} is given twice ({origins[name]} and "
                             f"{origin}); keep one")
    loaders[name] = load
    origins[name] = origin


def open_blobs(path):
    """Open a reference: an ``.npz``, or a directory of ``.npy`` / ``.binaryproto`` files."""
    path = pathlib.Path(path)
    loaders, origins = {}, {}
    if path.is_dir():
        kinds = set()
        for entry in sorted(path.iterdir()):
            if not entry.is_file():
                continue
            if entry.name.endswith(NPY_SUFFIX):
                kind, stem = "npy-dir", entry.name[:-len(NPY_SUFFIX)]
                load = (lambda e=entry: open_npy(e))
            elif entry.name.endswith(BINARYPROTO_SUFFIX):
                kind, stem = "binaryproto-dir", entry.name[:-len(BINARYPROTO_SUFFIX)]
                load = (lambda e=entry: read_binaryproto(e))
            else:
                continue
            kinds.add(kind)
            _add(loaders, origins, unescape_name(stem), entry.name, load, path)
        if not loaders:
            raise InputFileError(f"{path}: directory holds no .npy or .binaryproto blobs")
        kind = kinds.pop() if len(kinds) == 1 else "mixed-dir"
        return BlobStore(path, kind, loaders)
    if not path.exists():
        raise InputFileError(f"{path}: no such file or directory")
    if path.suffix in (NPY_SUFFIX, BINARYPROTO_SUFFIX):
        raise InputFileError(
            f"{path}: a single {path.suffix} file has no blob names; put one file per blob in "
            f"a directory (named <blob>{path.suffix}, '/' escaped as %2F) or use an .npz")
    for key, blob in open_npz(path).items():  # headers only: members are read when used
        _add(loaders, origins, unescape_name(key), f"key {key!r}",
             (lambda b=blob: b), path)
    return BlobStore(path, "npz", loaders)
