"""The data: who, what service, which request, what happened to it.

Models describe data and invariants; services own transactions.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.extensions import db
from sla import clock


class UTCDateTime(sa.types.TypeDecorator):
    """Aware datetimes in and out, stored as UTC (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _now() -> datetime:
    return clock.now()


class Role(enum.StrEnum):
    APPLICANT = "applicant"
    STAFF = "staff"
    HEAD = "head"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


# The one name of each role, wherever a person reads it (pages, exports, sign-off stages).
ROLE_LABELS = {
    Role.APPLICANT: _l("Applicant"),
    Role.STAFF: _l("Specialist"),
    Role.HEAD: _l("Head of the department"),
    Role.SUPERVISOR: _l("Supervisor (deputy akim)"),
    Role.ADMIN: _l("Administrator"),
}


class State(enum.StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    AWAITING_DOCUMENTS = "awaiting_documents"
    IN_APPROVAL = "in_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    REFUSED_INCOMPLETE = "refused_incomplete"


FINAL_STATES = frozenset(
    {State.APPROVED, State.REJECTED, State.WITHDRAWN, State.REFUSED_INCOMPLETE}
)
OPEN_STATES = frozenset(State) - FINAL_STATES
# The same, as the strings stored, in a fixed order (for `IN (...)` and the partial indexes).
OPEN_STATE_VALUES = tuple(sorted(str(s) for s in OPEN_STATES))
# The partial indexes of the queues cover open requests only.
OPEN_QUEUE_SQL = "state IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATE_VALUES))
# What the boards' figures read of a decided request (an index covers them on PostgreSQL).
BOARD_COLUMNS = [
    "department_id",
    "service_id",
    "assignee_id",
    "sla_state",
    "state",
    "worked_seconds",
]


class WaitingPolicy(enum.StrEnum):
    PAUSE = "pause"
    RUN = "run"
    RESTART = "restart"


class SlaState(enum.StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    PAUSED = "paused"
    BREACHED = "breached"
    MET = "met"
    MISSED = "missed"


class Localized:
    """Columns `<name>_ru`, `<name>_kk`, `<name>_en`, read in the current language."""

    def localized(self, name: str) -> str:
        try:
            lang = str(get_locale() or "ru")
        except RuntimeError:  # outside a request (jobs, CLI)
            lang = "ru"
        value = getattr(self, f"{name}_{lang}", None)
        return value or getattr(self, f"{name}_ru")

    def in_language(self, name: str, lang: str) -> str:
        return getattr(self, f"{name}_{lang}", None) or getattr(self, f"{name}_ru")


class Department(Localized, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    name_ru: Mapped[str] = mapped_column(sa.String(200))
    name_kk: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    # A retired department takes no new services; its history stays.
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    services: Mapped[list[Service]] = relationship(back_populates="department")
    # The named head (a person with the head role): a table of its own, since a person
    # already points at their department and two tables pointing at each other cannot be
    # emptied in order.
    head: Mapped[User | None] = relationship(
        secondary="department_head", uselist=False, lazy="selectin"
    )

    @property
    def name(self) -> str:
        return self.localized("name")


class Business(db.Model):
    """The party an applicant acts for: a company (BIN) or the citizen themself (IIN)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # "company" | "citizen"
    identifier: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)

    __table_args__ = (sa.CheckConstraint("kind in ('company', 'citizen')", name="kind"),)


class MemberRole(enum.StrEnum):
    """What a person is to a business: its owner, or someone the owner let in."""

    OWNER = "owner"
    EMPLOYEE = "employee"
    ACCOUNTANT = "accountant"
    LAWYER = "lawyer"


class MemberStatus(enum.StrEnum):
    PENDING = "pending"  # asked to join; the owner has not answered
    ACTIVE = "active"
    DECLINED = "declined"
    REMOVED = "removed"


class BusinessMember(db.Model):
    """A person acting for a business: what they are to it and whether they are in.

    Access to a business's requests follows an active membership (portal/services/access.py).
    A member acting under a power of attorney keeps it here, stored like an upload.
    """

    __tablename__ = "business_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(sa.ForeignKey("business.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(12), default=MemberRole.EMPLOYEE)
    status: Mapped[str] = mapped_column(sa.String(10), default=MemberStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    # Who let them in, declined or removed them, and when.
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The power of attorney, checked as any upload, and the last day it is valid.
    poa_stored_name: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    poa_original_name: Mapped[str | None] = mapped_column(sa.String(255))
    poa_content_type: Mapped[str | None] = mapped_column(sa.String(40))
    poa_size: Mapped[int | None] = mapped_column()
    poa_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    poa_valid_until: Mapped[date | None] = mapped_column(sa.Date)

    business: Mapped[Business] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        sa.UniqueConstraint("business_id", "user_id", name="uq_business_member_once"),
        sa.CheckConstraint("role in ('owner', 'employee', 'accountant', 'lawyer')", name="role"),
        sa.CheckConstraint("status in ('pending', 'active', 'declined', 'removed')", name="status"),
        # One owner per business, by the database.
        sa.Index(
            "ix_business_member_one_owner",
            "business_id",
            unique=True,
            postgresql_where=sa.text("role = 'owner' AND status = 'active'"),
            sqlite_where=sa.text("role = 'owner' AND status = 'active'"),
        ),
    )

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE

    @property
    def is_owner(self) -> bool:
        return self.is_active and self.role == MemberRole.OWNER

    def power_of_attorney_valid(self, today: date) -> bool:
        return bool(self.poa_stored_name) and (
            self.poa_valid_until is not None and self.poa_valid_until >= today
        )


class BusinessInvitation(db.Model):
    """The owner's one-time link for a person to join: only the token's SHA-256 is kept."""

    __tablename__ = "business_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(sa.ForeignKey("business.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[str] = mapped_column(sa.String(12))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    business: Mapped[Business] = relationship()
    invited_by: Mapped[User] = relationship(foreign_keys=[invited_by_id])

    __table_args__ = (
        sa.CheckConstraint("role in ('employee', 'accountant', 'lawyer')", name="role"),
    )


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    full_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20), default=Role.APPLICANT)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    business_id: Mapped[int | None] = mapped_column(sa.ForeignKey("business.id"))
    locale: Mapped[str] = mapped_column(sa.String(5), default="ru")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    # Ties in assignment go to whoever was given work least recently.
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How this person wants to be told (the in-app inbox always): see notifications/.
    phone: Mapped[str | None] = mapped_column(sa.String(16))
    notify_email: Mapped[bool] = mapped_column(default=True)
    notify_sms: Mapped[bool] = mapped_column(default=False)

    department: Mapped[Department | None] = relationship()
    business: Mapped[Business | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "role in ('applicant', 'staff', 'head', 'supervisor', 'admin')", name="role"
        ),
    )

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive accounts
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.STAFF, Role.HEAD)


department_head = sa.Table(
    "department_head",
    db.metadata,
    sa.Column("department_id", sa.ForeignKey("department.id"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("user.id"), nullable=False),
)


# The file formats a document type may accept, by the name an admin knows them by.
FILE_FORMATS = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
ALL_FORMATS = list(FILE_FORMATS)


class DocumentType(Localized, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_ru: Mapped[str] = mapped_column(sa.String(200))
    name_kk: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    # What the applicant is told beside the upload ("issued not earlier than 30 days ...").
    note_ru: Mapped[str | None] = mapped_column(sa.Text)
    note_kk: Mapped[str | None] = mapped_column(sa.Text)
    note_en: Mapped[str | None] = mapped_column(sa.Text)
    formats: Mapped[list] = mapped_column(
        sa.JSON, default=lambda: list(ALL_FORMATS), server_default='["pdf", "jpeg", "png"]'
    )
    # None: the site's limit (MAX_UPLOAD_MB); a type's own limit is never above it.
    max_size_mb: Mapped[int | None] = mapped_column()
    # Several files for one document (a multi-page scan).
    multiple_files: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    __table_args__ = (
        sa.CheckConstraint("max_size_mb is null or max_size_mb between 1 and 100", name="max_size"),
    )

    @property
    def name(self) -> str:
        return self.localized("name")

    @property
    def note(self) -> str:
        return self.localized("note") or ""

    @property
    def mime_types(self) -> set[str]:
        return {FILE_FORMATS[f] for f in (self.formats or ALL_FORMATS) if f in FILE_FORMATS}


service_document = sa.Table(
    "service_document",
    db.metadata,
    sa.Column("service_id", sa.ForeignKey("service.id"), primary_key=True),
    sa.Column("document_type_id", sa.ForeignKey("document_type.id"), primary_key=True),
)
service_optional_document = sa.Table(
    "service_optional_document",
    db.metadata,
    sa.Column("service_id", sa.ForeignKey("service.id"), primary_key=True),
    sa.Column("document_type_id", sa.ForeignKey("document_type.id"), primary_key=True),
)


class Applicants(enum.StrEnum):
    """Who may apply for a service."""

    BUSINESS = "business"
    CITIZEN = "citizen"
    BOTH = "both"


class ResultForm(enum.StrEnum):
    """What the applicant receives when a request is approved."""

    PERMIT = "permit"
    LICENCE = "licence"
    CERTIFICATE = "certificate"
    LETTER = "letter"


class Service(Localized, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    title_ru: Mapped[str] = mapped_column(sa.String(200))
    title_kk: Mapped[str] = mapped_column(sa.String(200))
    title_en: Mapped[str] = mapped_column(sa.String(200))
    description_ru: Mapped[str] = mapped_column(sa.Text)
    description_kk: Mapped[str] = mapped_column(sa.Text)
    description_en: Mapped[str] = mapped_column(sa.Text)
    target_days: Mapped[int] = mapped_column()
    waiting_policy: Mapped[str] = mapped_column(sa.String(10), default=WaitingPolicy.PAUSE)
    at_risk_ratio: Mapped[float] = mapped_column(default=0.75)
    # Stage targets: the completeness check after submission (the permits law's intake
    # check) and approvals; None means no separate target for that stage.
    intake_days: Mapped[int | None] = mapped_column(default=2)
    approval_days: Mapped[int | None] = mapped_column()
    # The escalation ladder: warn the employee at risk, the head at breach, the supervisor
    # when still open this many working days after the breach (None switches a level off).
    warn_at_risk: Mapped[bool] = mapped_column(default=True)
    escalate_to_head: Mapped[bool] = mapped_column(default=True)
    supervisor_after_days: Mapped[int | None] = mapped_column(default=3)
    # The chase: the applicant has this many working days to answer a document request,
    # and is reminded at opening time on these working days after being asked.
    reply_days: Mapped[int] = mapped_column(default=10)
    reminder_days: Mapped[list] = mapped_column(sa.JSON, default=lambda: [2, 4, 6])
    active: Mapped[bool] = mapped_column(default=True)
    # Approvals (portal/services/approvals.py): an approval step not answered by its
    # deadline counts as given when this is on.
    silence_is_consent: Mapped[bool] = mapped_column(default=False)
    # Who may apply, what it costs (None: free; whole tenge) and what the applicant gets.
    applicants: Mapped[str] = mapped_column(
        sa.String(10), default=Applicants.BOTH, server_default=Applicants.BOTH.value
    )
    fee_tenge: Mapped[int | None] = mapped_column()
    result_form: Mapped[str] = mapped_column(
        sa.String(12), default=ResultForm.LETTER, server_default=ResultForm.LETTER.value
    )
    legal_basis_ru: Mapped[str | None] = mapped_column(sa.Text)
    legal_basis_kk: Mapped[str | None] = mapped_column(sa.Text)
    legal_basis_en: Mapped[str | None] = mapped_column(sa.Text)

    department: Mapped[Department] = relationship(back_populates="services")
    required_documents: Mapped[list[DocumentType]] = relationship(
        secondary=service_document, order_by=DocumentType.id
    )
    optional_documents: Mapped[list[DocumentType]] = relationship(
        secondary=service_optional_document, order_by=DocumentType.id
    )
    approvers: Mapped[list[ServiceApprover]] = relationship(
        order_by="ServiceApprover.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("target_days between 0 and 365", name="target_days"),
        sa.CheckConstraint("waiting_policy in ('pause', 'run', 'restart')", name="policy"),
        sa.CheckConstraint("at_risk_ratio > 0 and at_risk_ratio < 1", name="at_risk_ratio"),
        sa.CheckConstraint("reply_days between 1 and 60", name="reply_days"),
        sa.CheckConstraint("applicants in ('business', 'citizen', 'both')", name="applicants"),
        sa.CheckConstraint(
            "result_form in ('permit', 'licence', 'certificate', 'letter')", name="result_form"
        ),
        sa.CheckConstraint("fee_tenge is null or fee_tenge >= 0", name="fee"),
    )

    @property
    def title(self) -> str:
        return self.localized("title")

    @property
    def legal_basis(self) -> str:
        return self.localized("legal_basis") or ""

    def admits(self, business_kind: str | None) -> bool:
        """Whether an applicant acting for this kind of party ("company" | "citizen") may apply."""
        if self.applicants == Applicants.BOTH:
            return True
        wanted = "company" if self.applicants == Applicants.BUSINESS else "citizen"
        return business_kind == wanted

    @property
    def description(self) -> str:
        return self.localized("description")


class ServiceRequest(db.Model):
    """One application by one applicant for one service; its state moves by events."""

    __tablename__ = "service_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("service.id"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    applicant_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    business_id: Mapped[int | None] = mapped_column(sa.ForeignKey("business.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    description: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(24), default=State.SUBMITTED)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    # The SLA clock (see sla/): the deadline, where the clock stands, and when to look again.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_state: Mapped[str] = mapped_column(sa.String(12), default=SlaState.ON_TRACK)
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_working_seconds: Mapped[int] = mapped_column(default=0)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The clock's own bookkeeping: when it (re)started, the target it was given in office
    # seconds, the pause credit since, and which run of the clock this is (restart = +1).
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    target_working_seconds: Mapped[int] = mapped_column(default=0)
    credited_working_seconds: Mapped[int] = mapped_column(default=0)
    clock_epoch: Mapped[int] = mapped_column(default=0)
    # When the current state began: stage targets (intake check, approvals) count from here.
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A request started again from one refused as incomplete.
    carried_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_request.id"))
    # Office seconds worked from submission to decision, waiting on the applicant left out:
    # set when the clock stops, so the boards take medians in SQL (no calendar per row).
    worked_seconds: Mapped[int | None] = mapped_column()
    # The head of the request's audit chain (portal/audit.py): the last event's seq and
    # hash, so that removing the last event shows as well as removing any other.
    audit_seq: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    audit_head: Mapped[str | None] = mapped_column(sa.String(64))
    # What the head commits to about this row (state, assignee, due_at and their hash with
    # the head), set by portal/lifecycle.py whenever a transaction records an event.
    audit_seal: Mapped[dict | None] = mapped_column(sa.JSON)

    service: Mapped[Service] = relationship()
    department: Mapped[Department] = relationship()
    applicant: Mapped[User] = relationship(foreign_keys=[applicant_id])
    business: Mapped[Business | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    documents: Mapped[list[Document]] = relationship(
        back_populates="request", order_by="Document.id"
    )
    document_requests: Mapped[list[DocumentRequest]] = relationship(
        back_populates="request", order_by="DocumentRequest.id"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="request", order_by="Event.id", viewonly=True
    )

    __table_args__ = (
        sa.Index("ix_service_request_assignee_state", "assignee_id", "state"),
        sa.Index("ix_service_request_department_state", "department_id", "state"),
        sa.Index("ix_service_request_next_check_at", "next_check_at"),
        # The boards. Completed requests of a department, or of everyone, in a period; on
        # PostgreSQL with the columns the figures read, so they come from the index alone.
        sa.Index(
            "ix_service_request_department_decided",
            "department_id",
            "decided_at",
            postgresql_include=["assignee_id", "sla_state", "state"],
        ),
        sa.Index(
            "ix_service_request_decided_at",
            "decided_at",
            postgresql_include=BOARD_COLUMNS,
        ),
        # The queues, in their order (paused last, soonest deadline first), open ones only.
        sa.Index(
            "ix_service_request_assignee_queue",
            "assignee_id",
            sa.text("(paused_since IS NOT NULL)"),
            "due_at",
            "id",
            postgresql_where=sa.text(OPEN_QUEUE_SQL),
            sqlite_where=sa.text(OPEN_QUEUE_SQL),
            postgresql_include=["department_id", "service_id", "sla_state", "state"],
        ),
        sa.Index(
            "ix_service_request_department_queue",
            "department_id",
            sa.text("(paused_since IS NOT NULL)"),
            "due_at",
            "id",
            postgresql_where=sa.text(OPEN_QUEUE_SQL),
            sqlite_where=sa.text(OPEN_QUEUE_SQL),
            postgresql_include=["assignee_id", "service_id", "sla_state", "state"],
        ),
    )

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def open_document_request(self) -> DocumentRequest | None:
        for document_request in self.document_requests:
            if document_request.state == "open":
                return document_request
        return None


class Document(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_request.id"), index=True)
    document_type_id: Mapped[int] = mapped_column(sa.ForeignKey("document_type.id"))
    document_request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("document_request.id"))
    original_name: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)

    request: Mapped[ServiceRequest] = relationship(back_populates="documents")
    document_type: Mapped[DocumentType] = relationship()
    document_request: Mapped[DocumentRequest | None] = relationship()


class DocumentRequest(db.Model):
    """Staff asking the applicant for what is missing, and why."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_request.id"), index=True)
    asked_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    reply_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The working days given to answer, kept so that a calendar change can move reply_by.
    reply_days: Mapped[int | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(sa.String(12), default="open")
    reason: Mapped[str | None] = mapped_column(sa.Text)

    request: Mapped[ServiceRequest] = relationship(back_populates="document_requests")
    asked_by: Mapped[User] = relationship()
    items: Mapped[list[DocumentRequestItem]] = relationship(
        back_populates="document_request", order_by="DocumentRequestItem.id"
    )

    __table_args__ = (
        sa.CheckConstraint("state in ('open', 'answered', 'expired', 'cancelled')", name="state"),
    )


class ChaseReminder(db.Model):
    """One reminder of a document request, sent once (the database sees to that)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    document_request_id: Mapped[int] = mapped_column(sa.ForeignKey("document_request.id"))
    number: Mapped[int] = mapped_column()  # the working day after asking it was due on
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("document_request_id", "number", name="uq_chase_reminder_once"),
    )


class DocumentRequestItem(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    document_request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("document_request.id"), index=True
    )
    document_type_id: Mapped[int] = mapped_column(sa.ForeignKey("document_type.id"))
    reason: Mapped[str] = mapped_column(sa.Text)

    document_request: Mapped[DocumentRequest] = relationship(back_populates="items")
    document_type: Mapped[DocumentType] = relationship()


class Event(db.Model):
    """The append-only log: every change to a request, who made it and from which state."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_request.id"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    from_state: Mapped[str | None] = mapped_column(sa.String(24))
    to_state: Mapped[str | None] = mapped_column(sa.String(24))
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    # The audit chain (portal/audit.py): n-th event of its request, the hash of the one
    # before (none for the first) and its own over that and its content. Set by record().
    seq: Mapped[int | None] = mapped_column()
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str | None] = mapped_column(sa.String(64))

    request: Mapped[ServiceRequest] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.Index("ix_event_request_id_id", "request_id", "id"),
        sa.Index("ix_event_request_id_seq", "request_id", "seq", unique=True),
    )


class CalendarOverride(db.Model):
    """An admin's correction to the public-holiday calendar."""

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, unique=True)
    kind: Mapped[str] = mapped_column(sa.String(12))  # "holiday" | "working"
    name: Mapped[str] = mapped_column(sa.String(200))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)

    created_by: Mapped[User | None] = relationship()

    __table_args__ = (sa.CheckConstraint("kind in ('holiday', 'working')", name="kind"),)


