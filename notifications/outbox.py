"""The outbox: what is owed to whom, written in the transaction of the change that caused it.

One row per (notification, channel). The idempotency key is `f"{key}:{channel}"`: a key
already written adds nothing (checked first; the unique constraint backs the check, so of
two transactions racing on one key the second fails at commit). In-app notices are
delivered in the same transaction (they are rows in the same database, so that is exactly
once by construction); email and SMS rows wait, `pending`, for the relay
(`notifications.relay`).

A commit that added pending rows kicks the relay through RQ (best effort: the periodic
re-drive catches up with anything a lost kick left behind).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.domain import events
from portal.extensions import db
from portal.models import DocumentType, Role, ServiceRequest, User, UTCDateTime
from sla import clock

PENDING, SENDING, SENT, FAILED, DEAD = "pending", "sending", "sent", "failed", "dead"
STATUSES = (PENDING, SENDING, SENT, FAILED, DEAD)
# Waiting for the relay: new rows, and rows whose last attempt failed (retried at
# `next_attempt_at`).
DUE_STATUSES = (PENDING, FAILED)

IN_APP, EMAIL, SMS = "in_app", "email", "sms"
CHANNELS = (IN_APP, EMAIL, SMS)
LANGUAGES = ("ru", "kk", "en")

_KICK_FLAG = "notifications.kick_relay"


class OutboxMessage(db.Model):
    """One message owed to one person on one channel."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: an email to someone without an account yet (an invitation), `address` only.
    recipient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    channel: Mapped[str] = mapped_column(sa.String(10))
    # Where it goes (email address, phone number), as known when it was written.
    address: Mapped[str | None] = mapped_column(sa.String(254))
    template: Mapped[str] = mapped_column(sa.String(40))
    context: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    language: Mapped[str] = mapped_column(sa.String(5), default="ru")
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    provider_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_request.id"))

    recipient: Mapped[User | None] = relationship()
    request: Mapped[ServiceRequest | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "status in ('pending', 'sending', 'sent', 'failed', 'dead')", name="status"
        ),
        sa.CheckConstraint("channel in ('in_app', 'email', 'sms')", name="channel"),
        # The relay's question: what is due now?
        sa.Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
    )


# --- writing -------------------------------------------------------------------------


def channels_for(user: User) -> list[str]:
    """The channels this person has chosen: in-app always, email and SMS as they chose."""
    chosen = [IN_APP]
    if user.notify_email and user.email:
        chosen.append(EMAIL)
    if user.notify_sms and user.phone:
        chosen.append(SMS)
    return chosen


def request_path(role: str, reference: str) -> str:
    """Where this person opens a request, by their role."""
    if role == Role.APPLICANT:
        return f"/my/requests/{reference}"
    if role in (Role.STAFF, Role.HEAD):
        return f"/staff/requests/{reference}"
    return f"/supervisor/requests/{reference}"


def _in_languages(obj, name: str) -> dict[str, str]:
    return {lang: obj.in_language(name, lang) for lang in LANGUAGES}


def snapshot(user: User, request: ServiceRequest | None, context: dict | None) -> dict:
    """What the templates need, fixed now: the message says what was true when it was owed.

    Names that have translations are kept in every language, so the message can be
    rendered later in whichever language the recipient reads.
    """
    facts: dict = {"recipient": user.full_name}
    if request is not None:
        facts.update(
            reference=request.reference,
            path=request_path(user.role, request.reference),
            service=_in_languages(request.service, "title"),
            department=_in_languages(request.department, "name"),
            applicant=request.business.name if request.business else request.applicant.full_name,
            assignee=request.assignee.full_name if request.assignee else None,
            due_at=request.due_at.isoformat() if request.due_at else None,
        )
    facts.update(context or {})
    if isinstance(facts.get("items"), list):
        facts["items"] = _named_items(facts["items"])
    return facts


def _named_items(items: list) -> list[dict]:
    """Document items with their type's name in every language (from `document_id`)."""
    ids = [i["document_id"] for i in items if isinstance(i, dict) and i.get("document_id")]
    types = {}
    if ids:
        types = {
            t.id: t
            for t in db.session.scalars(sa.select(DocumentType).where(DocumentType.id.in_(ids)))
        }
    named = []
    for item in items:
        item = dict(item) if isinstance(item, dict) else {"document": str(item)}
        found = types.get(item.get("document_id"))
        if found is not None:
            item["names"] = _in_languages(found, "name")
        named.append(item)
    return named


