"""The public transparency board: per service the last 12 weeks' figures and now, with no
names of people, computed at most once a minute per process."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.models import Service
from portal.services import approvals
from portal.services.boards.common import OPEN, R, count_if
from portal.services.boards.figures import Figures, completion_figures
from sla import clock

PUBLIC_CACHE_SECONDS = 60.0

PUBLIC_WEEKS = 12


def _compute_public(now: datetime) -> dict:
    """Per service (with its department): the figures of the last 12 weeks, and now."""
    start = now - timedelta(weeks=PUBLIC_WEEKS)
    per_service = completion_figures(R.service_id, start, now + timedelta(seconds=1))
    rows = db.session.execute(
        sa.select(R.service_id, sa.func.count(), count_if(R.sla_state == "breached"))
        .where(R.state.in_(OPEN))
        .group_by(R.service_id)
    )
    for service_id, open_, overdue in rows:
        figures = per_service.setdefault(service_id, Figures(service_id))
        figures.open, figures.overdue = open_, overdue
    approval = {
        row.stage: row.average_seconds
        for row in approvals.approval_time(start, now + timedelta(seconds=1), by="service")
    }
    return {
        "computed_at": now.isoformat(),
        "services": {
            sid: {
                "completed": f.completed,
                "on_time": f.on_time,
                "median_seconds": None if f.median_seconds is None else float(f.median_seconds),
                "open": f.open,
                "overdue": f.overdue,
                "approval_seconds": None if approval.get(sid) is None else float(approval[sid]),
            }
            for sid, f in per_service.items()
        },
    }


def public_figures(now: datetime | None = None) -> dict:
    """The public board's numbers, cached in the process for a minute.

    A minute-old board is as good as a live one for the public, and a per-process cache
    needs no moving part: each gunicorn worker runs the few grouped queries at most once
    a minute, whatever the traffic, and a lost cache loses nothing.
    """
    cache = current_app.extensions.setdefault("public_board", {})
    stamp = time.monotonic()
    if cache.get("figures") is None or stamp - cache["stamp"] > PUBLIC_CACHE_SECONDS:
        cache["figures"] = _compute_public(now or clock.now())
        cache["stamp"] = stamp
    return cache["figures"]


def public_board(now: datetime | None = None) -> dict:
    """The public board: departments, each with its services' figures (no names of people)."""
    figures = public_figures(now)
    services = db.session.scalars(
        sa.select(Service).where(Service.active.is_(True)).order_by(Service.id)
    ).all()
    departments: dict[int, dict] = {}
    for service in services:
        numbers = figures["services"].get(service.id) or figures["services"].get(
            str(service.id), {}
        )
        row = Figures(
            service.id,
            service.title,
            completed=numbers.get("completed", 0),
            on_time=numbers.get("on_time", 0),
            median_seconds=numbers.get("median_seconds"),
            open=numbers.get("open", 0),
            overdue=numbers.get("overdue", 0),
            approval_seconds=numbers.get("approval_seconds"),
        )
        entry = departments.setdefault(
            service.department_id, {"department": service.department, "services": []}
        )
        entry["services"].append(row)
    for entry in departments.values():
        rows = entry["services"]
        total = Figures(entry["department"].id, entry["department"].name)
        total.completed = sum(r.completed for r in rows)
        total.on_time = sum(r.on_time for r in rows)
        total.open = sum(r.open for r in rows)
        total.overdue = sum(r.overdue for r in rows)
        entry["total"] = total
    return {
        "computed_at": datetime.fromisoformat(figures["computed_at"]),
        "weeks": PUBLIC_WEEKS,
        "departments": [departments[k] for k in sorted(departments)],
    }
