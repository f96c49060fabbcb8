"""Plain-text tables and CSV text for the reports: strings in, strings out."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

__all__ = ["csv_text", "text_table"]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left_columns: int = 1) -> str:
    """Columns padded to their widest cell: the first `left_columns` left-aligned (labels), the rest right (amounts)."""
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            c.ljust(w) if i < left_columns else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)]) + "\n"


def csv_text(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()
