"""``caffe-lrn verify``: check reference LRN activations against caffe-lrn's engine.

    caffe-lrn verify NET --blobs REF [REF ...] [--layer NAME ...] [--max-ulp N] [--profile P]
                     [--fast] [--json]
                     [--against tf|torch|onnx ...] [--against-max-ulp N] [--native]
                     [--plot OUT.png [--force]] [--phase TRAIN|TEST] [--stage S] [--level N]
    caffe-lrn verify --example

Exit 0 when every checked layer passes, 1 when any fails or cannot be verified, 2 on
usage errors.
"""
import argparse
import math
import sys
import textwrap

from caffe_lrn.cli.exits import EXIT_FAILURE, EXIT_OK, UsageError
from caffe_lrn.convert import frameworks
from caffe_lrn.convert.records import FRAMEWORKS
from caffe_lrn.errors import ParameterError
from caffe_lrn.io.files import check_output_path
from caffe_lrn.io.stream import DEFAULT_MAX_MEMORY, elements_per_chunk, parse_size
from caffe_lrn.nets.loader import load_net
from caffe_lrn.nets.state import PHASES, State
from caffe_lrn.numerics.profiles import get_profile, profile_names
from caffe_lrn.progress import Progress
from caffe_lrn.verify import report as render
from caffe_lrn.verify.check import verify_paths
from caffe_lrn.verify.dumps import expand_references, verify_dumps
from caffe_lrn.verify.examples import EXAMPLES, PROVENANCE, example_paths
from caffe_lrn.verify.plot import plot_channel_ulps, require_matplotlib

DESCRIPTION = """\
Run each LRN layer of NET on its bottom blob from a reference dump REF and compare the
result with REF's top blob, element by element, in float32 ULPs. By default a layer passes
only when it is bit-identical; --max-ulp N accepts up to N ULP (for references from other
Caffe builds: GPU, MKL). A NaN/inf pattern mismatch always fails.

Caffe builds round differently (the BLAS library decides whether axpy fuses a*x + y):
--profile auto (the default) runs each layer as the default build (OpenBLAS with AVX-512
kernels) and, only if that is not bit-identical, as the other builds, and reports which
build reproduces the dump (or the closest one). --profile NAME runs one build only:
openblas-avx512, openblas-avx2, atlas (aliases: reference, netlib, openblas-haswell, ...).

--fast checks the engine's fast mode (LRNLayer(exact=False): a cheaper power, top within
2 float32 ULP of the exact engine). It is not bit for bit, so pair it with --max-ulp 2:
without it, layers fail wherever the fast power rounds differently from glibc's powf.

NET: a Caffe net, text (.prototxt) or binary (.caffemodel), any format version.
REF: an .npz keyed by Caffe blob names, or a directory of <blob>.npy or <blob>.binaryproto
files (one per blob). In file names and npz keys '/' is written %2F and '%' is written %25
(GoogLeNet's pool1/norm1 -> pool1%2Fnorm1.npy).

Several dumps (a validation set dumped batch by batch): --blobs A.npz B.npz, --blobs DIR
(a directory of .npz files) or --blobs 'DIR/*.npz'. Each file is checked as if alone, then
the totals follow: elements, differing, per-layer totals and the worst element of all,
named by file, layer and (n, c, h, w). Files are checked several at once when
--max-memory allows.

The net is built for one state, as Caffe builds it: --phase (default TEST), --level and
--stage decide which layers their include/exclude rules keep, so a net with TRAIN and TEST
variants of a layer is checked with the chosen variant only.

--example runs the bundled examples: three BVLC nets whose LRN blobs were dumped by a real
Caffe build."""


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of ULPs, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return int(value) if value == int(value) else value


def _profile_name(text):
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return get_profile(text).name
    except ParameterError:
        raise argparse.ArgumentTypeError(
            f"must be auto or one of {', '.join(profile_names())}, got {text!r}") from None


