"""Python identifiers from Caffe layer names (``pool1/norm1`` → ``pool1_norm1``)."""
import keyword
import re


def python_name(layer_name, taken=()):
    """A valid, unused Python identifier for ``layer_name``.

    Characters other than letters, digits and ``_`` become ``_``; a leading digit (or an
    empty name) gets a ``layer_`` prefix; keywords and names already in ``taken`` get a
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
