"""Reference blobs read from their files a run of images at a time, never whole.

Opening an ``.npz`` reads only each member's ``.npy`` header (every header is checked as a
``.npy`` file's is), never its data; a blob's images are read when :func:`read_images` asks
for them, so an unused member costs nothing and a used one never sits in memory whole.
An ``.npy`` file (:func:`open_npy`) is read the same way, from its images' byte offset, and
is not memory-mapped: a map needs address space for the whole file, which a process under
a memory limit (``ulimit -v``) smaller than the blob does not have.

- a stored (uncompressed) member is read straight from the file at its images' byte offset
  (the zip local header gives where its data starts), as a memory-mapped ``.npy`` is;
- a compressed member is streamed through zlib from the archive; a run of images decompresses
  only up to its end (verify reads runs in order, so a blob is decompressed once);
- a Fortran-ordered member (whose images are not contiguous) is read whole when asked for.
"""
import os
import pathlib
import struct
import zipfile

import numpy as np

from caffe_lrn.errors import InputFileError
from caffe_lrn.io.files import (
    NPY_MAGIC, ZIP_ERRORS, _magic, _read_npy_header, check_array_header, check_member,
    check_npz_file, load_npy, npz_members, open_regular,
)

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra length


class LazyBlob:
    """One ``.npy`` file, or ``.npy`` member of an ``.npz`` (``member``): ``shape``, ``dtype``,
    ``ndim``, ``size`` from its header; ``read_images(start, stop)`` reads images
    ``start:stop`` as a new array."""

    def __init__(self, path, member, where, shape, dtype, fortran, data_offset=None):
        self.path = path
        self.member = member
        self.where = where
        self.shape = tuple(int(d) for d in shape)
        self.dtype = dtype
        self.fortran = fortran
        self.data_offset = data_offset  # absolute file offset of a stored member's data
        self._stream = None  # (zip archive, open member, bytes of data consumed)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self):
        return self.shape[0] if self.shape else 0

    def _image_bytes(self):
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def read_images(self, start, stop):
        shape = (stop - start,) + self.shape[1:]
        try:
            if self.fortran or not self.shape or self.data_offset is None and \
                    self.member is None:
                return np.array(self._read_whole()[start:stop])
            count = int(np.prod(shape, dtype=np.int64))
            if count == 0:
                return np.empty(shape, dtype=self.dtype)
            if self.data_offset is not None:
                offset = self.data_offset + start * self._image_bytes()
                return np.fromfile(self.path, dtype=self.dtype, count=count,
                                   offset=offset).reshape(shape)
            data = self._stream_bytes(start * self._image_bytes(), count * self.dtype.itemsize)
            return np.frombuffer(data, dtype=self.dtype).reshape(shape).copy()
        except InputFileError:
            raise
        except ZIP_ERRORS as exc:
            raise InputFileError(f"{self.where}: cannot read ({type(exc).__name__}: {exc})") \
                from None

    def _open_member(self):
        self.close()
        archive = zipfile.ZipFile(self.path)
        handle = archive.open(self.member)
        _read_npy_header(handle, self.where)
        self._stream = [archive, handle, 0]

    def _stream_bytes(self, offset, length):
        if self._stream is None or self._stream[2] > offset:
            self._open_member()
        _, handle, position = self._stream
        while position < offset:  # skip forward, decompressing in bounded pieces
            skipped = len(handle.read(min(offset - position, 1 << 20)))
            if not skipped:
                break
            position += skipped
        data = handle.read(length)
        self._stream[2] = position + len(data)
        if len(data) != length:
            raise InputFileError(f"{self.where}: truncated member")
        return data

    def _read_whole(self):
        if self.member is None:
            return load_npy(self.path, mmap=True)  # Fortran order: sliced from a map
        with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as handle:
            return np.lib.format.read_array(handle, allow_pickle=False)

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(len(self))
            return self.read_images(start, max(start, stop))
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None):
        array = self.read_images(0, len(self)) if self.shape else self._read_whole()
        return array if dtype is None else array.astype(dtype)

    def close(self):
        if self._stream is not None:
            archive, handle, _ = self._stream
            handle.close()
            archive.close()
            self._stream = None


def open_npy(path):
    """The ``.npy`` file at ``path`` as a :class:`LazyBlob` (only its header is read, and
    checked as :func:`caffe_lrn.io.files.load_npy` checks it)."""
    path = pathlib.Path(path)
    if _magic(path, ".npy array") != NPY_MAGIC:  # a missing or special file is refused here
        return load_npy(path)  # raises the error that says what the file is instead
    try:
        with open_regular(path, ".npy array") as handle:
            shape, fortran, dtype = _read_npy_header(handle, path)
            offset = handle.tell()
            available = os.fstat(handle.fileno()).st_size - offset
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None
    check_array_header(shape, dtype, available, path)
    return LazyBlob(path, None, str(path), shape, dtype, fortran, offset)


def _data_start(path, info):
    """The absolute offset of a member's data: after its local header, whose name and extra
    field lengths may differ from the central directory's."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(
            handle.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for member {info.filename!r}")
    return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length


def open_npz(path):
    """Every ``.npy`` member of the ``.npz`` at ``path`` as a :class:`LazyBlob`, keyed by
    its name without ``.npy``; only headers are read. Refused with :class:`InputFileError`
    as :func:`caffe_lrn.io.files.load_npz` refuses them."""
    path = check_npz_file(path)
    try:
        with zipfile.ZipFile(path) as archive:
            blobs = {}
            for name, member in npz_members(archive, path).items():
                info = archive.getinfo(member)
                where = f"{path}[{name}]"
                shape, fortran, dtype, header_length = check_member(archive, member, where)
                offset = None
                if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1:
                    offset = _data_start(path, info) + header_length
                blobs[name] = LazyBlob(path, member, where, shape, dtype, fortran, offset)
            return blobs
    except InputFileError:
        raise
    except ZIP_ERRORS as exc:
        raise InputFileError(f"{path}: cannot read as .npz ({type(exc).__name__}: {exc})") \
            from None
