"""Safe file input and output.

Outputs are written atomically (a temporary file in the same folder, then an exclusive link
or, with ``force``, a rename), never over an existing file unless ``force`` is given, and
never over an input, even with ``force``. Arrays are read with ``allow_pickle=False``;
inputs are never modified.
"""
import errno
import io
import os
import pathlib
import tempfile
import zipfile
import zlib

import numpy as np

from caffe_lrn.errors import InputFileError, OutputExistsError, OutputIsInputError
from caffe_lrn.interrupts import deferred


def _same_file(path, source):
    """True when ``path`` is ``source`` once links are resolved (or the same inode)."""
    try:
        return os.path.samefile(path, source)
    except OSError:  # one of them does not exist (yet): compare where they lead
        return os.path.realpath(path) == os.path.realpath(source)


def check_output_path(path, force=False, inputs=()):
    """Refuse an output path that is one of ``inputs``, exists (unless ``force``), or whose
    folder does not exist.

    An output that is, or resolves through symbolic or hard links to, an input is refused
    even with ``force``: writing it would destroy the data being read.
    """
    path = pathlib.Path(path)
    for source in inputs:
        if source is not None and _same_file(path, source):
            raise OutputIsInputError(
                f"{path} is the input {source}; write the output to another file "
                "(--force never replaces an input)")
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; pass --force to overwrite it")
    if path.is_dir():
        raise OutputExistsError(f"{path} is a directory, not a file")
    parent = path.parent if str(path.parent) else pathlib.Path(".")
    if not parent.is_dir():
        raise InputFileError(f"cannot write {path}: folder {parent} does not exist")
    return path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Errors of os.link on file systems without hard links.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV,
             errno.EACCES}


def _create_exclusive(tmp, path):
    """Give the finished temporary file ``tmp`` the name ``path``, only if nothing has it.

    ``os.link`` fails when ``path`` exists, atomically, so of two writers racing for one
    name exactly one wins (an exists-check followed by a rename would let both "win", the
    second silently replacing the first). Where hard links are not supported the name is
    claimed with an exclusive create, then the content renamed over the claim.
    """
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        raise OutputExistsError(f"{path} exists; pass --force to overwrite it") from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        raise OutputExistsError(f"{path} exists; pass --force to overwrite it") from None
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(path)  # the empty claim is ours
        raise


def _ours(filename, path):
    """True for ``path`` itself or one of the temporary files written for it."""
    name = os.path.basename(os.fsdecode(filename))
    return name == path.name or (name.startswith(f".{path.name}.") and name.endswith(".tmp"))


def write_atomic(path, write, force=False, mode="wb", inputs=()):
    """Write ``path`` by calling ``write(fileobj)`` on a temporary file, then naming it.

    Without ``force`` the final name is created exclusively (an output that appears
    meanwhile is kept, and this call fails); with ``force`` an existing file is replaced in
    one step, so a failure part-way leaves it untouched. An output that resolves to one of
    ``inputs`` is refused either way. The temporary file is removed on every failure,
    including an interrupt (the CLI turns SIGTERM and SIGHUP into one). Operating-system
    errors name ``path``, not the temporary file.
    """
    path = check_output_path(path, force, inputs)
    folder = path.parent if str(path.parent) else pathlib.Path(".")
    tmp = None
    try:
        with deferred():  # an interrupt inside mkstemp would leave a file no one knows of
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with deferred():
            if force:
                os.replace(tmp, path)
            else:
                _create_exclusive(tmp, path)
    except OSError as exc:
        if exc.filename is not None and not _ours(exc.filename, path):
            raise  # about another file (an input read while writing)
        # The temporary file is an implementation detail: say which output failed.
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    return path


def write_text(path, text, force=False, inputs=()):
    """Write text (UTF-8) atomically."""
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")), force=force,
                        inputs=inputs)


def write_bytes(path, data, force=False, inputs=()):
    """Write bytes atomically."""
    return write_atomic(path, lambda f: f.write(data), force=force, inputs=inputs)


def save_npz(path, arrays, force=False, inputs=()):
    """Save a dict of arrays as an uncompressed ``.npz`` atomically."""
    return write_atomic(path, lambda f: np.savez(f, **arrays), force=force, inputs=inputs)


def _not_found(path):
    return InputFileError(f"{path}: no such file")


