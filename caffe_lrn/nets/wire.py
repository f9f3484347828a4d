"""Locate where a binary protobuf stops being valid wire format.

``ParseFromString`` only says that decoding failed; :func:`find_wire_error` walks the same
bytes against the schema and returns the byte offset and a reason, so a truncated or
corrupted ``.caffemodel`` can be reported as ``net.caffemodel: at byte 81234: ...``.

It checks what the decoder checks: tags (field number > 0, wire types 0-5), varints that
end within 10 bytes, fixed32/fixed64 and length-delimited fields that fit in what is left,
groups that close, packed repeated fields that hold whole elements, and, recursively, the
content of every field whose schema type is a message.
"""
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor

from caffe_lrn.schema import is_repeated

# upb (protobuf's decoder) refuses deeper nesting than this.
MAX_DEPTH = 100

_VARINT_TYPES = {
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_BOOL, FieldDescriptor.TYPE_ENUM,
}
_FIXED_SIZE = {
    FieldDescriptor.TYPE_FIXED32: 4, FieldDescriptor.TYPE_SFIXED32: 4,
    FieldDescriptor.TYPE_FLOAT: 4, FieldDescriptor.TYPE_FIXED64: 8,
    FieldDescriptor.TYPE_SFIXED64: 8, FieldDescriptor.TYPE_DOUBLE: 8,
}
_WIRE_NAMES = {0: "varint", 1: "fixed64", 2: "length-delimited", 3: "start-group",
               4: "end-group", 5: "fixed32"}


@dataclass(frozen=True)
class WireError:
    """Where (byte ``offset``) and why the wire format breaks; ``field`` is a path such as
    ``layer[3].blobs[0]`` (empty at the top level)."""

    offset: int
    reason: str
    field: str = ""

    def describe(self):
        where = f" in {_short_path(self.field)}" if self.field else ""
        return f"{self.reason}{where}"


def _short_path(path, keep=3):
    """``path`` with its middle elided when deep nesting makes it long: the message stays
    one readable line (``layer[0].field 1000 ... 94 more ... field 1000``)."""
    parts = path.split(".")
    if len(parts) <= 2 * keep + 1:
        return path
    hidden = len(parts) - 2 * keep
    return f"{'.'.join(parts[:keep])} ... {hidden} more ... {'.'.join(parts[-keep:])}"


class _Broken(Exception):
    def __init__(self, error):
        super().__init__(error.reason)
        self.error = error


def _varint(data, pos, end, what, path):
    start = pos
    result = shift = 0
    while True:
        if pos >= end:
            raise _Broken(WireError(start, f"{what}: varint cut off by the end of the data",
                                    path))
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _Broken(WireError(start, f"{what}: varint longer than 10 bytes", path))


def _field_label(descriptor, number, wire, counts):
    field = descriptor.fields_by_number.get(number) if descriptor is not None else None
    name = field.name if field is not None else f"field {number}"
    packed = wire == 2 and field is not None and field.message_type is None
    # Repeated messages get an index (layer[3]); a packed run of numbers is one entry.
    if field is not None and is_repeated(field) and not packed:
        index = counts.get(number, 0)
        counts[number] = index + 1
        name = f"{name}[{index}]"
    return field, name


def _scan(data, pos, end, descriptor, path, depth, group=None):
    if depth > MAX_DEPTH:
        raise _Broken(WireError(pos, f"messages nested deeper than {MAX_DEPTH} levels", path))
    counts = {}
    while pos < end:
        tag_at = pos
        key, pos = _varint(data, pos, end, "tag", path)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Broken(WireError(tag_at, "invalid tag: field number 0", path))
        if wire in (6, 7):
            raise _Broken(WireError(tag_at, f"invalid wire type {wire} (field {number})", path))
        if wire == 4:
            if group == number:
                return pos
            raise _Broken(WireError(tag_at, f"end-group tag for field {number} with no "
                                            "matching start-group", path))
        field, name = _field_label(descriptor, number, wire, counts)
        here = f"{path}.{name}" if path else name
        if wire == 0:
            _, pos = _varint(data, pos, end, name, path)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if end - pos < size:
                raise _Broken(WireError(tag_at, f"{name}: {_WIRE_NAMES[wire]} value needs "
                                                f"{size} bytes, only {end - pos} left", path))
            pos += size
        elif wire == 3:
            sub = field.message_type if field is not None and field.message_type else None
            pos = _scan(data, pos, end, sub, here, depth + 1, group=number)
        else:  # length-delimited
            length, pos = _varint(data, pos, end, f"{name} length", path)
            if length > 0x7FFFFFFF:
                raise _Broken(WireError(tag_at, f"{name}: length {length} exceeds 2 GiB", path))
            available = end - pos
            is_message = (field is not None and field.type == FieldDescriptor.TYPE_MESSAGE)
            if length > available:
                if is_message:
                    # The innermost place the cut shows is the most useful one to report.
                    _scan(data, pos, end, field.message_type, here, depth + 1)
                raise _Broken(WireError(
                    tag_at, f"{name}: declares {length} bytes but only {available} remain "
                            "(truncated data?)", path))
            if is_message:
                _scan(data, pos, pos + length, field.message_type, here, depth + 1)
            elif field is not None and is_repeated(field):
                _check_packed(data, pos, pos + length, field, here)
            pos += length
    if group is not None:
        raise _Broken(WireError(end, f"group for field {group} is not closed", path))
    return pos


