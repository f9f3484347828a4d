"""Safe file input and output.

Outputs are written atomically (a temporary file in the same folder, then an exclusive link
or, with ``force``, a rename), never over an existing file unless ``force`` is given, and
never over an input, even with ``force``. Arrays are read with ``allow_pickle=False``;
inputs are never modified.
"""
import errno
import io
import json
import math
import os
import pathlib
import re
import stat
import tempfile
import zipfile
import zlib

import numpy as np

from caffe_lrn.errors import InputFileError, OutputExistsError, OutputIsInputError
from caffe_lrn.errors import shorten as shown
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


def _file_kind(mode):
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def open_regular(path, what="file"):
    """An open binary file object for the regular file ``path``, or an InputFileError.

    Opened without blocking, so a FIFO with no writer cannot hang the command, then
    refused with every other file that is not regular (``/dev/zero``, a socket, a
    directory): their sizes say nothing about what reading them would return.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputFileError(f"{shown(path)}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{shown(path)}: is a directory, not a {what}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputFileError(f"{shown(path)}: cannot read ({reason})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise InputFileError(f"{shown(path)}: is a directory, not a {what}")
        raise InputFileError(f"{shown(path)}: is {_file_kind(mode)}, not a {what}; "
                             "caffe-lrn reads regular files only")
    return os.fdopen(fd, "rb")


def read_input(path, what="file", limit=2**31 - 1, why=""):
    """All bytes of the regular file ``path``, at most ``limit`` of them (``why``: the
    limit's reason, for the message).

    The limit is applied to what is actually read, not to the size the file system
    reports (files in /proc report 0 and hold more). A larger file raises InputFileError.
    """
    with open_regular(path, what) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:  # known too large without reading it
            raise InputFileError(f"{shown(path)}: {size} bytes exceeds the {limit}-byte limit "
                                 f"for a {what}{why}")
        chunks, total = [], 0
        step = min(limit + 1, max(size + 1, 1 << 20))
        while total <= limit:
            try:
                chunk = handle.read(min(step, limit + 1 - total))
            except OSError as exc:
                raise InputFileError(f"{shown(path)}: cannot read ({exc.strerror})") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > limit:
        raise InputFileError(f"{shown(path)}: more than {limit} bytes exceeds the {limit}-byte "
                             f"limit for a {what}{why}")
    return b"".join(chunks)


#: Limits of :func:`read_json`: bytes, nesting of arrays and objects, digits of a number.
MAX_JSON_BYTES = 64 * 2**20
MAX_JSON_DEPTH = 32
MAX_JSON_DIGITS = 1000

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _json_depth(data):
    """The deepest nesting of ``[`` and ``{`` in JSON bytes (strings skipped)."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, delete=_NOT_BRACKETS)
    if not brackets:
        return 0
    steps = np.frombuffer(brackets, dtype=np.uint8)
    return int(np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1)).max())


_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def parse_json(data, where, what="JSON document"):
    """A JSON value from bytes, within the limits above; an InputFileError otherwise.

    Python's reader would recurse once per ``[`` (a RecursionError at a few thousand),
    accept numbers of any length (10**5000 takes seconds, then fails on str()), and turn
    ``1e400`` into inf and ``NaN`` into nan: here each is refused with what broke.
    """
    if len(data) > MAX_JSON_BYTES:
        raise InputFileError(f"{where}: {len(data)} bytes exceeds the {MAX_JSON_BYTES}-byte "
                             "limit for a JSON document")
    depth = _json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise InputFileError(f"{where}: arrays and objects nested {depth} deep; a JSON "
                             f"document may nest at most {MAX_JSON_DEPTH} deep")

    def number(text):
        digits = sum(c.isdigit() for c in text)
        if digits > MAX_JSON_DIGITS:
            raise InputFileError(f"{where}: a number of {digits} digits; JSON numbers may "
                                 f"have at most {MAX_JSON_DIGITS}")
        value = float(text) if any(c in text for c in ".eE") else int(text)
        if isinstance(value, float) and not math.isfinite(value):
            raise InputFileError(f"{where}: the number {text} is beyond the float range")
        return value

    def constant(name):
        raise InputFileError(f"{where}: {name} is not a JSON number")

    try:
        text = data.decode("utf-8")
        return json.loads(text, parse_int=number, parse_float=number,
                          parse_constant=constant)
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{where}: not a {what} ({exc})") from None


def read_json(path, what="JSON document"):
    """:func:`parse_json` of the regular file ``path``, read with the same byte limit."""
    return parse_json(read_input(path, what, MAX_JSON_BYTES), shown(path), what)


NPY_MAGIC = b"\x93NUMPY"
# A zip archive (an .npz) starts with a local file header, or, when empty, its end record.
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# NumPy's own bound on a header's length (np.load's default max_header_size).
MAX_HEADER_BYTES = 10000
# The largest byte count an array can have on this machine.
MAX_ARRAY_BYTES = np.iinfo(np.intp).max


def _magic(path, what):
    with open_regular(path, what) as handle:
        try:
            return handle.read(len(NPY_MAGIC))
        except OSError as exc:
            raise InputFileError(f"{shown(path)}: cannot read ({exc.strerror})") from None


def _read_npy_header(handle, where):
    """``(shape, fortran_order, dtype)`` from an open ``.npy`` stream, positioned at its data.

    Versions 1.0, 2.0 and 3.0 (3.0 differs from 2.0 only in allowing UTF-8 in the header,
    which NumPy has no public reader for).
    """
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            return fmt.read_array_header_1_0(handle)
        if version in ((2, 0), (3, 0)):
            # 3.0's header is 2.0's with UTF-8 text: read it as 2.0, which NumPy decodes
            # as Latin-1, then re-read the text as UTF-8.
            header_length = int.from_bytes(handle.read(4), "little")
            if header_length > MAX_HEADER_BYTES:
                raise ValueError(f"header length {header_length} exceeds NumPy's limit of "
                                 f"{MAX_HEADER_BYTES} bytes")
            text = handle.read(header_length)
            if len(text) != header_length:
                raise ValueError("the header is cut short")
            if version == (3, 0):
                text = text.decode("utf-8").encode("latin-1", "backslashreplace")
            replay = io.BytesIO(b"\x93NUMPY\x02\x00" + len(text).to_bytes(4, "little")
                                + text)
            fmt.read_magic(replay)
            return fmt.read_array_header_2_0(replay)
        raise ValueError(f"format version {version[0]}.{version[1]} is not one NumPy writes")
    except Exception as exc:  # noqa: BLE001
        # NumPy parses the header text with tokenize and ast.literal_eval: hostile bytes
        # raise ValueError, SyntaxError, TokenError, RecursionError, ... Any of them means
        # the same thing here, and nothing past this point has been read yet.
        raise InputFileError(f"{where}: not a plain .npy array (bad header: "
                             f"{type(exc).__name__}: {exc})") from None


def check_array_header(shape, dtype, available, where, error=InputFileError):
    """Refuse an array description that no data can satisfy, before anything is allocated.

    The one check for every array read from a file (``.npy`` files, ``.npz`` members,
    ``.binaryproto`` dims): ``shape`` must be a tuple of non-negative integers (not
    booleans), the array must fit this machine's address space, ``dtype`` must not hold
    Python objects, and the ``available`` bytes must hold the array (NumPy allocates the
    declared shape before reading, so a 100-byte file whose header claims (10**6, 10**6)
    would otherwise fail with a MemoryError instead of "truncated"; None: the caller
    compares counts itself).
    """
    if not isinstance(shape, tuple) or any(
            isinstance(length, bool) or not isinstance(length, (int, np.integer))
            for length in shape):
        raise error(f"{where}: shape {shape!r} is not a tuple of integers")
    if any(length < 0 for length in shape):
        raise error(f"{where}: shape {shape} has a negative dimension")
    if dtype.hasobject:
        raise error(
            f"{where}: holds Python objects (dtype {dtype}); caffe-lrn reads plain numeric "
            "arrays only and never unpickles data")
    # NumPy refuses a shape whose non-zero lengths multiply past its index type, even when
    # another length is 0.
    if math.prod(int(length) for length in shape if length) * max(dtype.itemsize, 1) \
            > MAX_ARRAY_BYTES:
        raise error(f"{where}: shape {shape} is too large for an array on this machine "
                    f"(more than {MAX_ARRAY_BYTES} bytes)")
    needed = math.prod(int(length) for length in shape) * dtype.itemsize
    if available is not None and needed > available:
        raise error(
            f"{where}: truncated: its header declares shape {tuple(shape)} of {dtype} "
            f"({needed} bytes) but only {available} bytes of data follow")


def load_npy(path, mmap=False):
    """Read one ``.npy`` array (``mmap=True``: memory-mapped, read-only).

    Refused with :class:`InputFileError`: a missing file, an ``.npz`` archive, anything
    without the NumPy magic bytes, object (pickled) arrays, and truncated data.
    """
    path = pathlib.Path(path)
    magic = _magic(path, ".npy array")
    if magic.startswith(ZIP_MAGICS):
        raise InputFileError(f"{path}: is an .npz archive; expected one .npy array")
    if magic != NPY_MAGIC:
        raise InputFileError(f"{path}: not a .npy file (it does not start with NumPy's "
                             "magic bytes)")
    try:
        with open_regular(path, ".npy array") as handle:
            shape, _, dtype = _read_npy_header(handle, path)
            available = os.fstat(handle.fileno()).st_size - handle.tell()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None
    check_array_header(shape, dtype, available, path)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OverflowError) as exc:
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
    check_array_header(shape, dtype, archive.getinfo(member).file_size - header_length, where)
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
ZIP_ERRORS = (ValueError, OverflowError, OSError, EOFError, zipfile.BadZipFile,
              io.UnsupportedOperation, NotImplementedError, KeyError, RuntimeError, zlib.error)


def check_npz_file(path):
    """``path`` as a Path when it is an existing zip file; refused (:class:`InputFileError`)
    when missing, a single ``.npy`` array, or not a zip archive."""
    path = pathlib.Path(path)
    magic = _magic(path, ".npz archive")
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
