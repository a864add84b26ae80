"""The admin's outbox as a report: the rows the page lists, for the same downloads as the
boards (portal/reports.py, portal/exports.py)."""

from __future__ import annotations

from operator import attrgetter

from flask_babel import lazy_gettext as _l

from portal.reports import DATETIME, INTEGER, Column, Report


def _next_attempt(row):
    return row.next_attempt_at if row.status in ("pending", "failed") else None


OUTBOX_COLUMNS = [
    Column("#", attrgetter("id"), INTEGER),
    Column(_l("Created"), attrgetter("created_at"), DATETIME),
    Column(_l("Recipient"), lambda row: row.recipient.full_name),
    Column(_l("Channel"), attrgetter("channel")),
    Column(_l("Template"), attrgetter("template")),
    Column(_l("Reference"), lambda row: row.context.get("reference")),
    Column(_l("Status"), attrgetter("status")),
    Column(_l("Attempts"), attrgetter("attempts"), INTEGER),
    Column(_l("Next attempt"), _next_attempt, DATETIME),
    Column(_l("Last error"), attrgetter("last_error")),
]


def outbox_report(rows) -> Report:
    return Report("outbox", _l("Notification outbox"), OUTBOX_COLUMNS, rows)
