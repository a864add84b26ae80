"""The one export writer: a report as what an office opens with a double click.

XLSX (openpyxl): numbers as numbers, times as dates in the administration's time zone,
headings bold and frozen. CSV for everything else: `;` between cells and a UTF-8 byte-order
mark, which is what Excel expects in a Russian or Kazakh locale (a comma-separated file
opens there as one column), with numbers and dates written the way that locale reads them.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from flask import Response
from flask_babel import format_decimal, get_locale
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from portal.reports import DATE, DATETIME, DECIMAL, INTEGER, PERCENT, Report

FORMATS = ("xlsx", "csv")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# How the spreadsheet shows each kind; the cell holds the number or the date itself.
XLSX_NUMBER_FORMATS = {
    INTEGER: "0",
    DECIMAL: "0.0",
    PERCENT: "0.0%",
    DATETIME: "DD.MM.YYYY HH:MM",
    DATE: "DD.MM.YYYY",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def requested_format(args) -> str | None:
    """`xlsx` or `csv` when the query string asks for a download, else None (the page)."""
    wanted = args.get("format")
    return wanted if wanted in FORMATS else None


def export(report: Report, fmt: str) -> Response:
    body, mimetype = (_xlsx(report), XLSX_TYPE) if fmt == "xlsx" else (_csv(report), None)
    return Response(
        body,
        mimetype=mimetype or "text/csv",
        headers={
            "Content-Type": mimetype or "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{report.name}.{fmt}"',
        },
    )


def _xlsx(report: Report) -> bytes:
    book = Workbook(write_only=True)
    # A sheet's name: at most 31 characters, none of []:*?/\
    title = "".join(c for c in str(report.title) if c not in "[]:*?/\\")[:31] or "Report"
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(report.columns):
        letter = chr(ord("A") + index) if index < 26 else None
        if letter:
            width = 20 if column.kind in (DATETIME, DATE) else 14
            sheet.column_dimensions[letter].width = max(width, len(str(column.heading)) + 2)
    bold = Font(bold=True)
    header = []
    for heading in report.headings:
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for values in report.values():
        row = []
        for column, value in zip(report.columns, values, strict=True):
            if column.kind == DATETIME and value is not None:
                value = value.replace(tzinfo=None)  # already local; Excel has no zones
            elif column.kind == PERCENT and value is not None:
                value = value / 100
            elif value is not None and not isinstance(value, int | float | date):
                value = str(value)
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula
            elif column.kind in XLSX_NUMBER_FORMATS:
                cell.number_format = XLSX_NUMBER_FORMATS[column.kind]
            row.append(cell)
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _csv_cell(kind: str, value) -> str:
    if value is None:
        return ""
    # The locale's decimal sign and no grouping: what a spreadsheet in that locale reads
    # as a number. (A percentage stays 0-100, as its heading and the page say.)
    if kind == INTEGER:
        return format_decimal(value, format="0")
    if kind in (DECIMAL, PERCENT):
        return format_decimal(value, format="0.0")
    if kind == DATETIME:
        return value.strftime(_date_pattern() + " %H:%M")
    if kind == DATE or isinstance(value, date | datetime):
        return value.strftime(_date_pattern())
    text = str(value)
    # A cell starting like a formula would run as one in a spreadsheet.
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _date_pattern() -> str:
    return "%Y-%m-%d" if str(get_locale() or "ru") == "en" else "%d.%m.%Y"


def _csv(report: Report) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(report.headings)
    kinds = [column.kind for column in report.columns]
    for values in report.values():
        writer.writerow([_csv_cell(kind, value) for kind, value in zip(kinds, values, strict=True)])
    return buffer.getvalue()
