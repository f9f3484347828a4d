"""Caffe's text format (prototxt): parse into a schema message, errors with line and column.

``parse_text`` wraps ``google.protobuf.text_format.Parse``, which reads everything real
prototxt files use (``#`` comments, repeated fields, nested messages with or without a colon
before ``{``, enum names, quoted strings with escapes). Its ``ParseError`` becomes a
:class:`~caffe_lrn.errors.NetParseError` whose one-line message reads
``net.prototxt:12:5: LRNParameter has no field named "locl_size"``.
"""
import re

from google.protobuf import text_format

from caffe_lrn.errors import NetParseError

# text_format's messages start with "line:column : " and often quote the offending source
# line ("'  lrn_param { ... }': "); both are dropped because the error carries them already.
_POSITION = re.compile(r"^\s*(\d+):(\d+)\s*:\s*")
_QUOTED_LINE = re.compile(r"^'.*?': (?=[A-Z])", re.DOTALL)
_MESSAGE_TYPE = re.compile(r'Message type "caffe\.([\w.]+)"')
_ENUM_VALUE = re.compile(r'Enum type "caffe\.([\w.]+)" has no value named (\S+?)\.?$')
_ENUM_NUMBER = re.compile(r'Enum type "caffe\.([\w.]+)" has no value with number (-?\d+)\.?$')


def _enum_names(message, qualified):
    """The value names of enum ``caffe.<qualified>`` (e.g. ``LRNParameter.NormRegion``)."""
    pool = message.DESCRIPTOR.file.pool
    try:
        enum = pool.FindEnumTypeByName("caffe." + qualified)
    except KeyError:
        return None
    return [value.name for value in enum.values]


def _clean(text, message):
    """Rewrite text_format's wording into a shorter, Caffe-flavoured one-line message."""
    text = _QUOTED_LINE.sub("", text.strip())
    for pattern, wording in ((_ENUM_VALUE, "named"), (_ENUM_NUMBER, "with number")):
        match = pattern.search(text)
        if match:
            names = _enum_names(message, match.group(1))
            short = match.group(1).rsplit(".", 1)[-1]
            text = f"{short} has no value {wording} {match.group(2)}"
            if names:
                text += f" (expected one of {', '.join(names)})"
            return text
    text = _MESSAGE_TYPE.sub(lambda m: m.group(1), text)
    text = text.replace("Couldn't", "could not")
    # text_format's own phrases start upper-case; lower-case them to read as one sentence
    # after "path:line:column: " (type names such as LRNParameter are left alone).
    if re.match(r"(Expected|Value|String|Integer|Invalid|Unknown) ", text):
        text = text[0].lower() + text[1:]
    return text.rstrip(".")


def _line_count(text):
    return text.count("\n") + 1


# What protobuf's C++ tokenizer (the one Caffe reads prototxt with) and Python's text_format
# disagree on: comments, quoted strings (their escapes), and a '+' sign outside them.
# (An exponent's sign, 1e+20, is part of a number.)
_TOKENS = re.compile(r"""#[^\n]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|(?<![0-9.][eE])\+""")
# C++'s escapes: simple ones, octal, \x hex, \u and \U code points.
_ESCAPE = re.compile(r"""\\(?:([abfnrtv\\'"])|(\?)|([0-7]{1,3})|(x[0-9A-Fa-f]{1,2})"""
                     r"|u([0-9A-Fa-f]{4})(?:\\u([0-9A-Fa-f]{4}))?|(U[0-9A-Fa-f]{8})|(.?))",
                     re.DOTALL)


def _position(text, index):
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _escape(match, text, offset, source):
    simple, question, octal, hexa, unit, low, wide, bad = match.groups()
    if bad is not None:
        line, column = _position(text, offset + match.start())
        raise NetParseError(f"invalid escape sequence \\{bad} in a string (protobuf reads "
                            r"\a \b \f \n \r \t \v \\ \? \' \" \ooo \xhh \uhhhh \Uhhhhhhhh)",
                            path=source, line=line, column=column)
    if question is not None:
        return "?"  # C++ reads \? as '?'; Python's parser would keep the backslash
    if unit is not None:
        high = int(unit, 16)
        if low is not None and 0xD800 <= high < 0xDC00 and 0xDC00 <= int(low, 16) < 0xE000:
            # A UTF-16 surrogate pair, as C++ reads it: one code point, put in as the
            # character itself (protobuf 4.25's Python parser knows no \U escape).
            point = 0x10000 + ((high - 0xD800) << 10) + (int(low, 16) - 0xDC00)
            return chr(point)
    return match.group()


def _as_protobuf_reads_it(text, source):
    """``text`` with the differences between protobuf's two text parsers settled C++'s way.

    Refused as C++ refuses them (NetParseError with line and column): an unknown escape
    such as ``"\\q"``, and a ``+`` sign (``alpha: +0.5``). Read as C++ reads them: ``\\?``
    and a surrogate pair ``\\ud83d\\ude00``, which Python's parser keeps as two characters
    or refuses.
    """
    if "+" not in text and "\\" not in text:
        return text  # nearly every prototxt: nothing to look at
    pieces, last = [], 0
    for token in _TOKENS.finditer(text):
        value = token.group()
        if value == "+":
            line, column = _position(text, token.start())
            raise NetParseError("unexpected '+': protobuf's text format has no plus sign "
                                "(write 0.5, not +0.5)", path=source, line=line,
                                column=column)
        if value[0] in "\"'" and "\\" in value:
            rewritten = _ESCAPE.sub(lambda m: _escape(m, text, token.start(), source), value)
            if rewritten != value:
                pieces += [text[last:token.start()], rewritten]
                last = token.end()
    return "".join(pieces) + text[last:] if pieces else text


def parse_text(text, message, source=None):
    """Parse Caffe text format ``text`` into ``message`` (a schema message) and return it.

    ``source`` names the input in errors (a path, or e.g. ``"lrn_param"``). On any syntax or
    schema error raises :class:`NetParseError` with ``line`` and ``column`` (1-based) and a
    one-line message: unknown field, bad enum value, bad or out-of-range number, missing
    colon, unterminated string or brace, unexpected end of input.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text.count(b"\n", 0, exc.start) + 1
            column = exc.start - (text.rfind(b"\n", 0, exc.start) + 1) + 1
            raise NetParseError(
                f"not UTF-8 text: byte 0x{text[exc.start]:02x} cannot be decoded",
                path=source, line=line, column=column, offset=exc.start) from None
    # A leading byte-order mark is an editor artefact, not content; dropping it keeps
    # line and column numbers as the user sees them.
    if text.startswith("\ufeff"):
        text = text[1:]
    text = _as_protobuf_reads_it(text, source)
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raw = str(exc)
        line, column = exc.GetLine(), exc.GetColumn()
        match = _POSITION.match(raw)
        if match:
            raw = raw[match.end():]
            if line is None:
                line, column = int(match.group(1)), int(match.group(2))
        detail = _clean(raw, message)
        if detail == 'expected "}"' and line is not None and line >= _line_count(text.rstrip()):
            detail = 'unexpected end of input: a "{" is not closed (expected "}")'
        elif detail.startswith("expected identifier or number, got }"):
            detail = 'unexpected "}": no open "{" to close'
        raise NetParseError(detail, path=source, line=line, column=column) from None
    return message