class Escalation(db.Model):
    """One rung of the ladder fired for one request: at most once per clock run."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_request.id"))
    # at_risk | head | supervisor, and the stage targets: intake | approval
    level: Mapped[str] = mapped_column(sa.String(12))
    clock_epoch: Mapped[int] = mapped_column(default=0)
    target_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # Who was accountable when it fired: a breach stays theirs after a reassignment.
    accountable_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason_code: Mapped[str | None] = mapped_column(sa.String(24))
    note: Mapped[str | None] = mapped_column(sa.Text)
    # The acknowledger's verdict: True excused (not the employee's doing), False not.
    excused: Mapped[bool | None] = mapped_column()

    request: Mapped[ServiceRequest] = relationship()
    target_user: Mapped[User | None] = relationship(foreign_keys=[target_user_id])
    accountable: Mapped[User | None] = relationship(foreign_keys=[accountable_id])
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])

    __table_args__ = (
        # The database, not only the code, makes each level fire once.
        sa.UniqueConstraint("request_id", "level", "clock_epoch", name="uq_escalation_once"),
        sa.CheckConstraint(
            "level in ('at_risk', 'head', 'supervisor', 'intake', 'approval')", name="level"
        ),
        sa.Index("ix_escalation_target_open", "target_user_id", "acknowledged_at"),
        # The breach board: newest first, and one request's history.
        sa.Index("ix_escalation_fired_at", "fired_at"),
        sa.Index("ix_escalation_request_id", "request_id"),
        sa.Index(
            "ix_escalation_pending",
            "fired_at",
            postgresql_where=sa.text("acknowledged_at IS NULL"),
            sqlite_where=sa.text("acknowledged_at IS NULL"),
        ),
    )


APPROVER_ROLES = ("head", "supervisor")
STEP_OUTCOMES = ("approved", "returned", "silence_consent", "cancelled")


class ServiceApprover(db.Model):
    """Who signs off a service's requests after review: a role or a department.

    role "head": the head of the department that owns the request; role "supervisor":
    any supervisor; a department: any of its staff or heads.
    """

    __tablename__ = "service_approver"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(sa.ForeignKey("service.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    role: Mapped[str | None] = mapped_column(sa.String(20))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))

    department: Mapped[Department | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("service_id", "position", name="uq_service_approver_position"),
        sa.CheckConstraint(
            "(role is null and department_id is not null)"
            " or (role is not null and department_id is null)",
            name="one_kind",
        ),
        sa.CheckConstraint("role is null or role in ('head', 'supervisor')", name="role"),
    )


class ApprovalStep(db.Model):
    """One sign-off asked for one request in one round of approval.

    A round starts each time the request is sent to approval; its steps run in parallel.
    """

    __tablename__ = "approval_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("service_request.id"))
    round: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=0)
    approver_role: Mapped[str | None] = mapped_column(sa.String(20))
    approver_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # None while waiting; approved | returned | silence_consent | cancelled
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    comment: Mapped[str | None] = mapped_column(sa.Text)

    request: Mapped[ServiceRequest] = relationship()
    approver_department: Mapped[Department | None] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])

    __table_args__ = (
        # Sending to approval twice at once cannot ask for the same sign-off twice.
        sa.UniqueConstraint("request_id", "round", "position", name="uq_approval_step_once"),
        sa.CheckConstraint(
            "outcome is null or outcome in ('approved', 'returned', 'silence_consent', "
            "'cancelled')",
            name="outcome",
        ),
        sa.Index("ix_approval_step_request_round", "request_id", "round"),
        # The approvers' queues and the boards read steps by outcome.
        sa.Index("ix_approval_step_outcome_due_at", "outcome", "due_at"),
    )

    @property
    def is_waiting(self) -> bool:
        return self.outcome is None

    @property
    def is_given(self) -> bool:
        return self.outcome in ("approved", "silence_consent")


@sa_event.listens_for(Session, "before_flush")
def _events_are_append_only(session, flush_context, instances):
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Event) and (obj in session.deleted or session.is_modified(obj)):
            raise ValueError("events are append-only")


class ApiToken(db.Model):
    """A personal API token: only its SHA-256 is kept; the secret is shown once.

    A token acts as its user with the role the user had when it was made: should the role
    change, the token stops working rather than quietly gaining or losing rights.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    role: Mapped[str] = mapped_column(sa.String(20))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The client address of the last use (as the trusted proxies give it).
    last_used_ip: Mapped[str | None] = mapped_column(sa.String(45))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who revoked it (the owner, an admin; None: the system, e.g. the account was disabled)
    # and why: "owner", "admin", "account_disabled".
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class LoginSession(db.Model):
    """One signed-in browser: the cookie holds a random token, the row only its SHA-256.

    Revoking the row (logout, an account disabled, a timeout) ends the session even for
    someone holding a copy of the cookie.
    """

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40))

    user: Mapped[User] = relationship()


