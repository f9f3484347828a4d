"""Shared pieces of the property-based (fuzz) tests.

Two hypothesis settings: ``quick`` runs in the default suite (a fixed, derandomized set of
examples per property, a few seconds in all) and ``long`` runs under ``pytest -m fuzz_long``
(random examples, >= 10,000 in total over the fuzz files). ``CAFFE_LRN_FUZZ_SCALE`` multiplies
the long run's example counts (e.g. ``CAFFE_LRN_FUZZ_SCALE=10`` for an overnight run).

``fuzz_tests(check, strategy, quick=..., long=...)`` turns one check into the two tests, so
the default suite and the long run always exercise the same property.
"""
import contextlib
import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caffe_lrn.errors import CaffeLRNError

QUICK_EXAMPLES = 150
LONG_SCALE = float(os.environ.get("CAFFE_LRN_FUZZ_SCALE", "1"))

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
)


def quick_settings(examples=QUICK_EXAMPLES):
    # Derandomized: the default suite sees the same examples on every run, so it cannot be
    # flaky; the long run below explores new ones each time.
    return settings(max_examples=examples, derandomize=True, database=None, **_COMMON)


def long_settings(examples):
    return settings(max_examples=max(1, int(examples * LONG_SCALE)), print_blob=True,
                    **_COMMON)


def fuzz_tests(check, *strategies, quick=QUICK_EXAMPLES, long=2000):
    """Two tests of ``check(*drawn)``: a quick one and one marked ``fuzz_long``."""

    def make(suffix):
        def body(drawn):
            check(*drawn)

        # hypothesis keys its example database by name: one key per property and run.
        body.__name__ = body.__qualname__ = f"{check.__name__}_{suffix}"
        body.__module__ = check.__module__
        return body

    drawn = st.tuples(*strategies)
    quick_test = quick_settings(quick)(given(drawn)(make("quick")))
    long_test = pytest.mark.fuzz_long(long_settings(long)(given(drawn)(make("long"))))
    return quick_test, long_test


def typed_or_ok(call, *args, **kwargs):
    """Run ``call``; return ``(result, None)`` or ``(None, error)`` for a CaffeLRNError.

    Any other exception propagates, which is exactly what the fuzz tests look for.
    """
    try:
        return call(*args, **kwargs), None
    except CaffeLRNError as error:
        assert str(error).strip(), f"{type(error).__name__} with an empty message"
        return None, error


def run_cli(argv):
    """``caffe_lrn.cli.main(argv)`` with stdout and stderr captured: ``(code, out, err)``."""
    from caffe_lrn.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code, err):
    """A CLI failure: exit 1 and exactly one ``caffe-lrn: error:`` line, no traceback."""
    assert code == 1, f"exit {code}, stderr {err!r}"
    lines = [line for line in err.splitlines() if not line.startswith("caffe-lrn: warning:")
             and not line.startswith("caffe-lrn: note:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("caffe-lrn: error: "), err
    assert "Traceback" not in err
