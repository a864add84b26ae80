"""RQ jobs of the notifications: the relay and its periodic re-drive.

Both re-read the outbox and do nothing when nothing is owed, so a duplicate or a late job
is harmless. Redis holds only the nudge; what is owed lives in the database.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from portal.queueing import enqueue, job, redis_connection

log = logging.getLogger(__name__)

QUEUE = "notifications"
# Set while a relay job is queued and not yet started: commits in between need no job of
# their own, since the queued one has not looked yet. The relay clears it as it starts.
KICK_KEY = "moldir:outbox:kick"
KICK_TTL_SECONDS = 60
# A relay job hands over to a fresh one after this long, so no job runs into its timeout.
RELAY_BUDGET_SECONDS = 60.0


@job
def relay_job() -> dict:
    """Deliver every due outbox row (queued after each commit that owes messages)."""
    from notifications import relay

    try:
        redis_connection().delete(KICK_KEY)
    except (RedisError, OSError):
        pass
    started, cpu_started = time.perf_counter(), time.process_time()
    counts = relay.deliver_due(budget_seconds=RELAY_BUDGET_SECONDS)
    if counts.claimed and relay.due_count():
        kick(force=True)  # the budget ran out with work left
    return {
        **counts.as_dict(),
        "seconds": round(time.perf_counter() - started, 3),
        "cpu_seconds": round(time.process_time() - cpu_started, 3),
    }


@job
def redrive_job() -> dict:
    """Periodic (see `sla/schedule.py`): settle stale claims and queue the relay if due."""
    from notifications import relay

    return relay.redrive().as_dict()


def kick(force: bool = False) -> bool:
    """Queue a relay job unless one is already waiting; never raises (best effort)."""
    try:
        connection = redis_connection()
        if not connection.set(KICK_KEY, "1", nx=True, ex=KICK_TTL_SECONDS) and not force:
            return False
        try:
            enqueue(relay_job, queue_name=QUEUE)
        except Exception:
            connection.delete(KICK_KEY)
            raise
    except Exception as error:  # after a commit nothing may fail: the re-drive catches up
        log.warning("outbox: could not queue the relay (the re-drive will): %s", error)
        return False
    return True
