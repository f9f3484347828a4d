"""Plain-text tables, as ``inspect``, ``verify`` and ``bench`` print them.

Columns are as wide as their widest cell and two spaces apart; text columns are left-aligned
and number columns right-aligned; trailing blanks are trimmed.
"""


def format_table(header, rows, right=(), rule=True, indent=""):
    """The lines of a table: ``header``, a rule of dashes (if ``rule``), then ``rows``.

    ``right``: indices of the right-aligned columns (the others are left-aligned).
    """
    right = set(right)
    rows = [list(row) for row in rows]
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]

    def line(row):
        cells = [str(cell).rjust(width) if i in right else str(cell).ljust(width)
                 for i, (cell, width) in enumerate(zip(row, widths))]
        return (indent + "  ".join(cells)).rstrip()

    lines = [line(header)]
    if rule:
        lines.append(indent + "  ".join("-" * width for width in widths))
    return lines + [line(row) for row in rows]
