"""``caffe-lrn bench``: time the LRN engine against PyTorch, TensorFlow, ONNX Runtime, OpenCV
and a NumPy floor, check their outputs, and print the pass/fail flags of the performance goals.

Each thread count runs in a fresh process (thread pools are fixed when libraries load).
The exit code is 0 when the benchmark ran; with ``--strict`` it is 1 if any flag is FAIL.
"""
import argparse
import json
import sys

from caffe_lrn.bench import measure as bench, peers as bench_peers, report as bench_report
from caffe_lrn.bench.forms import format_forms, measure_forms
from caffe_lrn.cli.exits import EXIT_FAILURE, EXIT_OK
from caffe_lrn.io.files import check_output_path, write_text

# Plain text for --help (the module docstring above is reStructuredText).
DESCRIPTION = (
    "Time the LRN engine against PyTorch, TensorFlow, ONNX Runtime, OpenCV and a NumPy "
    "floor, check their outputs, and print the pass/fail flags of the performance goals. "
    "Each thread count runs in a fresh process. Exit 0 when the benchmark ran; with "
    "--strict, 1 if any flag is FAIL.")

#: The ``--cases`` name of the verify case (:mod:`caffe_lrn.bench.verify_case`).
VERIFY_CASE = "V"


def _list_of(choices):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"give at least one of {', '.join(choices)}")
        bad = [item for item in items if item not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(bad)}; choose from {', '.join(choices)}")
        return list(dict.fromkeys(items))
    return parse


def _peers(text):
    if text.strip() == "none":
        return []
    return _list_of(bench_peers.PEER_NAMES)(text)


def _threads(text):
    try:
        counts = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"whole numbers, got {text!r}") from None
    if not counts or any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError(f"counts of at least 1, got {text!r}")
    return sorted(set(counts))


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < (1 if kind is int else 0) or value != value:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def add_arguments(parser):
    parser.add_argument("--cases", type=_list_of(bench.CASE_NAMES + (VERIFY_CASE,)),
                        default=list(bench.CASE_NAMES) + [VERIFY_CASE],
                        help="cases to run: A (AlexNet norm1), B (norm2), C (cifar10 WITHIN), "
                             "V (verify end to end on a generated 1 GB multi-file dump); "
                             "default A,B,C,V")
    parser.add_argument("--passes", type=_list_of(bench.PASSES),
                        default=list(bench.PASSES), help="forward,backward (default both)")
    parser.add_argument("--threads", type=_threads, default=None,
                        help="thread counts, e.g. 1,2 (default: 1 and all cores)")
    parser.add_argument("--peers", type=_peers, default=None,
                        help=f"peers to time: {','.join(bench_peers.PEER_NAMES)} or none "
                             "(default: all that are installed)")
    parser.add_argument("--repeat", type=_positive(int), default=7,
                        help="timed calls per cell; the median is reported (default 7)")
    parser.add_argument("--warmup", type=int, default=2, choices=range(0, 101),
                        metavar="N", help="untimed calls before timing (default 2)")
    parser.add_argument("--budget", type=_positive(float), default=20.0, metavar="SECONDS",
                        help="stop timing a cell after this long, once 3 calls are timed "
                             "(default 20)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke configuration: small shapes, 1 call, no warm-up")
    parser.add_argument("--in-process", action="store_true",
                        help="measure in this process instead of one process per thread count")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the report as JSON to PATH ('-' for stdout, "
                             "then the table goes to stderr)")
    parser.add_argument("--force", action="store_true", help="overwrite the --json file")
    parser.add_argument("--forms", action="store_true",
                        help="also time the framework layers' caffe-order form against the "
                             "native op, forward and gradient: TensorFlow eager, tf.function "
                             "and XLA, PyTorch eager and compiled (in this process, 1 thread; "
                             "minutes)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 if any performance-goal flag is FAIL")


def config_from_args(args):
    repeat, warmup = args.repeat, args.warmup
    if args.quick:
        repeat, warmup = 1, 0
    cases = [case for case in args.cases if case != VERIFY_CASE]
    return bench.default_config(cases=cases, verify=VERIFY_CASE in args.cases,
                                passes=args.passes, threads=args.threads,
                                peers=args.peers, repeat=repeat, warmup=warmup,
                                budget=args.budget, quick=args.quick)


def run(args):
    if args.json and args.json != "-":
        check_output_path(args.json, force=args.force)  # refuse before minutes of timing
    config = config_from_args(args)
    report = bench.run(config, in_process=args.in_process)
    text = bench_report.format_report(report)
    if args.forms:
        report["forms"] = measure_forms(config["cases"], config["passes"],
                                        repeat=config["repeat"], warmup=config["warmup"],
                                        budget=config["budget"], quick=config["quick"])
        text += "\n" + format_forms(report["forms"])
    document = json.dumps(report, indent=2, allow_nan=False) + "\n"
    if args.json == "-":
        sys.stderr.write(text)
        sys.stdout.write(document)
    else:
        sys.stdout.write(text)
        if args.json:
            write_text(args.json, document, force=args.force)
    if args.strict and "FAIL" in report["goals"].values():
        return EXIT_FAILURE
    return EXIT_OK


def register(subparsers):
    parser = subparsers.add_parser("bench", help="time the engine against its peers",
                                   description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser
