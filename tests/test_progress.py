"""The progress bar: drawn only on a terminal, erased at the end."""
import io

from caffe_lrn.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_off_when_stream_is_not_a_terminal():
    stream = io.StringIO()
    with Progress(10, "work", stream=stream) as bar:
        for _ in range(10):
            bar.advance()
    assert not bar.enabled
    assert stream.getvalue() == ""


def test_on_a_terminal_draws_and_erases():
    stream = _Terminal()
    with Progress(4, "norm1", stream=stream) as bar:
        bar.advance(3)
        bar.advance(1)
        assert bar.render() == "norm1 [" + "#" * 28 + "] 100%"
    text = stream.getvalue()
    assert "norm1 [" in text and "100%" in text
    assert text.endswith("\r\x1b[K")


def test_render_shows_fraction_and_clamps_to_total():
    bar = Progress(8, "x", stream=io.StringIO())
    bar.advance(2)
    assert bar.render() == "x [" + "#" * 7 + "-" * 21 + "]  25%"
    bar.advance(100)
    assert bar.done == 8


def test_can_be_forced_off_on_a_terminal():
    stream = _Terminal()
    with Progress(3, "x", stream=stream, enabled=False) as bar:
        bar.advance(3)
    assert stream.getvalue() == ""
