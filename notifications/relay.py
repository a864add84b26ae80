"""The relay: delivers what the outbox owes, with retries, and never twice if it can help it.

The cycle for each batch:

1. **Claim** due rows in one statement: `pending`/`failed` rows whose `next_attempt_at` has
   passed become `sending`, `attempts + 1`, `claimed_at = now`, and the claim commits. On
   PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so two relays at once take
   different rows; on SQLite the single writer makes the statement atomic. `attempts` is
   also the claim's fencing token: a worker whose claim was taken over cannot mark the
   row afterwards.
2. **Send** each row through its channel (one SMTP connection for the batch). Right after
   the channel accepts a message, a **receipt** (outbox id -> provider id) is written to
   Redis: one fast round trip per message.
3. **Mark** the batch's outcomes in one transaction: `sent` with the provider id; or
   `failed` with `next_attempt_at` pushed back exponentially; or `dead` after
   `NOTIFY_MAX_ATTEMPTS` (or at once for a permanent error).

A worker killed between 2 and 3 leaves its rows in `sending`. The periodic re-drive
(`redrive`) takes rows whose claim is older than the lease (`NOTIFY_LEASE_SECONDS`) and
reconciles each: a receipt means the channel had it, so the row is marked `sent` and not
sent again; no receipt means it never reached the channel, so it is retried.

What that guarantees, honestly:
- in-app: exactly once (the notice and the mark commit together, and `notice.outbox_id`
  is unique).
- SMS: exactly once where the gateway honours the `Idempotency-Key` header.
- email: exactly once unless a worker dies in the microseconds between the SMTP server's
  250 and the receipt write, or Redis loses the receipt in the same window as a worker
  dies. Then the row is sent again, at least once, with the same `Message-ID`, which
  mail systems that de-duplicate on it will fold. SMTP offers nothing stronger.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from redis.exceptions import RedisError

from notifications import channels as channel_module
from notifications import templates
from notifications.channels import (
    ChannelDown,
    Outgoing,
    PermanentError,
    TransientError,
)
from notifications.outbox import (
    DEAD,
    DUE_STATUSES,
    FAILED,
    IN_APP,
    PENDING,
    SENDING,
    SENT,
    OutboxMessage,
)
from portal.extensions import db
from portal.queueing import redis_connection
from sla import clock

log = logging.getLogger(__name__)

RECEIPT_PREFIX = "moldir:outbox:receipt:"
RECEIPT_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class RelaySettings:
    max_attempts: int = 5
    backoff_seconds: int = 60
    backoff_max_seconds: int = 3600
    lease_seconds: int = 300
    batch_size: int = 100

    @classmethod
    def from_config(cls, config) -> RelaySettings:
        return cls(
            max_attempts=int(config["NOTIFY_MAX_ATTEMPTS"]),
            backoff_seconds=int(config["NOTIFY_BACKOFF_SECONDS"]),
            backoff_max_seconds=int(config["NOTIFY_BACKOFF_MAX_SECONDS"]),
            lease_seconds=int(config["NOTIFY_LEASE_SECONDS"]),
            batch_size=int(config["NOTIFY_BATCH_SIZE"]),
        )

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: base, 2x base, 4x base ..."""
        seconds = self.backoff_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.backoff_max_seconds))


@dataclass
class RelayCounts:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    released: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retrying": self.retrying,
            "dead": self.dead,
            "released": self.released,
            "batches": self.batches,
        }


@dataclass
class RedriveCounts:
    reconciled: int = 0
    requeued: int = 0
    dead: int = 0
    due: int = 0
    kicked: bool = False

    def as_dict(self) -> dict:
        return {
            "reconciled": self.reconciled,
            "requeued": self.requeued,
            "dead": self.dead,
            "due": self.due,
            "kicked": self.kicked,
        }


# --- receipts -------------------------------------------------------------------------


class Receipts:
    """What a channel accepted, written the moment it did (Redis; best effort)."""

    def __init__(self, connection):
        self.connection = connection

    def record(self, outbox_id: int, provider_id: str) -> bool:
        try:
            self.connection.set(f"{RECEIPT_PREFIX}{outbox_id}", provider_id, ex=RECEIPT_TTL_SECONDS)
        except (RedisError, OSError) as error:
            log.warning("outbox: receipt for %s not written: %s", outbox_id, error)
            return False
        return True

    def lookup(self, outbox_ids: list[int]) -> dict[int, str]:
        if not outbox_ids:
            return {}
        try:
            values = self.connection.mget([f"{RECEIPT_PREFIX}{i}" for i in outbox_ids])
        except (RedisError, OSError) as error:
            log.warning("outbox: receipts unreadable: %s", error)
            raise
        return {
            i: (v.decode() if isinstance(v, bytes) else v)
            for i, v in zip(outbox_ids, values, strict=True)
            if v is not None
        }

    def forget(self, outbox_ids: list[int]) -> None:
        if not outbox_ids:
            return
        try:
            self.connection.delete(*[f"{RECEIPT_PREFIX}{i}" for i in outbox_ids])
        except (RedisError, OSError):
            pass  # they expire on their own


