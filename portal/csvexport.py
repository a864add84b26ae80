"""Boards and reports as CSV: UTF-8 with a byte-order mark, so Excel reads Cyrillic."""

from __future__ import annotations

import csv
import io

from flask import Response


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    # A cell starting like a formula would run as one in a spreadsheet.
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def wants_csv(args) -> bool:
    return args.get("format") == "csv"


def csv_response(filename: str, header: list[str], rows) -> Response:
    """A download of `rows` under a header row; `None` becomes an empty cell."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([str(h) for h in header])
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
