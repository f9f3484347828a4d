"""The CLI's one error path: the exit-code table, usage errors, and the one-line message.

Every subcommand returns one of the exit codes below, raises :class:`UsageError` for a
command line that cannot mean anything, and lets a :class:`caffe_lrn.CaffeLRNError` (or an
OSError) through; :func:`caffe_lrn.cli.main` turns each into one line on stderr::

    caffe-lrn: error: <what broke the rule, and the value that broke it>
"""
import argparse
import sys

EXIT_OK = 0        # the command did its work; every check passed
EXIT_FAILURE = 1   # bad input, a failed check, a numeric mismatch, a missing dependency
EXIT_USAGE = 2     # the command line itself is wrong (argparse's code for usage errors)
EXIT_INTERRUPTED = 130  # Ctrl-C; any stop signal: 128 + its number (caffe_lrn.interrupts)

PREFIX = "caffe-lrn: error: "


class UsageError(Exception):
    """A command line that argparse accepts but that cannot mean anything (exit 2)."""


def one_line(message):
    """``message`` folded onto one line (whitespace runs become one space)."""
    return " ".join(str(message).split())


def print_error(message):
    print(PREFIX + one_line(message), file=sys.stderr)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the CLI's error line: usage, then ``caffe-lrn: error: ...``, exit 2."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print_error(message)
        sys.exit(EXIT_USAGE)
