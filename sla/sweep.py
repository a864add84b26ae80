"""The sweep: act on every request whose `next_check_at` has passed, and only those."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import ServiceRequest
from sla import clock, deadlines, ladder

log = logging.getLogger(__name__)
RETRY_BROKEN_SECONDS = 300


@dataclass
class SweepResult:
    checked: int = 0
    fired: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    failed: int = 0
    more: bool = False  # stopped at the time budget with rows still due


def sweep(
    now: datetime | None = None,
    batch: int = 500,
    max_batches: int = 1000,
    budget_seconds: float = 60.0,
) -> SweepResult:
    """One tick. Reads due rows through the `next_check_at` index, in batches.

    On PostgreSQL rows are locked with SKIP LOCKED, so two sweeps at once share the work;
    anywhere, the unique constraint on escalations makes each rung fire once.
    """
    started = time.perf_counter()
    now = now or clock.now()
    result = SweepResult()
    cal = deadlines.calendar()
    postgres = db.engine.dialect.name == "postgresql"
    for _ in range(max_batches):
        query = (
            sa.select(ServiceRequest)
            .where(ServiceRequest.next_check_at <= now)
            .order_by(ServiceRequest.next_check_at)
            .limit(batch)
        )
        if postgres:
            query = query.with_for_update(skip_locked=True, of=ServiceRequest)
        rows = db.session.scalars(query).all()
        if not rows:
            db.session.rollback()
            break
        for request in rows:
            try:
                with db.session.begin_nested():
                    fired = ladder.advance(request, now, cal)
            except Exception:
                # One broken request must not stall the others: log it, look again later.
                log.exception(
                    "sla sweep: request %s failed; retrying in %ss",
                    request.id,
                    RETRY_BROKEN_SECONDS,
                )
                result.failed += 1
                request.next_check_at = now + timedelta(seconds=RETRY_BROKEN_SECONDS)
                continue
            for level in fired:
                result.fired[level] = result.fired.get(level, 0) + 1
            if request.next_check_at is not None and request.next_check_at <= now:
                # Never leave a row due: it would be read again forever.
                request.next_check_at = None
        db.session.commit()
        result.checked += len(rows)
        if len(rows) < batch:
            break
        if time.perf_counter() - started > budget_seconds:
            # A burst (e.g. after an outage) is worked off over several ticks, each well
            # inside the job's timeout; what is left stays due for the next tick.
            result.more = True
            break
    result.seconds = time.perf_counter() - started
    if result.checked:
        log.info(
            "sla sweep: checked %d, fired %s in %.3fs", result.checked, result.fired, result.seconds
        )
    return result