def write(
    user: User,
    template: str,
    *,
    request: ServiceRequest | None,
    context: dict | None,
    key: str,
    channels: tuple[str, ...] | None = None,
    address: str | None = None,
) -> list[OutboxMessage]:
    """Add one row per chosen channel to the caller's transaction; see `notifications.notify`."""
    from notifications import templates
    from notifications.inbox import Notice

    if template not in templates.TEMPLATES:
        raise ValueError(f"no template {template!r}")
    channels = list(channels) if channels else channels_for(user)
    keys = {f"{key}:{channel}": channel for channel in channels}
    # No autoflush: the caller's half-made change is the caller's to flush (a sweep would
    # otherwise write its request once per notice). Rows added earlier in this transaction
    # and not yet flushed count as written all the same.
    with db.session.no_autoflush:
        written = set(
            db.session.scalars(
                sa.select(OutboxMessage.idempotency_key).where(
                    OutboxMessage.idempotency_key.in_(list(keys))
                )
            )
        )
        written |= {
            obj.idempotency_key
            for obj in db.session.new
            if isinstance(obj, OutboxMessage) and obj.idempotency_key in keys
        }
        if len(written) == len(keys):
            return []
        facts = snapshot(user, request, context)
    if user.role == Role.APPLICANT:
        facts = events.for_applicant(template, facts)
    now = clock.now()
    language = user.locale if user.locale in LANGUAGES else "ru"
    rows = []
    for idempotency_key, channel in keys.items():
        if idempotency_key in written:
            continue
        row = OutboxMessage(
            recipient=user,
            channel=channel,
            address={EMAIL: address or user.email, SMS: user.phone}.get(channel),
            template=template,
            context=facts,
            language=language,
            idempotency_key=idempotency_key,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            request=request,
        )
        db.session.add(row)
        if channel == IN_APP:
            # The inbox is this database: the notice commits (or not) with the change.
            db.session.add(
                Notice(
                    user=user,
                    request=request,
                    kind=template,
                    payload=facts,
                    outbox=row,
                    created_at=now,
                )
            )
            row.status, row.attempts = SENT, 1
            row.sent_at = row.delivered_at = now
        else:
            db.session.info[_KICK_FLAG] = True
        rows.append(row)
    return rows


def write_to_address(
    email: str, template: str, *, context: dict, language: str, key: str
) -> list[OutboxMessage]:
    """One email row to an address with no account behind it; see `notifications.notify_address`."""
    from notifications import templates

    if template not in templates.TEMPLATES:
        raise ValueError(f"no template {template!r}")
    idempotency_key = f"{key}:{EMAIL}"
    with db.session.no_autoflush:
        if db.session.scalar(
            sa.select(OutboxMessage.id).where(OutboxMessage.idempotency_key == idempotency_key)
        ):
            return []
    now = clock.now()
    row = OutboxMessage(
        recipient_id=None,
        channel=EMAIL,
        address=email,
        template=template,
        context=dict(context),
        language=language if language in LANGUAGES else "ru",
        idempotency_key=idempotency_key,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(row)
    db.session.info[_KICK_FLAG] = True
    return [row]


# --- kicking the relay after commit -----------------------------------------------------


# SQLAlchemy dispatches after_commit / after_rollback for savepoints too (a released
# `begin_nested()` "commits"): only the outermost transaction's end counts here, else the
# relay would be kicked before the rows it should send are visible.


@sa_event.listens_for(Session, "after_commit")
def _kick_relay_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    if not session.info.pop(_KICK_FLAG, False):
        return
    if not has_app_context():
        return
    from notifications import jobs
    from notifications.channels import flag

    if flag(current_app.config["NOTIFY_KICK_RELAY"]):
        jobs.kick()


@sa_event.listens_for(Session, "after_rollback")
def _forget_kick_after_rollback(session: Session) -> None:
    # A savepoint rolled back may leave rows owed by the rest of the transaction; at worst
    # a kick finds nothing to send.
    if not session.in_nested_transaction():
        session.info.pop(_KICK_FLAG, None)


# --- reading and retrying, for the admin ------------------------------------------------


@dataclass
class OutboxFilter:
    status: str | None = None
    channel: str | None = None
    template: str | None = None


def listing(filters: OutboxFilter, limit: int = 200) -> list[OutboxMessage]:
    """The newest rows that match, newest first."""
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if filters.status:
        query = query.where(OutboxMessage.status == filters.status)
    if filters.channel:
        query = query.where(OutboxMessage.channel == filters.channel)
    if filters.template:
        query = query.where(OutboxMessage.template == filters.template)
    return list(db.session.scalars(query))


def counts_by_status() -> dict[str, int]:
    rows = db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count(OutboxMessage.id)).group_by(
            OutboxMessage.status
        )
    )
    found = dict(rows.all())
    return {status: found.get(status, 0) for status in STATUSES}


class NotRetryable(Exception):
    """Only a dead row can be retried by hand."""


def retry(outbox_id: int) -> OutboxMessage:
    """Give a dead row a fresh set of attempts, due now; the relay is kicked on commit."""
    row = db.session.get(OutboxMessage, outbox_id)
    if row is None:
        raise LookupError(outbox_id)
    if row.status != DEAD:
        raise NotRetryable(row.status)
    row.status = PENDING
    row.attempts = 0
    row.next_attempt_at = clock.now()
    row.claimed_at = None
    db.session.info[_KICK_FLAG] = True
    db.session.commit()
    return row
