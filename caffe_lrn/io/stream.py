"""Run an LRN layer over a blob larger than memory: runs of images in, outputs streamed out.

Images of an (N, C, H, W) blob never interact in an LRN layer (both regions normalize
within one image), so running the layer on runs of images and concatenating the results
gives exactly the bits of one run over the whole blob. :func:`run_npy` reads an ``.npy``
bottom (and top diff) a run of images at a time, runs :class:`~caffe_lrn.layers.lrn.LRNLayer`
on it, and appends each result to the output file, so neither the input nor the output
ever sits in memory whole.

Reading: the file is validated and memory-mapped (:func:`caffe_lrn.io.files.load_npy`), and
each run of images is read from its byte offset into an ordinary array
(:func:`read_images`), so that the pages of a several-GB input do not pile up in the
process's resident memory. Fortran-ordered files (whose images are not contiguous) are
sliced from the memory map instead.

Writing: ``OUT.npy`` receives ``top``; ``OUT.npz`` (any other name) receives ``top`` and,
with a top diff, ``bottom_diff``, as uncompressed zip64 members written in pieces. Either
way the file appears only when complete (a temporary file in the same folder, then a
rename) and an existing file is kept unless ``force``.
"""
import mmap
import os
import re
import shutil
import tempfile
import zipfile

import numpy as np

from caffe_lrn.errors import ParameterError
from caffe_lrn.io.files import check_output_path, load_npy, write_atomic
from caffe_lrn.layers.checks import (
    BlobSpec, check_blob, check_top_diff, native_dtype,
)
from caffe_lrn.layers.lrn import LRNLayer
from caffe_lrn.parallel import per_run, runs

#: Default working-memory budget of ``caffe-lrn run`` / ``verify`` (``--max-memory``).
DEFAULT_MAX_MEMORY = 512 * 2**20
#: What ``run`` writes: ``.npy`` (top alone) or ``.npz`` (top, and bottom_diff).
OUTPUT_EXTENSIONS = (".npy", ".npz")

# Working memory per element of a run of images, in units of the blob's itemsize, measured
# with tracemalloc on the engine: the run read from disk, top, Caffe's scale (kept for the
# backward pass), top diff, bottom_diff and NumPy temporaries come to 3.6-3.9 itemsizes per
# element for forward and backward; 6 leaves room for the allocator's slack.
WORK_PER_ELEMENT = 6
# The engine's own temporaries (it works on at most 2**19 elements at a time, in float64)
# and the interpreter: charged once, whatever the run length.
FIXED_OVERHEAD = 96 * 2**20

# Working memory per bottom element when verifying, in bytes, measured with tracemalloc:
# the bottom and reference runs and our top come to 12.5 bytes for a float32 blob when the
# bits agree; the comparison measures only differing elements, and when every element
# differs its float64 and int64 temporaries bring the total to 67 bytes; 100 leaves room
# for float64 blobs' slack.
VERIFY_BYTES_PER_ELEMENT = 100

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text):
    """Bytes from ``"512M"``, ``"1.5G"``, ``"300MB"``, ``"64MiB"`` or a plain integer.

    Units are binary (K = 1024 bytes). Raises :class:`ParameterError` on anything else.
    """
    match = _SIZE.match(str(text))
    if not match:
        raise ParameterError(f"a memory size looks like 512M, 2G or 1048576, got {text!r}")
    number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _UNITS[unit])
    if size <= 0:
        raise ParameterError(f"a memory size must be positive, got {text!r}")
    return size


def images_per_chunk(shape, itemsize, max_memory):
    """How many images of ``shape`` (N, C, H, W) to run at once within ``max_memory`` bytes.

    At least one: an image larger than the budget is still run whole (the engine then cuts
    it into rows or channel planes for its temporaries, but top and scale are per image).
    """
    per_image = int(np.prod(shape[1:], dtype=np.int64)) * itemsize * WORK_PER_ELEMENT
    if per_image == 0:
        return max(1, shape[0])
    return min(max(1, shape[0]), per_run(per_image, max_memory - FIXED_OVERHEAD))


def elements_per_chunk(max_memory, bytes_per_element=VERIFY_BYTES_PER_ELEMENT):
    """Blob elements to process at once within ``max_memory`` bytes (at least 1)."""
    return per_run(bytes_per_element, max_memory - FIXED_OVERHEAD)


def read_images(blob, start, stop):
    """Images ``start:stop`` of ``blob`` as a new in-memory array.

    A C-ordered ``np.memmap`` as :func:`caffe_lrn.io.files.load_npy` returns it is read from
    its file at the images' offset instead of through the map: pages touched through a map
    stay in the process's resident memory, so reading a blob larger than memory through it
    would make the process as large as the blob. An ``.npz`` member
    (:class:`caffe_lrn.io.lazy.ArchiveBlob`) reads its own images. Anything else is sliced
    and copied.
    """
    if hasattr(blob, "read_images"):
        return blob.read_images(start, stop)
    if (isinstance(blob, np.memmap) and isinstance(blob.base, mmap.mmap)
            and blob.filename and blob.flags.c_contiguous and blob.ndim >= 1):
        per_image = int(np.prod(blob.shape[1:], dtype=np.int64))
        count = (stop - start) * per_image
        shape = (stop - start,) + blob.shape[1:]
        if count == 0:
            return np.empty(shape, dtype=blob.dtype)
        offset = blob.offset + start * per_image * blob.dtype.itemsize
        return np.fromfile(blob.filename, dtype=blob.dtype, count=count,
                           offset=offset).reshape(shape)
    return np.array(blob[start:stop])