def register(subparsers):
    parser = subparsers.add_parser(
        "verify", help="verify reference LRN activations (float32 ULPs, bit for bit)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("net", nargs="?", metavar="NET",
                        help="Caffe net: .prototxt or .caffemodel (text or binary)")
    parser.add_argument("--blobs", metavar="REF", nargs="+",
                        help="reference blobs: .npz, or a directory of .npy/.binaryproto "
                             "files; several dumps: more files, a directory of .npz files "
                             "or a glob ('dumps/*.npz'), each checked, then totals")
    parser.add_argument("--layer", action="append", metavar="NAME", dest="layers",
                        help="check only this LRN layer (repeatable; default: all)")
    parser.add_argument("--max-ulp", type=_non_negative, metavar="N", default=None,
                        help="pass layers at most N float32 ULP away (default: bit-identical)")
    parser.add_argument("--profile", metavar="P", default="auto", type=_profile_name,
                        help="the Caffe build to run as: auto (default: find it per layer), "
                             "openblas-avx512, openblas-avx2, atlas, or an alias")
    parser.add_argument("--fast", action="store_true",
                        help="run the engine's fast mode (top within 2 ULP of the exact "
                             "engine: use with --max-ulp 2)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON (schema caffe-lrn/verify/3)")
    parser.add_argument("--against", action="append", choices=FRAMEWORKS, default=[],
                        metavar="FRAMEWORK",
                        help="also run each layer converted to FRAMEWORK (tf, torch, onnx) "
                             "and report its distance from the reference (repeatable)")
    parser.add_argument("--against-max-ulp", type=_non_negative, metavar="N", default=None,
                        help="fail a layer when a --against framework is more than N ULP "
                             "away (default: framework distances are informational)")
    parser.add_argument("--native", action="store_true",
                        help="with --against, run the framework's own LRN op "
                             "(tf.nn.local_response_normalization, torch LocalResponseNorm, "
                             "ONNX LRN) instead of Caffe's order of operations in its ops")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="draw per-channel max ULP of each layer (needs matplotlib)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite the --plot file if it exists")
    parser.add_argument("--max-memory", metavar="SIZE", default=None,
                        help="working-memory budget that sets how many images are checked "
                             "at once (default 512M; e.g. 256M, 2G); memory-mapped .npy "
                             "blobs larger than memory are read a run of images at a time")
    parser.add_argument("--threads", metavar="N", type=int, default=None,
                        help="runs of images checked at once (default: CAFFE_LRN_THREADS, "
                             "else every core); the report does not depend on it")
    parser.add_argument("--phase", choices=PHASES, default="TEST",
                        help="build the net for this phase, as Caffe does: layers whose "
                             "include/exclude rules leave them out are skipped (default TEST)")
    parser.add_argument("--stage", action="append", default=[], metavar="NAME",
                        help="a stage of the net state, for include/exclude rules with "
                             "stage/not_stage (repeatable)")
    parser.add_argument("--level", type=int, default=0, metavar="N",
                        help="the net state's level, for min_level/max_level rules "
                             "(default 0)")
    parser.add_argument("--example", action="store_true",
                        help="verify the bundled BVLC examples (no NET/--blobs needed)")
    parser.set_defaults(func=run)
    return parser


# A bar only for runs long enough to want one: many layers or large blobs.
PROGRESS_MIN_ELEMENTS = 1 << 21
PROGRESS_MIN_LAYERS = 8


def _progress_factory(total, label, layer_count):
    long_run = total >= PROGRESS_MIN_ELEMENTS or layer_count >= PROGRESS_MIN_LAYERS
    # enabled=None: drawn only when stderr is a terminal.
    return Progress(total, label, stream=sys.stderr, enabled=None if long_run else False)


def _options(args):
    return dict(layers=args.layers, max_ulp=args.max_ulp, against=tuple(args.against),
                fast=args.fast, threads=args.threads, profile=args.profile,
                against_max_ulp=args.against_max_ulp, native=args.native,
                progress_factory=_progress_factory,
                chunk_elements=elements_per_chunk(_budget(args)),
                state=State(args.phase, args.level, tuple(args.stage)))


def _budget(args):
    return DEFAULT_MAX_MEMORY if args.max_memory is None else parse_size(args.max_memory)


