"""Read Caffe nets from files: text (prototxt) or binary (caffemodel), any vintage.

``load_net(path)`` tells text from binary by content (a binary net named ``.prototxt``
still loads, and a text net named ``.caffemodel``), parses it into a ``NetParameter`` and
upgrades V0/V1 layers and deprecated inputs as Caffe does (:mod:`caffe_lrn.nets.upgrade`).

Errors are typed: a missing, empty or oversized file or a directory raises
:class:`InputFileError`; a text syntax error raises :class:`NetParseError` with line and
column; broken binary wire format raises :class:`NetParseError` with the byte offset where
it breaks; an impossible upgrade raises :class:`NetUpgradeError`.
"""
import logging
import mmap
import os
import pathlib
import stat

from google.protobuf.message import DecodeError

from caffe_lrn.errors import (
    InputFileError, NetParseError, NetUpgradeError, OutOfMemoryError, shorten,
)
from caffe_lrn.io.files import read_input
from caffe_lrn.schema import (
    LayerParameter, NetParameter, V0LayerParameter, V1LayerParameter, is_repeated,
)
from caffe_lrn.nets.textproto import parse_text
from caffe_lrn.nets.upgrade import upgrade_net
from caffe_lrn.nets.wire import find_wire_error, first_unknown_field, without_fields

log = logging.getLogger(__name__)

#: Largest net file read, in bytes: 2 GiB - 1. Protobuf messages cannot exceed 2 GiB, and
#: Caffe reads binary nets with the same limit (``kProtoReadBytesLimit = INT_MAX``).
MAX_NET_BYTES = 2**31 - 1

#: File name endings that suggest a binary net when the content alone does not decide.
BINARY_SUFFIXES = (".caffemodel", ".binaryproto", ".pb", ".protobin", ".bin")

# Bytes that never occur in a prototxt but do in nearly every binary net: every NetParameter
# field's tag (0x0a name, 0x12 layers, 0x1a input, 0x20 input_dim, ...) and short lengths.
_CONTROL = frozenset(range(0, 9)) | frozenset(range(14, 32)) | {127}
_SNIFF_BYTES = 1 << 16


def _has_control_bytes(data):
    return any(byte in _CONTROL for byte in bytes(data[:_SNIFF_BYTES]))


def looks_binary(data):
    """True when ``data`` is not plausible prototxt: a control byte or invalid UTF-8 in its
    first 64 KiB."""
    sample = bytes(data[:_SNIFF_BYTES])
    if any(byte in _CONTROL for byte in sample):
        return True
    try:
        # The cut may split a multi-byte character; up to 3 bytes of it are allowed to end it.
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(data) <= _SNIFF_BYTES or exc.start < len(sample) - 3:
            return True
    return False


def _bad_string(message, path=""):
    """The first string field of ``message`` holding invalid UTF-8: ``(field path, bytes)``.

    Binary parsing keeps proto2 strings as raw bytes; Python hands such a value back as
    ``bytes``, and copying it into another message (as the upgrade does) raises
    UnicodeDecodeError, so a net with one is refused at load time instead.
    """
    for field, value in message.ListFields():
        here = f"{path}.{field.name}" if path else field.name
        if field.type == field.TYPE_MESSAGE:
            items = value if is_repeated(field) else [value]
            for index, item in enumerate(items):
                label = f"{here}[{index}]" if is_repeated(field) else here
                found = _bad_string(item, label)
                if found:
                    return found
        elif field.type == field.TYPE_STRING:
            items = enumerate(value) if is_repeated(field) else [(None, value)]
            for index, item in items:
                if isinstance(item, bytes):
                    return (here if index is None else f"{here}[{index}]"), item
    return None


# What protobuf's C parser (upb) says when its arena cannot grow: under a memory limit a large
# net fails with this DecodeError, not a MemoryError, and it is no fault of the file.
_ALLOC_FAILED = ("alloc failed", "out of memory", "memory")
# protobuf 4.25's parser gives no reason at all, for an arena that cannot grow as for the rest.
_UPB_GENERIC = "Error parsing message"


def _out_of_memory(data, source, exc):
    return OutOfMemoryError(
        f"{source}: out of memory parsing a {len(data)}-byte binary net (protobuf: {exc}); "
        "a net's parsed form takes about 20 times its file size")


def _parse_binary(data, source):
    try:
        return _parse_binary_checked(data, source)
    except MemoryError as exc:
        if isinstance(exc, OutOfMemoryError):
            raise
        raise _out_of_memory(data, source, "MemoryError") from None


def _parse_binary_checked(data, source):
    net = NetParameter()
    try:
        net.ParseFromString(bytes(data))
    except (DecodeError, RuntimeError, ValueError) as exc:
        if any(words in str(exc).lower() for words in _ALLOC_FAILED):
            raise _out_of_memory(data, source, exc) from None
        error = find_wire_error(data, NetParameter.DESCRIPTOR)
        if error is not None:
            raise NetParseError(f"not a valid binary NetParameter: {error.describe()}",
                                path=source, offset=error.offset) from None
        if str(exc).strip().rstrip(".") == _UPB_GENERIC:
            # protobuf 4.25's parser says only this, whatever failed; with the wire format
            # found valid above (tags, lengths, nesting depth), what is left is its arena.
            raise _out_of_memory(data, source, exc) from None
        raise NetParseError(f"not a valid binary NetParameter ({exc})", path=source) from None
    if net.ByteSize() and not net.ListFields():
        # Well-formed wire data that holds no NetParameter field at all is some other file.
        unknown = first_unknown_field(data, NetParameter.DESCRIPTOR)
        detail = ""
        if unknown is not None:
            offset, number, wire = unknown
            detail = f": field number {number} (wire type {wire}) is not a NetParameter field"
            raise NetParseError(f"not a Caffe net{detail}", path=source, offset=offset)
        raise NetParseError("not a Caffe net: no NetParameter field found", path=source,
                            offset=0)
    bad = _bad_string(net)
    if bad is not None:
        field, raw = bad
        offset = bytes(data).find(raw) if raw else -1
        raise NetParseError(f"string field {field} is not valid UTF-8 text ({bytes(raw)[:40]!r})",
                            path=source, offset=offset if offset >= 0 else None)
    return net


