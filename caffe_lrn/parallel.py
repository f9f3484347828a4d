"""Cut a blob into pieces and run the pieces on a few threads.

NumPy's ufuncs and the numba kernels (compiled ``nogil``) release the GIL, so pieces of a
blob (runs of images, pixels or channel planes: they never interact) run in parallel on
plain threads. Each piece writes its own part of the output, so the result is the same for
any number of threads.

Every way the package cuts work is planned here:

- :func:`runs`: runs of a fixed length (images per chunk, for bounded memory);
- :func:`spans`: a given number of runs of even length (one per thread);
- :func:`per_run`: how many units of a given size fit a budget of elements;
- :func:`chunks`: index tuples cutting an (N, C, H, W) blob into runs of images, or runs
  along one axis of a single image when one image exceeds the budget (the NumPy engine);
- :func:`tiles`: runs of images, each with a run of an inner axis, one or more per thread
  (the numba kernels).
"""
from concurrent.futures import ThreadPoolExecutor

_pools = {}


def _pool(threads):
    pool = _pools.get(threads)
    if pool is None:
        pool = _pools[threads] = ThreadPoolExecutor(max_workers=threads,
                                                    thread_name_prefix="caffe-lrn")
    return pool


def _drop_pool(threads):
    pool = _pools.pop(threads, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def run_pieces(work, pieces, threads):
    """Call ``work(piece)`` for every piece, on up to ``threads`` threads; re-raise the first
    error."""
    pieces = list(pieces)
    if threads <= 1 or len(pieces) <= 1:
        for piece in pieces:
            work(piece)
        return
    futures = []
    for index, piece in enumerate(pieces):
        try:
            futures.append(_pool(min(threads, len(pieces))).submit(work, piece))
        except RuntimeError:
            # "can't start new thread": the system's thread limit (ulimit -u, cgroups).
            # Pieces never interact, so the rest run here, with the same bits.
            _drop_pool(min(threads, len(pieces)))
            for rest in pieces[index:]:
                work(rest)
            break
    for future in futures:
        future.result()


def runs(length, step):
    """(start, stop) runs of ``step`` covering ``range(length)``, the last one shorter."""
    for start in range(0, length, step):
        yield start, min(length, start + step)


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


def per_run(unit, budget):
    """How many units of ``unit`` elements fit ``budget`` elements: at least one."""
    return max(1, budget // max(1, unit))


def chunks(shape, axis, budget, chunk_images=None):
    """Index tuples cutting an (N, C, H, W) blob into pieces of about ``budget`` elements.

    Runs of ``chunk_images`` images when given, else of as many images as fit ``budget``;
    when one image alone exceeds ``budget`` (and ``chunk_images`` is not given), each image
    is cut along ``axis`` (1: channel planes, 2: rows) into runs that fit it.
    """
    num = shape[0]
    per_image = 1
    for extent in shape[1:]:
        per_image *= extent
    if chunk_images is None and per_image > budget:
        unit = per_image // shape[axis] if shape[axis] else per_image
        for image in range(num):
            for start, stop in runs(shape[axis], per_run(unit, budget)):
                yield (slice(image, image + 1),) + (slice(None),) * (axis - 1) + (
                    slice(start, stop),)
        return
    for start, stop in runs(num, chunk_images or per_run(per_image, budget)):
        yield (slice(start, stop),)


def tiles(num, inner, threads, chunk_images=None):
    """(n0, n1, i0, i1) tiles: runs of images, each with a run ``i0:i1`` of an inner axis
    of length ``inner``. ``chunk_images`` images a tile when given; else one run of images
    per thread, or, with fewer images than threads, each image cut into runs of the inner
    axis so that every thread has work."""
    if num == 0 or inner == 0:
        return []
    if chunk_images:
        return [(n0, n1, 0, inner) for n0, n1 in runs(num, chunk_images)]
    if num >= threads:
        return [(n0, n1, 0, inner) for n0, n1 in spans(num, threads)]
    per_image = -(-threads // num)
    return [(n, n + 1, i0, i1) for n in range(num) for i0, i1 in spans(inner, per_image)]
