"""``caffe-lrn run``: run one LRN layer forward (and backward) as Caffe does.

    caffe-lrn run NET --layer NAME --input X.npy [--top-diff DY.npy] -o OUT.npz [--force]
    caffe-lrn run --lrn-param TEXT --input X.npy [--top-diff DY.npy] -o OUT.npz [--force]
    caffe-lrn run ... --input BIG.npy -o TOP.npy [--max-memory 512M]

``--fast`` runs the fast mode (top within 2 ULP of Caffe's bits; the README has the
bounds); ``--threads`` and ``--backend`` choose how the work runs, never the results.
``--profile`` chooses which Caffe build's bits to produce (the BLAS it was linked against:
``openblas-avx512``, the default, ``openblas-avx2`` or ``atlas``; default
``CAFFE_LRN_PROFILE``).

The layer comes from a net file (prototxt or caffemodel, any vintage; looked up by name
among its LRN layers) or from an ``lrn_param`` in Caffe's text format. ``X.npy`` is an
(N, C, H, W) float32 or float64 blob; ``OUT.npz`` gets ``top`` and, with ``--top-diff``,
``bottom_diff``, both in the input's dtype; ``OUT.npy`` gets ``top`` alone. An existing
output is kept unless ``--force``.

Blobs larger than memory: the input is memory-mapped and run a few images at a time (as
many as ``--max-memory`` allows, default 512M), each result appended to the output file,
so memory use does not grow with the blob (:mod:`caffe_lrn.io.stream`).
"""
import os

from caffe_lrn.cli.exits import EXIT_OK, UsageError
from caffe_lrn.errors import LayerNotFoundError, ParameterError
from caffe_lrn.io.files import check_output_path
from caffe_lrn.io.stream import DEFAULT_MAX_MEMORY, OUTPUT_EXTENSIONS, parse_size, run_npy
from caffe_lrn.nets.loader import load_net
from caffe_lrn.nets.lrn_layers import lrn_layer_named, lrn_layers
from caffe_lrn.numerics.profiles import get_profile, profile_names
from caffe_lrn.params import LRNParams


def find_layer(net_path, name):
    """The LRNParams of the LRN layer called ``name`` in the net at ``net_path``."""
    net = load_net(net_path)
    try:
        layers = lrn_layers(net)
    except ParameterError as exc:
        raise ParameterError(f"{net_path}: {exc}") from None
    try:
        info = lrn_layer_named(layers, name)
    except LayerNotFoundError as exc:
        raise LayerNotFoundError(f"{net_path}: {exc}") from None
    if info is not None:
        return info.params
    names = ", ".join(repr(info.name) for info in layers) or "none"
    other = [layer.type for layer in net.layer if layer.name == name]
    if other:
        raise LayerNotFoundError(f"{net_path}: layer {name!r} has type {other[0]!r}, not "
                                 f"'LRN'; LRN layers: {names}")
    raise LayerNotFoundError(f"{net_path}: no LRN layer named {name!r}; LRN layers: {names}")