def parse_net(data, source=None, binary=None):
    """Parse bytes (or str) holding a net, without upgrading it.

    ``binary``: True/False to force a format; None to decide by content (and, for text that
    fails to parse, by ``source``'s file name ending). Returns ``(net, "binary" | "text")``.
    """
    if isinstance(data, str):
        return parse_text(data, NetParameter(), source=source), "text"
    if binary is None:
        binary = looks_binary(data)
        if binary and not _has_control_bytes(data):
            # Only invalid UTF-8 made it look binary (say, a Latin-1 comment in a prototxt):
            # if it is not a binary net either, the true story is the text's encoding error,
            # unless the file is named like a binary net.
            try:
                return _parse_binary(data, source), "binary"
            except NetParseError:
                if str(source or "").lower().endswith(BINARY_SUFFIXES):
                    raise
                return parse_text(data, NetParameter(), source=source), "text"
        if not binary:
            try:
                return parse_text(data, NetParameter(), source=source), "text"
            except NetParseError:
                # Printable bytes named like a binary net: give the binary reading a chance,
                # but report the text error if that fails too (the content looked like text).
                if not str(source or "").lower().endswith(BINARY_SUFFIXES):
                    raise
                try:
                    return _parse_binary(data, source), "binary"
                except NetParseError:
                    pass
                raise
    if binary:
        return _parse_binary(data, source), "binary"
    return parse_text(data, NetParameter(), source=source), "text"


def read_net_file(path):
    """Read a net file's bytes with the checks every loader needs; returns ``bytes``.

    Only regular files are read (a FIFO or ``/dev/zero`` is refused), and at most
    ``MAX_NET_BYTES`` of them, counted as they are read.
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise InputFileError(f"a net path must be a str or os.PathLike, got "
                             f"{type(path).__name__}") from None
    data = read_input(path, "net file", MAX_NET_BYTES,
                      why=" (protobuf messages are limited to 2 GiB)")
    if not data.strip():
        raise InputFileError(f"{shorten(path)}: file is empty, not a net")
    return data


def read_net(path):
    """Parse a net file without upgrading it. Returns ``(net, "binary" | "text")``."""
    data = read_net_file(path)
    return parse_net(data, source=str(path))


# The weight blobs of each vintage's layers, and the messages on the way to them.
_BLOB_FIELDS = {message.DESCRIPTOR.full_name: {message.DESCRIPTOR.fields_by_name["blobs"].number}
                for message in (LayerParameter, V1LayerParameter, V0LayerParameter)}
_BLOB_FIELDS[NetParameter.DESCRIPTOR.full_name] = set()


def read_net_without_blobs(path):
    """:func:`read_net` with a binary net's weight blobs left out, never read into memory.

    The file is memory-mapped and its layers' ``blobs`` are skipped at the wire level by
    their length, so listing the layers of a 250 MB ``.caffemodel`` touches a few pages of
    it, not 250 MB (and protobuf does not decode the weights). Text nets, and binary nets
    that do not walk cleanly, go through :func:`read_net`, whose errors locate the fault.
    """
    path = pathlib.Path(os.fspath(path))
    try:
        info = path.stat()
    except OSError:
        return read_net(path)
    if not stat.S_ISREG(info.st_mode) or not 0 < info.st_size <= MAX_NET_BYTES:
        return read_net(path)
    stripped = None
    try:
        with open(path, "rb") as handle, \
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                if _has_control_bytes(view):
                    stripped = without_fields(view, NetParameter.DESCRIPTOR, _BLOB_FIELDS)
            # MemoryError: a net whose structure alone does not fit; read_net then reports
            # it as such (OutOfMemoryError), with the sizes.
            except (ValueError, MemoryError):
                stripped = None
            finally:
                view.release()
    except (OSError, ValueError, MemoryError):
        stripped = None
    if stripped is None:
        return read_net(path)
    try:
        return _parse_binary(stripped, str(path)), "binary"
    except NetParseError:
        pass
    stripped = None  # released before the whole file is read again
    return read_net(path)


def load_net(path):
    """Load a Caffe net (text or binary, V0/V1/current) as an upgraded ``NetParameter``.

    The result uses the current format only: ``layer`` entries with string types, and an
    ``Input`` layer in place of the deprecated ``input``/``input_dim``/``input_shape``.

    >>> net = load_net("caffe_lrn/examples/cifar10_full.caffemodel")  # doctest: +SKIP
    >>> [layer.name for layer in net.layer if layer.type == "LRN"]      # doctest: +SKIP
    ['norm1', 'norm2']
    """
    net, _ = read_net(path)
    for note in upgrade_loaded(net, path):
        log.info("%s: %s", path, note)
    return net


def upgrade_loaded(net, path):
    """``upgrade_net`` for a net read from ``path``: its errors name the file."""
    try:
        return upgrade_net(net)
    except NetUpgradeError as exc:
        raise NetUpgradeError(f"{path}: {exc}") from None