def run(args):
    if args.example:
        if args.net or args.blobs:
            raise UsageError("--example takes no NET or --blobs")
        if args.layers:
            raise UsageError("--example checks every LRN layer; --layer needs NET")
    else:
        if not args.net:
            raise UsageError("NET is required (or --example for the bundled examples)")
        if not args.blobs:
            raise UsageError("--blobs REF is required: the reference blobs to verify")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    if args.force and not args.plot:
        raise UsageError("--force applies to --plot only")
    if args.against_max_ulp is not None and not args.against:
        raise UsageError("--against-max-ulp needs --against FRAMEWORK")
    if args.native and not args.against:
        raise UsageError("--native needs --against FRAMEWORK")
    # Optional packages and the output file are checked before the work, not after it.
    if args.plot:
        check_output_path(args.plot, args.force, inputs=(args.net, *(args.blobs or ())))
        require_matplotlib()
    for framework in args.against:
        frameworks.import_framework(framework)

    if args.example:
        reports = _run_examples(args)
    else:
        reports = _run_dumps(args)

    policy = dict(max_ulp=args.max_ulp, against=args.against,
                  against_max_ulp=args.against_max_ulp, native=args.native, fast=args.fast,
                  profile=args.profile)
    if args.json:
        sys.stdout.write(render.render_json(reports, **policy))
    elif args.example:
        sys.stdout.write(_render_examples(reports, args))
    else:
        sys.stdout.write(render.render_text(reports))
    if args.plot:
        plot_channel_ulps(reports, args.plot, force=args.force)
        if not args.json:
            print(f"plot: per-channel max ULP written to {args.plot}")
    sys.stdout.flush()
    return EXIT_OK if reports and all(r.passed for r in reports) else EXIT_FAILURE


def _run_dumps(args):
    references = expand_references(args.blobs)
    if len(references) == 1:
        return [verify_paths(args.net, references[0], **_options(args))]
    options = _options(args)
    options.pop("chunk_elements")
    options["progress_factory"] = _dumps_progress_factory
    return verify_dumps(load_net(args.net), references, net_path=args.net,
                        max_memory=_budget(args), **options)


def _dumps_progress_factory(total_bytes, label, file_count):
    return Progress(total_bytes, label, stream=sys.stderr, enabled=None)


def _run_examples(args):
    reports = []
    for example in EXAMPLES:
        with example_paths(example) as (net, blobs):
            report = verify_paths(net, blobs, title=example.title, **_options(args))
        # Show the shipped file names, not the temporary paths a zipped install would use.
        report.net = f"caffe_lrn/examples/{example.net}"
        report.blobs = f"caffe_lrn/examples/{example.blobs}"
        reports.append(report)
    return reports


def _render_examples(reports, args):
    about = {example.title: example for example in EXAMPLES}
    lines = [
        "caffe-lrn verify --example",
        "",
        _wrap("Checks caffe-lrn's LRN engine against a real Caffe build: every LRN layer of "
              "three BVLC nets is run on its bottom blob, and the result is compared with "
              "Caffe's own top blob, element by element, in float32 ULPs."),
        _wrap(PROVENANCE),
        _wrap(f"Policy: a layer passes when it is {render.policy_text(args.max_ulp)}."),
    ]
    if args.fast:
        note = render.fast_mode_note(args.max_ulp)
        lines.append(_wrap(note[0].upper() + note[1:] + "."))
    for number, report in enumerate(reports, 1):
        example = about[report.title]
        counts = report.counts()
        verdict = "PASS" if report.passed else "FAIL"
        lines += [
            "",
            f"[{number}/{len(reports)}] {example.title}: {verdict}"
            f" ({counts['pass']} of {len(report.checks)} layers)",
            _wrap(example.about + ".", indent="  "),
            f"  net:       {report.net}",
            f"  reference: {report.blobs}",
        ]
        build = render.build_text([report], report.profile)
        if build:
            lines.append(_wrap(f"build:     {build}", indent="  ", hang=" " * 13))
        lines += [
            "",
            render.render_table(report, compact=True),
        ]
        extra = render.notes(report)
        if extra:
            lines += [""] + ["  " + note for note in extra]
    lines += ["", render.summary_line(reports)]
    if all(report.passed for report in reports):
        summary = render.summary(reports)
        lines.append(
            "Every LRN output matches Caffe's" +
            (" bit for bit." if summary["differing"] == 0 else
             f" within {render.fmt_ulp(float(args.max_ulp))} ULP."))
        build = render.build_text(reports, args.profile)
        if build:
            lines.append(_wrap(f"The dumps were made by {build}."))
    lines += ["", "Your own net: caffe-lrn verify NET --blobs REF.npz   (caffe-lrn verify -h)"]
    return "\n".join(lines) + "\n"


def _wrap(text, width=79, indent="", hang=None):
    return "\n".join(textwrap.wrap(text, width, initial_indent=indent,
                                   subsequent_indent=indent if hang is None else hang))
