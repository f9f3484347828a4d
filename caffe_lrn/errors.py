"""The project's typed errors.

Every error the API raises on bad input derives from :class:`CaffeLRNError`; the CLI prints
such an error as one line on stderr and exits with code 1. Messages state the rule and the
value that broke it.
"""


def shorten(text, limit=200):
    """``text`` for a one-line message: a very long one (a 5000-character path, a
    400-digit number) is cut in the middle, with its length said."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit // 2]}...{text[-limit // 2:]} ({len(text)} characters)"


class CaffeLRNError(Exception):
    """Base class of every error caffe-lrn raises on bad input or a failed check."""


class NetParseError(CaffeLRNError):
    """A net file could not be parsed (text: line and column; binary: byte offset)."""

    def __init__(self, message, path=None, line=None, column=None, offset=None):
        self.path = path
        self.line = line
        self.column = column
        self.offset = offset
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f":{line}"
                if column is not None:
                    where += f":{column}"
            elif offset is not None:
                where += f": at byte {offset}"
            where += ": "
        super().__init__(where + message)


class NetUpgradeError(CaffeLRNError):
    """A legacy (V0/V1) net cannot be upgraded, or mixes formats Caffe refuses."""


class ParameterError(CaffeLRNError):
    """A layer parameter breaks one of Caffe's rules (e.g. an even local_size)."""


class BlobError(CaffeLRNError):
    """An array has the wrong rank, shape, dtype, or is otherwise unusable as a blob."""


class LayerStateError(CaffeLRNError):
    """A layer method was called out of order (e.g. backward before forward)."""


class LayerNotFoundError(CaffeLRNError):
    """A named layer or blob does not exist in the net or reference."""


class ConversionError(CaffeLRNError):
    """A conversion between conventions is impossible (e.g. an even window to Caffe)."""


class MissingDependencyError(CaffeLRNError):
    """An optional framework (TensorFlow, PyTorch, ONNX Runtime, ...) is not installed."""


class OutputExistsError(CaffeLRNError):
    """An output file exists and overwriting was not asked for (--force)."""


class OutputIsInputError(OutputExistsError):
    """An output path is (or resolves through links to) one of the command's inputs."""


class InputFileError(CaffeLRNError):
    """An input file is missing, unreadable, or not in a format caffe-lrn reads."""


class OutOfMemoryError(CaffeLRNError, MemoryError):
    """The work did not fit in the memory the process may use (a net too large to parse
    under the process's memory limit). Also a MemoryError, so ``except MemoryError`` sees
    it."""


class ConvertedModelError(CaffeLRNError):
    """A converted model (ONNX, TensorFlow, TFLite, ncnn, OpenVINO) cannot be read or repaired."""
