"""The README's Python examples run as written and print what the README says they print.

A comment line right after a ``print(...)`` line gives the printed text, optionally followed
by an explanation.
"""
import contextlib
import io
import pathlib
import re

import pytest

README = pathlib.Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def expected_prints(code):
    lines = code.splitlines()
    return [after[2:] for line, after in zip(lines, lines[1:])
            if line.lstrip().startswith("print(") and after.startswith("# ")]


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2
    assert sum(len(expected_prints(code)) for code in BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index):
    code = BLOCKS[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md python block {index}", "exec"), {})
    printed = out.getvalue().splitlines()
    expected = expected_prints(code)
    assert len(printed) == len(expected)
    for got, comment in zip(printed, expected):
        assert comment.startswith(got), (got, comment)
