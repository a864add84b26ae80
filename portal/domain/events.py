"""Every kind of event a request's log may hold, declared once, with who may see what.

A kind's declaration says what the timeline calls it, whether the applicant sees that it
happened, who did it and its comment (the payload's `reason` or `note`), and which
messages report it. Recording an undeclared kind raises `UndeclaredEventKind`: a kind
nobody declared has nobody's decision about who may read it. Stored values are the
enum's strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask_babel import lazy_gettext as _l


class EventKind(StrEnum):
    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    REASSIGNED = "reassigned"
    CLOCK_STARTED = "clock_started"
    CLOCK_PAUSED = "clock_paused"
    CLOCK_RESUMED = "clock_resumed"
    CLOCK_STOPPED = "clock_stopped"
    ACCEPT_DOCUMENTS = "accept_documents"
    REQUEST_DOCUMENTS = "request_documents"
    PROVIDE_DOCUMENTS = "provide_documents"
    SEND_TO_APPROVAL = "send_to_approval"
    RETURN_TO_REVIEW = "return_to_review"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    REFUSE_INCOMPLETE = "refuse_incomplete"
    REMINDER_SENT = "reminder_sent"
    SLA_AT_RISK = "sla_at_risk"
    SLA_BREACHED = "sla_breached"
    ESCALATED = "escalated"
    ESCALATION_ACKNOWLEDGED = "escalation_acknowledged"
    DEADLINE_RECOMPUTED = "deadline_recomputed"
    REPLY_BY_RECOMPUTED = "reply_by_recomputed"
    APPROVALS_REQUESTED = "approvals_requested"
    APPROVAL_GIVEN = "approval_given"
    APPROVAL_SILENCE_CONSENT = "approval_silence_consent"


class Audience(StrEnum):
    """Who may read a part of an event."""

    PUBLIC = "public"  # the applicant too
    INTERNAL = "internal"  # the administration only


# The payload keys that carry a person's words about the event.
COMMENT_KEYS = ("reason", "note", "comment")

PUBLIC, INTERNAL = Audience.PUBLIC, Audience.INTERNAL


@dataclass(frozen=True)
class EventSpec:
    kind: EventKind
    label: object  # a lazy string, with %(name)s taken from the payload
    seen: Audience  # whether the applicant sees that it happened
    actor: Audience  # ... who did it
    comment: Audience  # ... its comment or reason
    messages: tuple[str, ...] = ()  # the notification templates that report it

    def applicant_sees(self, part: str = "event") -> bool:
        audience = {"event": self.seen, "actor": self.actor, "comment": self.comment}[part]
        return self.seen is PUBLIC and audience is PUBLIC


K = EventKind

# The administration's inner workings (who asked whom, who signed off, why work moved
# between colleagues) show to the applicant as steps, without names or words.
_SPECS = (
    EventSpec(K.SUBMITTED, _l("Request submitted"), PUBLIC, PUBLIC, PUBLIC, ("request_submitted",)),
    EventSpec(
        K.ASSIGNED,
        _l("Assigned to %(assignee)s"),
        PUBLIC,
        INTERNAL,
        INTERNAL,
        ("request_assigned", "new_assignment"),
    ),
    EventSpec(
        K.REASSIGNED,
        _l("Reassigned from %(previous)s to %(assignee)s"),
        PUBLIC,
        INTERNAL,
        INTERNAL,
        ("reassigned",),
    ),
    EventSpec(K.CLOCK_STARTED, _l("Deadline set"), PUBLIC, PUBLIC, PUBLIC),
    EventSpec(
        K.CLOCK_PAUSED, _l("Clock paused while waiting for the applicant"), PUBLIC, PUBLIC, PUBLIC
    ),
    EventSpec(K.CLOCK_RESUMED, _l("Clock resumed"), PUBLIC, PUBLIC, PUBLIC),
    EventSpec(K.CLOCK_STOPPED, _l("Clock stopped"), PUBLIC, PUBLIC, PUBLIC),
    EventSpec(
        K.ACCEPT_DOCUMENTS, _l("Documents accepted; review started"), PUBLIC, PUBLIC, INTERNAL
    ),
    EventSpec(
        K.REQUEST_DOCUMENTS,
        _l("Missing documents requested"),
        PUBLIC,
        PUBLIC,
        PUBLIC,
        ("documents_requested",),
    ),
    EventSpec(
        K.PROVIDE_DOCUMENTS,
        _l("Missing documents provided"),
        PUBLIC,
        PUBLIC,
        PUBLIC,
        ("package_complete",),
    ),
    EventSpec(K.SEND_TO_APPROVAL, _l("Sent to approval"), PUBLIC, PUBLIC, INTERNAL),
    # An approver's or a head's words on sending work back are for the caseworker.
    EventSpec(
        K.RETURN_TO_REVIEW,
        _l("Returned to review"),
        PUBLIC,
        INTERNAL,
        INTERNAL,
        ("approval_returned",),
    ),
    # The decision and its reason are addressed to the applicant.
    EventSpec(K.APPROVE, _l("Approved"), PUBLIC, PUBLIC, PUBLIC, ("decision_approved",)),
    EventSpec(K.REJECT, _l("Rejected"), PUBLIC, PUBLIC, PUBLIC, ("decision_rejected",)),
    EventSpec(K.WITHDRAW, _l("Withdrawn by the applicant"), PUBLIC, PUBLIC, PUBLIC),
    EventSpec(
        K.REFUSE_INCOMPLETE,
        _l("Refused: documents not provided in time"),
        PUBLIC,
        PUBLIC,
        PUBLIC,
        ("refused_incomplete",),
    ),
    EventSpec(
        K.REMINDER_SENT,
        _l("Reminder %(number)s sent to the applicant"),
        PUBLIC,
        PUBLIC,
        PUBLIC,
        ("documents_reminder",),
    ),
    EventSpec(K.SLA_AT_RISK, _l("At risk of missing the deadline"), PUBLIC, PUBLIC, INTERNAL),
    EventSpec(K.SLA_BREACHED, _l("Deadline missed"), PUBLIC, PUBLIC, INTERNAL),
    EventSpec(
        K.ESCALATED,
        _l("Escalated: %(level_label)s"),
        PUBLIC,
        INTERNAL,
        INTERNAL,
        (
            "escalation_at_risk",
            "escalation_head",
            "escalation_supervisor",
            "escalation_intake",
            "escalation_approval",
        ),
    ),
    # A head's or supervisor's account of a breach (reason, note, excused) is accountability
    # inside the administration.
    EventSpec(
        K.ESCALATION_ACKNOWLEDGED, _l("Escalation acknowledged"), INTERNAL, INTERNAL, INTERNAL
    ),
    EventSpec(K.DEADLINE_RECOMPUTED, _l("Deadline recomputed"), PUBLIC, INTERNAL, INTERNAL),
    EventSpec(K.REPLY_BY_RECOMPUTED, _l("Reply-by date recomputed"), PUBLIC, INTERNAL, INTERNAL),
    EventSpec(
        K.APPROVALS_REQUESTED,
        _l("Approvals requested: %(stages)s"),
        PUBLIC,
        INTERNAL,
        INTERNAL,
        ("approval_requested",),
    ),
    EventSpec(K.APPROVAL_GIVEN, _l("Approval given: %(stage)s"), PUBLIC, INTERNAL, INTERNAL),
    EventSpec(
        K.APPROVAL_SILENCE_CONSENT,
        _l("Approval counted as given: %(stage)s did not answer by the deadline"),
        PUBLIC,
        INTERNAL,
        INTERNAL,
    ),
)

REGISTRY: dict[EventKind, EventSpec] = {spec.kind: spec for spec in _SPECS}
assert set(REGISTRY) == set(EventKind), "every kind is declared exactly once"  # noqa: S101

# Which kind of event each message reports (messages that report none, like the daily
# digest, are not here).
MESSAGE_KINDS: dict[str, EventKind] = {
    message: spec.kind for spec in _SPECS for message in spec.messages
}


class UndeclaredEventKind(ValueError):
    """An event of a kind this registry does not declare."""


def spec(kind: str) -> EventSpec:
    """The declaration of `kind`; UndeclaredEventKind if there is none."""
    try:
        return REGISTRY[EventKind(kind)]
    except ValueError:
        raise UndeclaredEventKind(f"undeclared event kind {kind!r}") from None


def applicant_sees(kind: str, part: str = "event") -> bool:
    """Whether the applicant sees the event (`part` "event"), its actor or its comment.

    A kind recorded before it was dropped from the registry stays unseen."""
    try:
        return spec(kind).applicant_sees(part)
    except UndeclaredEventKind:
        return False


def for_applicant(message: str, facts: dict) -> dict:
    """The facts of `message` an applicant may read: without the comment unless the kind of
    event it reports declares its comment public."""
    kind = MESSAGE_KINDS.get(message)
    if kind is not None and REGISTRY[kind].applicant_sees("comment"):
        return facts
    return {key: value for key, value in facts.items() if key not in COMMENT_KEYS}