NPY_MAGIC = b"\x93NUMPY"
# A zip archive (an .npz) starts with a local file header, or, when empty, its end record.
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def _magic(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(len(NPY_MAGIC))
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None


def _read_npy_header(handle, where):
    """``(shape, fortran_order, dtype)`` from an open ``.npy`` stream, positioned at its data."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            return fmt.read_array_header_1_0(handle)
        if version == (2, 0):
            return fmt.read_array_header_2_0(handle)
        # Version 3 (UTF-8 field names) has no public reader.
        return fmt._read_array_header(handle, version)
    except Exception as exc:  # noqa: BLE001
        # NumPy parses the header text with tokenize and ast.literal_eval: hostile bytes
        # raise ValueError, SyntaxError, TokenError, RecursionError, ... Any of them means
        # the same thing here, and nothing past this point has been read yet.
        raise InputFileError(f"{where}: not a plain .npy array (bad header: "
                             f"{type(exc).__name__}: {exc})") from None


def _check_npy_data(shape, dtype, available, where):
    """Refuse object arrays and headers that promise more data than there is.

    NumPy allocates the declared shape before reading, so a 100-byte file whose header claims
    (10**6, 10**6) would otherwise fail with a MemoryError instead of "truncated".
    """
    if dtype.hasobject:
        raise InputFileError(
            f"{where}: holds Python objects (dtype {dtype}); caffe-lrn reads plain numeric "
            "arrays only and never unpickles data")
    needed = dtype.itemsize
    for length in shape:
        needed *= int(length)
    if needed > available:
        raise InputFileError(
            f"{where}: truncated: its header declares shape {tuple(shape)} of {dtype} "
            f"({needed} bytes) but only {available} bytes of data follow")


def load_npy(path, mmap=False):
    """Read one ``.npy`` array (``mmap=True``: memory-mapped, read-only).

    Refused with :class:`InputFileError`: a missing file, an ``.npz`` archive, anything
    without the NumPy magic bytes, object (pickled) arrays, and truncated data.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise _not_found(path)
    magic = _magic(path)
    if magic.startswith(ZIP_MAGICS):
        raise InputFileError(f"{path}: is an .npz archive; expected one .npy array")
    if magic != NPY_MAGIC:
        raise InputFileError(f"{path}: not a .npy file (it does not start with NumPy's "
                             "magic bytes)")
    try:
        with open(path, "rb") as handle:
            shape, _, dtype = _read_npy_header(handle, path)
            available = os.fstat(handle.fileno()).st_size - handle.tell()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None
    _check_npy_data(shape, dtype, available, path)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        raise InputFileError(f"{path}: not a plain .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise InputFileError(f"{path}: cannot read as .npy ({exc})") from None


def check_member(archive, member, where):
    """Check one member of an open zip archive like a ``.npy`` file, reading its header
    only: ``(shape, fortran_order, dtype, header length)``."""
    with archive.open(member) as handle:
        if handle.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise InputFileError(f"{where}: member is not a .npy array")
    with archive.open(member) as handle:
        shape, fortran, dtype = _read_npy_header(handle, where)
        header_length = handle.tell()
    _check_npy_data(shape, dtype, archive.getinfo(member).file_size - header_length, where)
    return shape, fortran, dtype, header_length


def _read_member(archive, member, name, path):
    """One member of an open zip archive, checked like a ``.npy`` file, then read."""
    where = f"{path}[{name}]"
    check_member(archive, member, where)
    with archive.open(member) as handle:
        try:
            return np.lib.format.read_array(handle, allow_pickle=False)
        except ValueError as exc:
            raise InputFileError(f"{where}: not a plain .npy array ({exc})") from None


def load_npz(path):
    """Read every array of an ``.npz`` into a dict (names as stored, without ``.npy``).

    Refused with :class:`InputFileError`: a missing file, a single ``.npy`` array, anything
    that is not a zip archive, any member that is not a plain, complete ``.npy`` array, and
    two members with the same name (``a`` and ``a.npy``).
    """
    path = check_npz_file(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return {name: _read_member(archive, member, name, path)
                    for name, member in npz_members(archive, path).items()}
    except InputFileError:
        raise
    except ZIP_ERRORS as exc:
        raise InputFileError(f"{path}: cannot read as .npz ({type(exc).__name__}: {exc})") \
            from None


#: What zipfile, zlib and NumPy raise on a damaged archive.
ZIP_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, io.UnsupportedOperation,
              NotImplementedError, KeyError, RuntimeError, zlib.error)


def check_npz_file(path):
    """``path`` as a Path when it is an existing zip file; refused (:class:`InputFileError`)
    when missing, a single ``.npy`` array, or not a zip archive."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise _not_found(path)
    magic = _magic(path)
    if magic == NPY_MAGIC:
        raise InputFileError(f"{path}: expected an .npz archive, found one .npy array")
    if not magic.startswith(ZIP_MAGICS):
        raise InputFileError(f"{path}: not an .npz archive (it is not a zip file)")
    return path


def npz_members(archive, path):
    """``{name: member}`` of an open ``.npz`` (names without ``.npy``); two members of one
    name (``a`` and ``a.npy``) are refused."""
    members = {}
    for member in archive.namelist():
        name = member[:-4] if member.endswith(".npy") else member
        if name in members:
            raise InputFileError(f"{path}: holds two members named {name!r} "
                                 f"({members[name]!r} and {member!r})")
        members[name] = member
    return members
