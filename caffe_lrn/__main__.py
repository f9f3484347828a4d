"""The ``caffe-lrn`` command (and ``python -m caffe_lrn``): interrupt handling first, then
the command line.

The handlers go in before the command line's modules, NumPy and protobuf are imported (a few
tenths of a second), so Ctrl-C, SIGTERM or SIGHUP at any moment end the command with one
line, never a traceback. A signal during those imports is acted on when they finish: raised
inside NumPy's C code, it would come out as an ImportError.
"""
import sys

from caffe_lrn import interrupts


def console_main():
    interrupts.install()
    try:
        with interrupts.deferred():
            from caffe_lrn.cli import main
    except KeyboardInterrupt as exc:
        sys.exit(interrupts.report(exc.signum))
    code = main()
    interrupts.finish()
    sys.exit(code)


if __name__ == "__main__":
    console_main()
