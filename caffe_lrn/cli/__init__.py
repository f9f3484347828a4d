"""The ``caffe-lrn`` command line: ``main(argv) -> int``.

Exit codes (:mod:`caffe_lrn.cli.exits`): 0 success, 1 failure (bad input, a failed check, a
numeric mismatch), 2 usage. Errors print as one line on stderr (``caffe-lrn: error: ...``);
``--debug`` shows the traceback. Each subcommand lives in its own module with
``register(subparsers)``, which adds a parser whose ``func(args) -> int`` does the work.

The ``caffe-lrn`` command starts in :mod:`caffe_lrn.__main__`, which makes SIGINT, SIGTERM
and SIGHUP stop it (:mod:`caffe_lrn.interrupts`) before this module and NumPy are imported:
every ``finally`` runs (temporary files are removed) and the command ends with one line and
exit code 128 + the signal number (130 for Ctrl-C), never a traceback.
"""
import argparse
import os
import signal
import sys
import warnings

from caffe_lrn import __version__, interrupts
from caffe_lrn.cli import (
    audit_cmd, bench_cmd, convert_cmd, inspect_cmd, run_cmd, upgrade_cmd, verify_cmd,
)
from caffe_lrn.cli.exits import (
    EXIT_FAILURE, EXIT_OK, EXIT_USAGE, ArgumentParser, UsageError, print_error,
)
from caffe_lrn.errors import CaffeLRNError

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE"]

# The subcommands, in the order ``caffe-lrn --help`` lists them.
COMMANDS = (inspect_cmd, upgrade_cmd, run_cmd, convert_cmd, verify_cmd, audit_cmd, bench_cmd)


def build_parser():
    parser = ArgumentParser(
        prog="caffe-lrn",
        description="Load, run, convert and verify Caffe LRN layers, bit for bit.")
    parser.add_argument("--version", action="version", version=f"caffe-lrn {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show a traceback instead of a one-line error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    for subparser in subparsers.choices.values():
        # Also after the command (caffe-lrn inspect NET --debug); SUPPRESS keeps a --debug
        # given before the command from being reset to False by the subparser's default.
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                               help="show a traceback instead of a one-line error")
    return parser


def _quiet_closed_stdout():
    """Point stdout at /dev/null after its reader left, so the flush at exit cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None):
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt as exc:
        return interrupts.report(getattr(exc, "signum", signal.SIGINT))
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print_error("a command is required")
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():
            # Inf and NaN are data here, as in Caffe (the engine and the comparisons handle
            # them on purpose): NumPy's "overflow encountered" warnings would only add lines
            # after the one result or error line. They are still there for API callers.
            warnings.simplefilter("ignore", RuntimeWarning)
            code = args.func(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader of stdout stopped early (caffe-lrn inspect --json NET | head -1): the
        # output was cut where the reader wanted it cut, which is no error.
        _quiet_closed_stdout()
        return EXIT_OK
    except UsageError as exc:
        print_error(exc)
        return EXIT_USAGE
    except CaffeLRNError as exc:
        if args.debug:
            raise
        print_error(str(exc) or exc.__class__.__name__)
        return EXIT_FAILURE
    except OSError as exc:
        if args.debug:
            raise
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print_error(f"{name}{exc.strerror or str(exc) or exc.__class__.__name__}")
        return EXIT_FAILURE
    except MemoryError:
        if args.debug:
            raise
        print_error("out of memory (try a smaller --max-memory or --chunk)")
        return EXIT_FAILURE
    except KeyboardInterrupt as exc:
        return interrupts.report(getattr(exc, "signum", signal.SIGINT))
    except BaseException:
        # The interrupt surfaced as another error (C code that caught it, such as an import
        # done on first use): it is still the interrupt.
        if interrupts.received() is not None and not args.debug:
            return interrupts.report(interrupts.received())
        raise