def _check_packed(data, pos, end, field, path):
    if field.type in _VARINT_TYPES:
        while pos < end:
            _, pos = _varint(data, pos, end, "packed element", path)
    elif field.type in _FIXED_SIZE:
        size = _FIXED_SIZE[field.type]
        if (end - pos) % size:
            raise _Broken(WireError(pos, f"packed {field.name}: {end - pos} bytes is not a "
                                         f"whole number of {size}-byte values", path))


def find_wire_error(data, descriptor):
    """Return the first :class:`WireError` in ``data`` read as message ``descriptor``, or None."""
    view = memoryview(data)
    try:
        _scan(view, 0, len(view), descriptor, "", 0)
    except _Broken as broken:
        return broken.error
    return None


def first_unknown_field(data, descriptor):
    """Offset and number of the first top-level field ``descriptor`` does not define, or None."""
    view = memoryview(data)
    pos, end = 0, len(view)
    try:
        while pos < end:
            tag_at = pos
            key, pos = _varint(view, pos, end, "tag", "")
            number, wire = key >> 3, key & 7
            if number not in descriptor.fields_by_number:
                return tag_at, number, wire
            if wire == 0:
                _, pos = _varint(view, pos, end, "value", "")
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            elif wire == 2:
                length, pos = _varint(view, pos, end, "length", "")
                pos += length
            else:
                return None
    except _Broken:
        return None
    return None


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def without_fields(data, descriptor, drop):
    """``data``, valid wire format of message ``descriptor``, re-encoded without some fields.

    ``drop`` maps a message's full name to the field numbers left out of it; the walk goes
    into a sub-message only when its type is a key of ``drop`` and copies everything else
    as it is, so a dropped field's bytes are skipped by their length, never decoded (for a
    ``.caffemodel``: the weight blobs, nearly all of the file). Raises ValueError where the
    data is not wire format this walk can follow (the caller then parses it whole, which
    reports the fault precisely).
    """
    view = memoryview(data)
    out = bytearray()
    try:
        _copy_without(view, 0, len(view), descriptor, drop, out)
    except _Broken as broken:
        raise ValueError(broken.error.describe()) from None
    return bytes(out)


def _copy_without(view, pos, end, descriptor, drop, out):
    dropped = drop.get(descriptor.full_name, ())
    while pos < end:
        start = pos
        key, pos = _varint(view, pos, end, "tag", "")
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(view, pos, end, "value", "")
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            tag_end = pos
            length, pos = _varint(view, pos, end, "length", "")
            if length > end - pos:
                raise _Broken(WireError(start, "length past the end of the data"))
            field = descriptor.fields_by_number.get(number)
            if (number not in dropped and field is not None and field.message_type is not None
                    and field.message_type.full_name in drop):
                inner = bytearray()
                _copy_without(view, pos, pos + length, field.message_type, drop, inner)
                out += view[start:tag_end]
                out += _encode_varint(len(inner))
                out += inner
                pos += length
                continue
            pos += length
        else:  # groups: Caffe's schema has none
            raise _Broken(WireError(start, f"wire type {wire} not followed"))
        if pos > end:
            raise _Broken(WireError(start, "value past the end of the data"))
        if number not in dropped:
            out += view[start:pos]