class AccountChange(db.Model):
    """An account disabled or enabled again, or its role or department changed: by whom,
    when and why."""

    __tablename__ = "account_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    # None when done from the command line.
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    __table_args__ = (
        sa.CheckConstraint(
            "action in ('disabled', 'enabled', 'role_changed', 'invited')", name="action"
        ),
    )


class OneTimeToken(db.Model):
    """A link sent by email that does one thing once: accept an invitation, reset a
    password, confirm a new email address. Only its SHA-256 is kept; it expires."""

    __tablename__ = "one_time_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(20))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Used, or set aside by a newer link of the same purpose.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The address being confirmed (email change only).
    new_email: Mapped[str | None] = mapped_column(sa.String(254))
    # Who sent it (an admin's invitation); None: the person themself or the command line.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    __table_args__ = (
        sa.CheckConstraint(
            "purpose in ('invitation', 'password_reset', 'email_change')", name="purpose"
        ),
    )


class CatalogueChange(db.Model):
    """The audit of the catalogue: a department, document type or service created,
    changed, retired, restored or deleted; by whom (None: the command line), from where
    (the admin pages or a catalogue file) and what changed (field: [old, new])."""

    __tablename__ = "catalogue_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    entity: Mapped[str] = mapped_column(sa.String(16))
    code: Mapped[str] = mapped_column(sa.String(40))
    action: Mapped[str] = mapped_column(sa.String(12))
    source: Mapped[str] = mapped_column(sa.String(8), default="admin")
    changes: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("entity in ('department', 'document_type', 'service')", name="entity"),
        sa.CheckConstraint(
            "action in ('created', 'updated', 'retired', 'restored', 'deleted')", name="action"
        ),
        sa.Index("ix_catalogue_change_created_at", "created_at"),
    )
