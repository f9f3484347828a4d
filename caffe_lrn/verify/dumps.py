"""Many dumps in one run: a validation set dumped batch by batch, verified file by file.

``caffe-lrn verify NET --blobs A.npz B.npz``, ``--blobs DIR`` (a directory of ``.npz``
files) or ``--blobs 'dumps/batch_*.npz'`` (a glob, expanded by caffe-lrn so that it works
unquoted in any shell too) checks every file on its own, as if it were verified alone, and
returns one :class:`~caffe_lrn.verify.check.NetReport` per file;
:mod:`caffe_lrn.verify.report` adds the totals over all of them (elements, differing, the
worst element of all, per-layer totals).

Files are checked several at once when the memory budget allows: an ``.npz`` is read whole,
so as many files run at once as fit in the budget next to their working memory, at most
one per thread; the threads left over go to each file's runs of images.
"""
import glob
import pathlib
from concurrent.futures import ThreadPoolExecutor, as_completed

from caffe_lrn.errors import InputFileError
from caffe_lrn.io.reference import BINARYPROTO_SUFFIX, NPY_SUFFIX, open_blobs
from caffe_lrn.io.stream import DEFAULT_MAX_MEMORY, FIXED_OVERHEAD, elements_per_chunk
from caffe_lrn.layers.backend import resolve_threads
from caffe_lrn.progress import NoProgress
from caffe_lrn.verify.check import verify_net

NPZ_SUFFIX = ".npz"
_GLOB_CHARS = set("*?[")


def _holds_blob_files(folder):
    return any(entry.is_file() and entry.name.endswith((NPY_SUFFIX, BINARYPROTO_SUFFIX))
               for entry in folder.iterdir())


def expand_references(paths):
    """The reference files and folders named by ``paths``, in order, each once.

    A path with ``*``, ``?`` or ``[`` is a glob (sorted matches; none is an error); a
    directory of ``.npy``/``.binaryproto`` blobs is one reference; any other directory
    stands for the ``.npz`` files in it (sorted); anything else is taken as it is.
    """
    found = []
    for text in paths:
        text = str(text)
        if _GLOB_CHARS & set(text) and not pathlib.Path(text).exists():
            matches = sorted(glob.glob(text))
            if not matches:
                raise InputFileError(f"{text}: no file matches this pattern")
            candidates = [pathlib.Path(match) for match in matches]
        else:
            candidates = [pathlib.Path(text)]
        for path in candidates:
            if path.is_dir() and not _holds_blob_files(path):
                dumps = sorted(entry for entry in path.iterdir()
                               if entry.is_file() and entry.name.endswith(NPZ_SUFFIX))
                if not dumps:
                    raise InputFileError(f"{path}: directory holds no .npz dumps and no "
                                         f".npy or .binaryproto blobs")
                candidates_here = dumps
            else:
                candidates_here = [path]
            for reference in candidates_here:
                if reference not in found:
                    found.append(reference)
    return found


def _size(path):
    """Bytes a reference holds in memory while it is checked (an .npz is read whole)."""
    return path.stat().st_size if path.is_file() else 0


#: The least working memory a file's runs of images get when files are checked at once.
MIN_RUN_MEMORY = 64 * 2**20


def files_at_once(paths, threads, max_memory):
    """How many of ``paths`` to check at once: each one read whole, next to at least
    :data:`MIN_RUN_MEMORY` for its runs, must fit in the budget; at most one per thread."""
    largest = max((_size(path) for path in paths), default=0)
    fits = (max_memory - FIXED_OVERHEAD) // (largest + MIN_RUN_MEMORY)
    return max(1, min(threads, len(paths), fits))


def _bytes(count):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1024 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024


def verify_dumps(net, paths, net_path="", max_memory=DEFAULT_MAX_MEMORY, threads=None,
                 progress_factory=None, **options):
    """:func:`~caffe_lrn.verify.check.verify_net` on each reference of ``paths`` (already
    expanded: :func:`expand_references`); a list of NetReports in the order of ``paths``.

    ``max_memory`` is shared by the files checked at once (:func:`files_at_once`), the
    ``threads`` among them. ``progress_factory(total_bytes, label, file_count)`` gives the
    bar, advanced by each file's bytes as it is done.
    """
    paths = [pathlib.Path(path) for path in paths]
    threads = resolve_threads(threads)
    at_once = files_at_once(paths, threads, max_memory)
    largest = max((_size(path) for path in paths), default=0)
    runs = max(MIN_RUN_MEMORY, (max_memory - FIXED_OVERHEAD - at_once * largest) // at_once)
    per_file = dict(options, threads=max(1, threads // at_once),
                    chunk_elements=elements_per_chunk(FIXED_OVERHEAD + runs))
    sizes = [_size(path) or 1 for path in paths]
    label = f"verifying {net.name or net_path}"
    progress = (progress_factory(sum(sizes), label, len(paths)) if progress_factory
                else NoProgress())

    def check(path):
        return verify_net(net, open_blobs(path), net_path=net_path, **per_file)

    reports = [None] * len(paths)
    with progress, ThreadPoolExecutor(max_workers=at_once,
                                      thread_name_prefix="caffe-lrn-dumps") as pool:
        futures = {pool.submit(check, path): index for index, path in enumerate(paths)}
        done_bytes = 0
        for done, future in enumerate(as_completed(futures), 1):
            index = futures[future]
            reports[index] = future.result()
            done_bytes += sizes[index]
            progress.set_label(f"{label}: {done}/{len(paths)} files, "
                               f"{_bytes(done_bytes)} of {_bytes(sum(sizes))}")
            progress.advance(sizes[index])
    return reports
