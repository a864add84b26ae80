"""RQ jobs of the SLA engine: plain functions that re-read the database."""

from __future__ import annotations

from portal.queueing import job
from sla import clock, recompute, sweep


@job
def sweep_job() -> dict:
    """One sweep tick (scheduled every few seconds by `sla/schedule.py`); it also beats
    the scheduler's heartbeat (/healthz) and records its figures (/metrics)."""
    from portal import observability

    now = clock.now()
    result = sweep.sweep(now)
    observability.record_sweep(result, now)
    return {"checked": result.checked, "fired": result.fired, "seconds": result.seconds}


@job
def recompute_job(reason: str, service_id: int | None = None, actor_id: int | None = None):
    """Move open deadlines after a calendar or policy change."""
    shift = recompute.apply(reason, service_id, actor_id)
    return {"moved": shift.moved, "largest_days": shift.largest_days}


@job
def daily_digest_job() -> dict:
    """The daily stand-up digest (scheduled by `sla/schedule.py`; sends once a day)."""
    from portal.services import digest

    return digest.send_daily()