# --- claiming -------------------------------------------------------------------------


def claim_statement(limit: int, now: datetime):
    """UPDATE ... RETURNING that takes up to `limit` due rows (PostgreSQL: SKIP LOCKED)."""
    table = OutboxMessage
    # No ORDER BY: the (status, next_attempt_at) index hands rows over oldest first within
    # each status and LIMIT stops the scan early; a sort would read every due row per claim.
    due = (
        sa.select(table.id)
        .where(table.status.in_(DUE_STATUSES), table.next_attempt_at <= now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        sa.update(table)
        .where(table.id.in_(due))
        .values(status=SENDING, claimed_at=now, attempts=table.attempts + 1)
        .returning(
            table.id,
            table.recipient_id,
            table.request_id,
            table.channel,
            table.template,
            table.context,
            table.language,
            table.idempotency_key,
            table.address,
            table.attempts,
        )
        .execution_options(synchronize_session=False)
    )


def claim(limit: int, now: datetime | None = None) -> list:
    """Take up to `limit` due rows for this worker (committed as `sending`)."""
    rows = db.session.execute(claim_statement(limit, now or clock.now())).all()
    db.session.commit()
    return sorted(rows, key=lambda row: row.id)


# --- marking --------------------------------------------------------------------------

_outbox = OutboxMessage.__table__


def _fenced(statement):
    """Only the claim that took the row may mark it."""
    return statement.where(
        _outbox.c.id == sa.bindparam("b_id"),
        _outbox.c.attempts == sa.bindparam("b_attempts"),
        _outbox.c.status == SENDING,
    )


def _mark_delivered(delivered: list[tuple], now: datetime) -> None:
    """(row, provider id) pairs -> `sent`."""
    if not delivered:
        return
    statement = _fenced(_outbox.update()).values(
        status=SENT,
        provider_id=sa.bindparam("b_provider"),
        sent_at=now,
        delivered_at=sa.bindparam("b_delivered"),
        last_error=None,
    )
    db.session.execute(
        statement,
        [
            {
                "b_id": row.id,
                "b_attempts": row.attempts,
                "b_provider": provider_id[:255],
                "b_delivered": now if row.channel == IN_APP else None,
            }
            for row, provider_id in delivered
        ],
    )


# Messages to applicants that the rules keep to office hours (never a reminder at night).
OFFICE_HOURS_ONLY = frozenset({"documents_reminder"})


def _retry_at(row, now: datetime, settings: RelaySettings) -> datetime:
    """When to try again: after the backoff, and for office-hours messages, in office hours."""
    at = now + settings.backoff(row.attempts)
    if row.template in OFFICE_HOURS_ONLY:
        from sla import deadlines

        at = deadlines.calendar().next_office_moment(at)
    return at


def _mark_failed(
    failed: list[tuple], now: datetime, settings: RelaySettings, counts: RelayCounts
) -> None:
    """(row, error, permanent) triples -> `failed` with a later attempt, or `dead`."""
    if not failed:
        return
    params = []
    for row, error, permanent in failed:
        dead = permanent or row.attempts >= settings.max_attempts
        if dead:
            counts.dead += 1
        else:
            counts.retrying += 1
        params.append(
            {
                "b_id": row.id,
                "b_attempts": row.attempts,
                "b_status": DEAD if dead else FAILED,
                "b_next": now if dead else _retry_at(row, now, settings),
                "b_error": error[:2000],
            }
        )
    statement = _fenced(_outbox.update()).values(
        status=sa.bindparam("b_status"),
        next_attempt_at=sa.bindparam("b_next"),
        last_error=sa.bindparam("b_error"),
    )
    db.session.execute(statement, params)


def _release(released: list[tuple], now: datetime) -> None:
    """(row, not-before, why) -> back to `pending`, the attempt not counted."""
    if not released:
        return
    statement = _fenced(_outbox.update()).values(
        status=PENDING,
        attempts=_outbox.c.attempts - 1,
        claimed_at=None,
        next_attempt_at=sa.bindparam("b_next"),
        last_error=sa.bindparam("b_error"),
    )
    db.session.execute(
        statement,
        [
            {"b_id": row.id, "b_attempts": row.attempts, "b_next": not_before, "b_error": why}
            for row, not_before, why in released
        ],
    )


# --- delivering -----------------------------------------------------------------------


def _outgoing(row, base_url: str) -> Outgoing:
    rendered = templates.render(
        row.template, row.language, row.context or {}, base_url, current_app.config["TIMEZONE"]
    )
    return Outgoing(
        outbox_id=row.id,
        idempotency_key=row.idempotency_key,
        recipient_id=row.recipient_id,
        request_id=row.request_id,
        template=row.template,
        context=row.context or {},
        address=row.address,
        language=row.language,
        subject=rendered.subject,
        body=rendered.body,
        short=rendered.short,
    )


def deliver_batch(
    rows: list, channels: dict, receipts: Receipts, settings: RelaySettings, counts: RelayCounts
) -> None:
    """Send claimed rows, then mark every outcome in one commit."""
    base_url = current_app.config.get("BASE_URL") or "http://127.0.0.1:5000"
    delivered: list[tuple] = []
    failed: list[tuple] = []
    released: list[tuple] = []
    down: dict[str, datetime] = {}
    started = time.monotonic()
    for index, row in enumerate(rows):
        if time.monotonic() - started > settings.lease_seconds / 2:
            # Hand the rest back long before the re-drive could think this worker lost.
            released.extend((r, clock.now(), "released: batch ran long") for r in rows[index:])
            break
        if row.channel in down:
            released.append((row, down[row.channel], f"not attempted: {row.channel} down"))
            continue
        try:
            message = _outgoing(row, base_url)
            provider_id = channels[row.channel].send(message)
        except (templates.TemplateError, PermanentError) as error:
            failed.append((row, f"permanent: {error}", True))
        except ChannelDown as error:
            failed.append((row, str(error), False))
            down[row.channel] = clock.now() + settings.backoff(1)
        except TransientError as error:
            failed.append((row, str(error), False))
        except Exception as error:  # an unknown failure is retried, and logged in full
            log.exception("outbox: delivering %s failed", row.id)
            failed.append((row, f"{type(error).__name__}: {error}", False))
        else:
            # In-app delivery commits with the mark below; others leave a receipt at once.
            if row.channel != IN_APP and not receipts.record(row.id, provider_id):
                _mark_delivered([(row, provider_id)], clock.now())
                db.session.commit()
                counts.sent += 1
                continue
            delivered.append((row, provider_id))
    now = clock.now()
    _mark_delivered(delivered, now)
    _mark_failed(failed, now, settings, counts)
    _release(released, now)
    db.session.commit()
    receipts.forget([row.id for row, _ in delivered if row.channel != IN_APP])
    counts.sent += len(delivered)
    counts.released += len(released)


def deliver_due(budget_seconds: float = 60.0, channels: dict | None = None) -> RelayCounts:
    """Deliver due rows, batch after batch, until none are due or the budget is spent."""
    config = current_app.config
    settings = RelaySettings.from_config(config)
    channels = channels or channel_module.from_config(config)
    receipts = Receipts(redis_connection())
    counts = RelayCounts()
    deadline = time.monotonic() + budget_seconds
    try:
        while time.monotonic() < deadline:
            rows = claim(settings.batch_size)
            if not rows:
                break
            counts.claimed += len(rows)
            counts.batches += 1
            deliver_batch(rows, channels, receipts, settings, counts)
    finally:
        for channel in channels.values():
            channel.close()
    if counts.claimed:
        log.info("outbox relay: %s", counts.as_dict())
    return counts


# --- the re-drive ---------------------------------------------------------------------


def reconcile_stale(now: datetime | None = None) -> RedriveCounts:
    """Settle rows left `sending` past the lease by a worker that was lost."""
    now = now or clock.now()
    config = current_app.config
    settings = RelaySettings.from_config(config)
    counts = RedriveCounts()
    cutoff = now - timedelta(seconds=settings.lease_seconds)
    stale = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.channel)
        .where(OutboxMessage.status == SENDING, OutboxMessage.claimed_at < cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    if not stale:
        db.session.rollback()
        return counts
    receipts = Receipts(redis_connection())
    try:
        found = receipts.lookup([row.id for row in stale])
    except (RedisError, OSError):
        db.session.rollback()  # without receipts we cannot tell: try again next tick
        raise
    delivered = [(row, found[row.id]) for row in stale if row.id in found]
    _mark_delivered(delivered, now)
    params = []
    for row in stale:
        if row.id in found:
            continue
        dead = row.attempts >= settings.max_attempts
        counts.dead += dead
        counts.requeued += not dead
        params.append(
            {
                "b_id": row.id,
                "b_attempts": row.attempts,
                "b_status": DEAD if dead else FAILED,
                "b_next": now,
                "b_error": "the worker was lost during delivery",
            }
        )
    if params:
        statement = _fenced(_outbox.update()).values(
            status=sa.bindparam("b_status"),
            next_attempt_at=sa.bindparam("b_next"),
            last_error=sa.bindparam("b_error"),
        )
        db.session.execute(statement, params)
    db.session.commit()
    receipts.forget([row.id for row, _ in delivered])
    counts.reconciled = len(delivered)
    log.warning("outbox re-drive: %s", counts.as_dict())
    return counts


def due_count(now: datetime | None = None) -> int:
    now = now or clock.now()
    return (
        db.session.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.status.in_(DUE_STATUSES), OutboxMessage.next_attempt_at <= now
            )
        )
        or 0
    )


def redrive(now: datetime | None = None) -> RedriveCounts:
    """Reconcile stale claims, then queue the relay if anything is due (Redis may have lost
    its job, or a retry's time has come)."""
    from notifications import jobs

    counts = reconcile_stale(now)
    counts.due = due_count(now)
    db.session.rollback()
    if counts.due:
        counts.kicked = jobs.kick(force=True)
    return counts
