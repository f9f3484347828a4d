"""The ``caffe-lrn`` command (and ``python -m caffe_lrn``): interrupt handling first, then
the command line.

Importing this module starts the command: it installs the handlers before the command line,
NumPy and protobuf are imported (a few tenths of a second; the package's ``__init__`` loads
its names on first use for the same reason), so Ctrl-C, SIGTERM or SIGHUP at any moment end
the command with one line, never a traceback. A signal during those imports is acted on when
they finish: raised inside NumPy's C code, it would come out as an ImportError.
"""
import sys

from caffe_lrn import interrupts

interrupts.install()
try:
    with interrupts.deferred():
        from caffe_lrn.cli import main
except KeyboardInterrupt as stop:
    sys.exit(interrupts.report(stop.signum))


def console_main():
    code = main()
    interrupts.finish()
    sys.exit(code)


if __name__ == "__main__":
    console_main()
