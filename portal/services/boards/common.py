"""What the boards share: the request table's open and completed states, SQL helpers,
working days from seconds, medians in either database, and pages (portal/pagination.py).

Every figure is an SQL aggregate over an indexed range (a department's open requests, the
requests decided in a period), so the cost grows with what is shown, not with the table.
Medians are `percentile_cont` on PostgreSQL; SQLite (local use) has none, so there the
values of the (small) group are fetched and sorted.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

import sqlalchemy as sa

from portal.extensions import db
from portal.models import OPEN_STATE_VALUES, ServiceRequest
from sla import deadlines

OPEN = OPEN_STATE_VALUES
# Decided by the administration; withdrawn requests say nothing about its work.
COMPLETED = ("approved", "rejected", "refused_incomplete")

R = ServiceRequest


def postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def count_if(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def days(seconds) -> float | None:
    """Working seconds as working days (office days of the calendar), one decimal."""
    if seconds is None:
        return None
    return round(float(seconds) / deadlines.calendar().office_seconds_per_day, 1)


def medians(keys: list, value, *where) -> dict:
    """{key tuple: median of `value`} over the rows matching `where`, grouped by `keys`."""
    if postgres():
        median = sa.func.percentile_cont(0.5).within_group(value)
        rows = db.session.execute(sa.select(*keys, median).where(*where).group_by(*keys))
        return {tuple(r[:-1]): r[-1] for r in rows}
    grouped = defaultdict(list)
    for row in db.session.execute(sa.select(*keys, value).where(*where, value.is_not(None))):
        grouped[tuple(row[:-1])].append(row[-1])
    return {k: statistics.median(v) for k, v in grouped.items()}
