"""The ``caffe-lrn`` command line: ``main(argv) -> int``.

Exit codes: 0 success, 1 failure (bad input, a failed check, a numeric mismatch), 2 usage.
Errors print as one line on stderr (``caffe-lrn: error: ...``); ``--debug`` shows the traceback.
Each subcommand lives in its own module with ``register(subparsers)``, which adds a parser
whose ``func(args) -> int`` does the work.
"""
import argparse
import importlib
import sys

from caffe_lrn.errors import CaffeLRNError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

# Subcommand modules, in the order ``caffe-lrn --help`` lists them.
COMMANDS = (
    "caffe_lrn.cli.inspect_cmd",
    "caffe_lrn.cli.upgrade_cmd",
    "caffe_lrn.cli.run_cmd",
    "caffe_lrn.cli.convert_cmd",
    "caffe_lrn.cli.verify_cmd",
    "caffe_lrn.cli.bench_cmd",
)


def build_parser():
    from caffe_lrn import __version__

    parser = argparse.ArgumentParser(
        prog="caffe-lrn",
        description="Load, run, convert and verify Caffe LRN layers, bit for bit.")
    parser.add_argument("--version", action="version", version=f"caffe-lrn {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback instead of a one-line error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def _one_line(exc):
    text = str(exc) or exc.__class__.__name__
    return " ".join(text.split())


def main(argv=None):
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("caffe-lrn: error: a command is required", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except CaffeLRNError as exc:
        if args.debug:
            raise
        print(f"caffe-lrn: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        if args.debug:
            raise
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"caffe-lrn: error: {name}{exc.strerror or _one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except MemoryError:
        if args.debug:
            raise
        print("caffe-lrn: error: out of memory (try a smaller batch or --chunk)",
              file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("caffe-lrn: interrupted", file=sys.stderr)
        return 130


def console_main():
    sys.exit(main())
