"""Safe file input and output.

Outputs are written atomically (a temporary file in the same folder, then a rename) and never
over an existing file unless ``force`` is given. Arrays are read with ``allow_pickle=False``;
inputs are never modified.
"""
import io
import os
import pathlib
import tempfile
import zipfile

import numpy as np

from caffe_lrn.errors import InputFileError, OutputExistsError


def check_output_path(path, force=False):
    """Refuse an output path that exists (unless ``force``) or whose folder does not."""
    path = pathlib.Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; pass --force to overwrite it")
    if path.is_dir():
        raise OutputExistsError(f"{path} is a directory, not a file")
    parent = path.parent if str(path.parent) else pathlib.Path(".")
    if not parent.is_dir():
        raise InputFileError(f"cannot write {path}: folder {parent} does not exist")
    return path


def write_atomic(path, write, force=False, mode="wb"):
    """Write ``path`` by calling ``write(fileobj)`` on a temporary file, then renaming it.

    The existing file (if any, and only with ``force``) is replaced in one step, so a
    failure part-way leaves it untouched.
    """
    path = check_output_path(path, force)
    folder = path.parent if str(path.parent) else pathlib.Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if not force and path.exists():
            raise OutputExistsError(f"{path} exists; pass --force to overwrite it")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text(path, text, force=False):
    """Write text (UTF-8) atomically."""
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")), force=force)


def write_bytes(path, data, force=False):
    """Write bytes atomically."""
    return write_atomic(path, lambda f: f.write(data), force=force)


def save_npz(path, arrays, force=False):
    """Save a dict of arrays as an uncompressed ``.npz`` atomically."""
    return write_atomic(path, lambda f: np.savez(f, **arrays), force=force)


def _not_found(path):
    return InputFileError(f"{path}: no such file")


def load_npy(path, mmap=False):
    """Read one ``.npy`` array (``mmap=True``: memory-mapped, read-only)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise _not_found(path)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        raise InputFileError(f"{path}: not a plain .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise InputFileError(f"{path}: cannot read as .npy ({exc})") from None


def load_npz(path):
    """Read every array of an ``.npz`` into a dict (names as stored, without ``.npy``)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise _not_found(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise InputFileError(f"{path}: expected an .npz archive, found one array")
            return {name: archive[name] for name in archive.files}
    except InputFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, io.UnsupportedOperation) as exc:
        raise InputFileError(f"{path}: cannot read as .npz ({exc})") from None
