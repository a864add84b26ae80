"""A report: rows and the columns declared once, with translated headings and a kind that
says how each value reads on the page, in a spreadsheet and in CSV (portal/exports.py).

The page and both downloads read the same `Report`, so a column added here shows up
everywhere, under the same heading, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import format_date, format_datetime, format_decimal

from portal import config

TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"  # one decimal place: working days, hours
PERCENT = "percent"  # 0-100
DATETIME = "datetime"  # an aware moment, shown in the administration's time zone
DATE = "date"


@dataclass(frozen=True)
class Column:
    heading: Any  # a lazy string: translated when the report is read
    value: Callable[[Any], Any]
    kind: str = TEXT

    def __call__(self, row) -> Any:
        value = self.value(row)
        if value is None:
            return None
        if self.kind == DATETIME:
            return value.astimezone(config.zone())
        return value

    def display(self, row) -> str:
        """The value as the page shows it, in the reader's language; `—` when empty."""
        value = self(row)
        if value is None:
            return "—"
        if self.kind in (INTEGER, DECIMAL):
            return format_decimal(value, format="#,##0.#")
        if self.kind == PERCENT:
            return format_decimal(value, format="0.#") + "%"
        if self.kind == DATETIME:
            return format_datetime(value, "short")
        if self.kind == DATE:
            return format_date(value, "short")
        return str(value)


@dataclass
class Report:
    name: str  # the download's file name, without extension
    title: Any  # a lazy string: the sheet's name
    columns: list[Column]
    rows: Iterable = field(default_factory=list)

    @property
    def headings(self) -> list[str]:
        return [str(column.heading) for column in self.columns]

    def values(self) -> Iterable[list]:
        """Each row as its columns' values (local times, numbers as numbers)."""
        for row in self.rows:
            yield [column(row) for column in self.columns]