class NpyChunks:
    """An ``.npy`` blob read a run of images at a time.

    ``shape`` and ``dtype`` come from the header; ``read(start, stop)`` returns images
    ``start:stop`` as a new C-ordered array in the file's dtype.
    """

    def __init__(self, path, what="bottom"):
        self.path = path
        self.what = what
        self._map = load_npy(path, mmap=True)  # every header and size check happens here
        self.shape = tuple(self._map.shape)
        self.dtype = self._map.dtype

    def check_blob(self):
        """Caffe's and the engine's checks (rank 4, float32/float64) without reading data."""
        # A zero-stride view with the file's true shape: checked, never read.
        check_blob(np.broadcast_to(np.zeros((), self.dtype), self.shape), "LRN")

    @property
    def image_size(self):
        return int(np.prod(self.shape[1:], dtype=np.int64))

    def read(self, start, stop):
        return read_images(self._map, start, stop)

    def close(self):
        self._map = None


def _write_header(handle, shape, dtype):
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(handle, header)


def _write_array(handle, array):
    if array.size:
        handle.write(memoryview(np.ascontiguousarray(array).reshape(-1)).cast("B"))


def _compute(layer, bottom, top_diff, step, top_out, diff_out):
    """Run the layer over every run of ``step`` images, appending to the open outputs."""
    for start, stop in runs(bottom.shape[0], step):
        top = layer.forward(bottom.read(start, stop))
        _write_array(top_out, top)
        del top
        if top_diff is not None:
            _write_array(diff_out, layer.backward(top_diff.read(start, stop)))


def run_npy(params, bottom_path, output, top_diff_path=None, max_memory=DEFAULT_MAX_MEMORY,
            chunk_images=None, force=False, layer_options=None):
    """Run an LRN layer (``params``: LRNParams) over the ``.npy`` blob at ``bottom_path``.

    Writes ``top`` (and ``bottom_diff`` when ``top_diff_path`` is given) to ``output``:
    ``.npy`` for ``top`` alone, otherwise an ``.npz``. ``chunk_images`` fixes the run length;
    by default it follows ``max_memory``. Results equal ``LRNLayer(params).forward`` (and
    ``backward``) on the whole blob, bit for bit. ``layer_options`` are passed to
    ``LRNLayer`` (``exact``, ``threads``, ``backend``). Returns a summary dict (``shape``,
    ``dtype``, ``images_per_chunk``, ``outputs``).
    """
    output = str(output)
    extension = os.path.splitext(output)[1].lower()
    if extension not in OUTPUT_EXTENSIONS:
        raise ParameterError(f"{output}: unknown output extension {extension or '(none)'}; "
                             f"expected one of {', '.join(OUTPUT_EXTENSIONS)}")
    single = extension == ".npy"
    if single and top_diff_path is not None:
        raise ParameterError(f"{output}: an .npy output holds top only; write top and "
                             "bottom_diff to an .npz")
    inputs = (bottom_path, top_diff_path)
    check_output_path(output, force, inputs)  # refuse before any work
    bottom = NpyChunks(bottom_path)
    bottom.check_blob()
    dtype = native_dtype(bottom.dtype)
    top_diff = None
    if top_diff_path is not None:
        top_diff = NpyChunks(top_diff_path, "top_diff")
        check_top_diff(top_diff, BlobSpec(bottom.shape, dtype))  # headers only, no data
    if chunk_images is not None and (
            isinstance(chunk_images, bool) or not isinstance(chunk_images, (int, np.integer))
            or chunk_images < 1):
        raise ParameterError(f"chunk size must be a whole number of images, at least 1, got "
                             f"{chunk_images!r}")
    step = int(chunk_images) if chunk_images else images_per_chunk(
        bottom.shape, dtype.itemsize, max_memory)
    layer = LRNLayer(params, **(layer_options or {}))

    def write_npy(handle):
        _write_header(handle, bottom.shape, dtype)
        _compute(layer, bottom, None, step, handle, None)

    def write_npz(handle):
        folder = os.path.dirname(os.path.abspath(output))
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive, \
                tempfile.TemporaryFile(dir=folder, prefix=".bottom_diff.") as diff_file:
            with archive.open("top.npy", "w", force_zip64=True) as top_out:
                _write_header(top_out, bottom.shape, dtype)
                if top_diff is not None:
                    _write_header(diff_file, bottom.shape, dtype)
                _compute(layer, bottom, top_diff, step, top_out, diff_file)
            if top_diff is not None:
                # Zip members are written one after the other: bottom_diff waited in a
                # temporary file while top was streamed.
                diff_file.seek(0)
                with archive.open("bottom_diff.npy", "w", force_zip64=True) as diff_out:
                    shutil.copyfileobj(diff_file, diff_out, 16 * 2**20)

    write_atomic(output, write_npy if single else write_npz, force=force, inputs=inputs)
    return {"shape": bottom.shape, "dtype": dtype, "images_per_chunk": step,
            "outputs": ["top"] + (["bottom_diff"] if top_diff is not None else [])}