def run(args):
    if args.lrn_param is not None and (args.net is not None or args.layer is not None):
        raise UsageError("give either NET --layer NAME or --lrn-param TEXT, not both")
    if args.lrn_param is None and (args.net is None or args.layer is None):
        raise UsageError("give NET --layer NAME, or --lrn-param TEXT")
    if args.chunk is not None and args.chunk < 1:
        raise UsageError(f"--chunk must be at least 1, got {args.chunk}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    extension = os.path.splitext(args.output)[1].lower()
    if extension not in OUTPUT_EXTENSIONS:
        raise UsageError(f"-o {args.output}: unknown extension {extension or '(none)'}; write "
                         "OUT.npz (top, and bottom_diff with --top-diff) or OUT.npy (top alone)")
    if extension == ".npy" and args.top_diff is not None:
        raise UsageError("an .npy output holds top only; with --top-diff write an .npz")
    max_memory = parse_size(args.max_memory)
    profile = get_profile(args.profile)
    # Refuse before any work is done.
    check_output_path(args.output, args.force, inputs=(args.input, args.top_diff, args.net))

    if args.lrn_param is not None:
        params = LRNParams.from_text(args.lrn_param)
        source = "lrn_param"
    else:
        params = find_layer(args.net, args.layer)
        source = f"layer {args.layer!r}"
    # Runs of images are read, computed and appended to the output one at a time, so a
    # blob larger than memory runs within --max-memory (results do not depend on it).
    layer_options = dict(exact=not args.fast, threads=args.threads, backend=args.backend,
                         profile=profile)
    summary = run_npy(params, args.input, args.output, top_diff_path=args.top_diff,
                      max_memory=max_memory, chunk_images=args.chunk, force=args.force,
                      layer_options=layer_options)
    shape = "x".join(str(d) for d in summary["shape"])
    mode = f"fast mode, profile {profile.name}" if args.fast else f"exact as {profile.build}"
    print(f"{args.output}: {', '.join(summary['outputs'])} of {source} "
          f"({params.norm_region}, local_size {params.local_size}) on {shape} "
          f"{summary['dtype']}, {mode}")
    return EXIT_OK


def register(subparsers):
    parser = subparsers.add_parser(
        "run", help="run an LRN layer forward (and backward) bit for bit as Caffe",
        description="Run one LRN layer exactly as Caffe's CPU code does: the layer from a "
                    "net (NET --layer NAME) or from an lrn_param text (--lrn-param).")
    parser.add_argument("net", metavar="NET", nargs="?",
                        help="net file (.prototxt or .caffemodel) holding the layer")
    parser.add_argument("--layer", metavar="NAME", help="name of the LRN layer in NET")
    parser.add_argument("--lrn-param", metavar="TEXT",
                        help='the layer\'s lrn_param, e.g. "local_size: 3 alpha: 5e-05 '
                             'norm_region: WITHIN_CHANNEL"')
    parser.add_argument("--input", metavar="X.npy", required=True,
                        help="bottom blob, (N, C, H, W) float32 or float64")
    parser.add_argument("--top-diff", metavar="DY.npy",
                        help="top diff for the backward pass (the top's shape and dtype)")
    parser.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="OUT.npz: top, and bottom_diff with --top-diff; OUT.npy: top "
                             "alone (memory-mappable)")
    parser.add_argument("--force", action="store_true", help="overwrite OUT.npz if it exists")
    parser.add_argument("--chunk", metavar="IMAGES", type=int,
                        help="images processed at once (default: as many as --max-memory "
                             "allows; the results do not depend on it)")
    parser.add_argument("--max-memory", metavar="SIZE",
                        default=f"{DEFAULT_MAX_MEMORY // 2**20}M",
                        help="working-memory budget that sets how many images run at once "
                             "(default %(default)s; e.g. 256M, 2G)")
    parser.add_argument("--fast", action="store_true",
                        help="fast mode: a cheaper power, top within 2 float32 ULP of "
                             "Caffe's bits instead of equal to them")
    parser.add_argument("--profile", metavar="P",
                        help="the Caffe build whose bits to produce: " +
                             ", ".join(profile_names()[:3]) + " or an alias such as "
                             "reference (default: CAFFE_LRN_PROFILE, else openblas-avx512)")
    parser.add_argument("--threads", metavar="N", type=int,
                        help="threads to use (default: CAFFE_LRN_THREADS, else every core; "
                             "the results do not depend on it)")
    parser.add_argument("--backend", choices=("auto", "numpy", "numba"),
                        help="engine: NumPy, or the numba kernels of the 'fast' extra "
                             "(default: CAFFE_LRN_BACKEND, else auto: numba when installed; "
                             "the results do not depend on it)")
    parser.set_defaults(func=run)
    return parser
