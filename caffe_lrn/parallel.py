"""Run independent pieces of work on a few threads.

NumPy's ufuncs and the numba kernels (compiled ``nogil``) release the GIL, so pieces of a
blob (runs of images, pixels or channel planes: they never interact) run in parallel on
plain threads. Each piece writes its own part of the output, so the result is the same for
any number of threads.
"""
from concurrent.futures import ThreadPoolExecutor

_pools = {}


def _pool(threads):
    pool = _pools.get(threads)
    if pool is None:
        pool = _pools[threads] = ThreadPoolExecutor(max_workers=threads,
                                                    thread_name_prefix="caffe-lrn")
    return pool


def run_pieces(work, pieces, threads):
    """Call ``work(piece)`` for every piece, on up to ``threads`` threads; re-raise the first
    error."""
    pieces = list(pieces)
    if threads <= 1 or len(pieces) <= 1:
        for piece in pieces:
            work(piece)
        return
    futures = [_pool(min(threads, len(pieces))).submit(work, piece) for piece in pieces]
    for future in futures:
        future.result()


def spans(length, parts):
    """``parts`` contiguous (start, stop) runs covering ``range(length)``, sizes within one
    (fewer when ``length < parts``; none for an empty range)."""
    if length <= 0:
        return
    parts = max(1, min(parts, length))
    base, extra = divmod(length, parts)
    start = 0
    for index in range(parts):
        stop = start + base + (1 if index < extra else 0)
        yield start, stop
        start = stop
