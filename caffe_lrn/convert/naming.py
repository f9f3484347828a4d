"""Names and text from an input, made safe for the files caffe-lrn generates.

Every layer name, blob name and path that reaches generated output goes through one of these
functions, so that no input can change what the output means:

- :func:`python_name`: a Python identifier (``pool1/norm1`` -> ``pool1_norm1``);
- :func:`python_string`: a Python string literal (``repr``: quotes, backslashes, newlines,
  NUL and non-printable characters escaped) for code;
- :func:`docstring_text`: text inside a generated docstring, escaped so that no quote,
  backslash or line break of the input survives raw (a ``\"\"\"`` in a blob name cannot end
  the docstring);
- :func:`prototxt_string`: a quoted protobuf text-format string (C escapes, read back by
  protobuf's parser as the same string);
- :func:`comment_text`: one line of a ``#`` comment (line breaks and control characters
  escaped, so the comment cannot end early).
"""
import keyword
import re


def python_name(layer_name, taken=()):
    """A valid, unused Python identifier for ``layer_name``.

    Characters other than ASCII letters, digits and ``_`` become ``_``; a leading digit (or
    an empty name) gets a ``layer_`` prefix; keywords and names already in ``taken`` get a
    numeric suffix.
    """
    name = re.sub(r"\W", "_", layer_name, flags=re.ASCII)
    if not name or name[0].isdigit():
        name = "layer_" + name
    if keyword.iskeyword(name) or name.startswith("__"):
        name = "layer_" + name
    candidate, index = name, 2
    while candidate in taken or candidate in RESERVED:
        candidate = f"{name}_{index}"
        index += 1
    return candidate


# Names the emitted module defines itself.
RESERVED = frozenset({"LAYERS", "SOURCE", "_BUILT", "_lrn"})


def python_string(text):
    """A Python string literal that evaluates to ``str(text)``."""
    return repr(str(text))


def docstring_text(text):
    """``str(text)`` for the inside of a generated (non-raw) docstring.

    Backslashes, line breaks, NUL and every non-ASCII or non-printable character become
    escape sequences, and ``"`` becomes ``\\"``: the docstring reads back as the input's
    text, and nothing in it can close the docstring or start a statement.
    """
    return str(text).encode("unicode_escape").decode("ascii").replace('"', '\\"')


_PROTOTXT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "'": "\\'",
                     "\\": "\\\\"}


def _prototxt_char(char):
    if char in _PROTOTXT_ESCAPES:
        return _PROTOTXT_ESCAPES[char]
    code = ord(char)
    # Every other control character as an octal escape: the file stays printable text (a
    # raw DEL or NUL would make it look binary), whichever protobuf release wrote or reads it
    # (protobuf 4.25's own CEscape leaves DEL raw).
    return f"\\{code:03o}" if code < 0x20 or code == 0x7F else char


def prototxt_string(text):
    """A quoted protobuf text-format string that protobuf's parser reads back as ``text``.

    Quotes, backslashes and line breaks get C escapes and other control characters octal
    ones; every other character stays as it is (written as UTF-8, as Caffe reads it).
    """
    return '"' + "".join(_prototxt_char(char) for char in str(text)) + '"'


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def comment_text(text):
    """``str(text)`` on one comment line: line breaks and control characters escaped."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"),
                        str(text))

