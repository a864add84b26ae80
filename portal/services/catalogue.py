"""The catalogue: departments, document types and services, as an admin or a file sets them.

Each entity has one plain shape (a dict, the same in the admin pages and in the catalogue
file, see portal/services/catalogue_file.py): `spec_of_*` reads it from the database,
`check_*` lists what is wrong with it, `apply_*` writes it (in the caller's transaction)
and returns what changed. Every change is audited: a `CatalogueChange` row and a record
in the security log. A change that moves deadlines (a service's target) queues the
recompute that the policy page uses (portal/services/policies.py).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.models import (
    ALL_FORMATS,
    FILE_FORMATS,
    OPEN_STATES,
    Applicants,
    CatalogueChange,
    Department,
    DocumentType,
    ResultForm,
    Role,
    Service,
    ServiceApprover,
    ServiceRequest,
    User,
    WaitingPolicy,
)
from portal.security import log_event
from portal.services import ServiceError
from portal.services.policies import POLICY_FIELDS, Saved, _queue_recompute

LANGUAGES = ("ru", "kk", "en")
CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
RESERVED_CODES = {"new"}  # /admin/services/new and alike
APPROVER_ROLES = ("head", "supervisor")


@dataclass
class Problem:
    """One thing wrong with a spec: where (a path into it) and what."""

    path: tuple
    message: object  # a lazy string

    def __str__(self) -> str:
        return str(self.message)


@dataclass
class Change:
    """What applying a spec did (or would do)."""

    entity: str
    code: str
    action: str  # created | updated | retired | restored | unchanged
    fields: dict = field(default_factory=dict)  # name -> [old, new]


# --- reading ---------------------------------------------------------------------------


def _texts(obj, name: str) -> dict | None:
    values = {lang: getattr(obj, f"{name}_{lang}") or "" for lang in LANGUAGES}
    return values if any(values.values()) else None


def spec_of_department(department: Department) -> dict:
    return {
        "code": department.code,
        "name": _texts(department, "name"),
        "head": department.head.email if department.head is not None else None,
        "active": department.active,
    }


def spec_of_document_type(document_type: DocumentType) -> dict:
    return {
        "code": document_type.code,
        "name": _texts(document_type, "name"),
        "note": _texts(document_type, "note"),
        "formats": list(document_type.formats or ALL_FORMATS),
        "max_size_mb": document_type.max_size_mb,
        "multiple_files": document_type.multiple_files,
        "active": document_type.active,
    }


def approver_name(approver: ServiceApprover) -> str:
    if approver.role:
        return approver.role
    return f"department:{approver.department.code}"


def spec_of_service(service: Service) -> dict:
    return {
        "code": service.code,
        "department": service.department.code,
        "title": _texts(service, "title"),
        "description": _texts(service, "description"),
        "applicants": service.applicants,
        "fee_tenge": service.fee_tenge,
        "result_form": service.result_form,
        "legal_basis": _texts(service, "legal_basis"),
        "target_days": service.target_days,
        "intake_days": service.intake_days,
        "approval_days": service.approval_days,
        "waiting_policy": service.waiting_policy,
        "at_risk_percent": round(service.at_risk_ratio * 100),
        "warn_at_risk": service.warn_at_risk,
        "escalate_to_head": service.escalate_to_head,
        "supervisor_after_days": service.supervisor_after_days,
        "reply_days": service.reply_days,
        "reminder_days": list(service.reminder_days or []),
        "approvers": [approver_name(a) for a in service.approvers],
        "silence_is_consent": service.silence_is_consent,
        # In code order: the same set reads the same whatever order the rows were made in.
        "required_documents": sorted(d.code for d in service.required_documents),
        "optional_documents": sorted(d.code for d in service.optional_documents),
        "active": service.active,
    }


# --- checking --------------------------------------------------------------------------


@dataclass
class Known:
    """The codes a spec may refer to: what the database has, plus what the file adds."""

    departments: set[str] = field(default_factory=set)
    document_types: set[str] = field(default_factory=set)

    @classmethod
    def from_database(cls) -> Known:
        return cls(
            departments=set(db.session.scalars(sa.select(Department.code))),
            document_types=set(db.session.scalars(sa.select(DocumentType.code))),
        )


def _check_code(spec: dict, problems: list, max_length: int) -> None:
    code = spec.get("code")
    if not isinstance(code, str) or not CODE.match(code) or len(code) > max_length:
        problems.append(
            Problem(
                ("code",),
                _l(
                    "Up to %(max)d Latin letters, digits, _ or -, starting with a letter.",
                    max=max_length,
                ),
            )
        )
    elif code.lower() in RESERVED_CODES:
        problems.append(Problem(("code",), _l("This code is reserved: choose another.")))


def _check_texts(spec: dict, name: str, problems: list, required: bool, max_length: int) -> None:
    texts = spec.get(name) or {}
    for lang in LANGUAGES:
        value = texts.get(lang) or ""
        if required and not value.strip():
            problems.append(Problem((name, lang), _l("Fill this in, in all three languages.")))
        elif len(value) > max_length:
            problems.append(
                Problem((name, lang), _l("At most %(max)d characters.", max=max_length))
            )


def _head_user(email: str | None) -> User | None:
    if not email:
        return None
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def check_department(spec: dict, known: Known | None = None) -> list[Problem]:
    problems: list[Problem] = []
    _check_code(spec, problems, 16)
    _check_texts(spec, "name", problems, True, 200)
    email = spec.get("head")
    if email:
        head = _head_user(email)
        if head is None or head.role != Role.HEAD or not head.active:
            problems.append(Problem(("head",), _l("No active head of department has this email.")))
        elif head.department is not None and head.department.code != spec.get("code"):
            problems.append(Problem(("head",), _l("This person is a head of another department.")))
    return problems


def check_document_type(spec: dict, known: Known | None = None) -> list[Problem]:
    problems: list[Problem] = []
    _check_code(spec, problems, 40)
    _check_texts(spec, "name", problems, True, 200)
    _check_texts(spec, "note", problems, False, 1000)
    formats = spec.get("formats") or []
    if not formats or any(f not in FILE_FORMATS for f in formats):
        problems.append(Problem(("formats",), _l("Choose at least one of PDF, JPEG and PNG.")))
    size = spec.get("max_size_mb")
    if size is not None and not (isinstance(size, int) and 1 <= size <= 100):
        problems.append(Problem(("max_size_mb",), _l("The largest file is 1 to 100 MB.")))
    return problems


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_service(spec: dict, known: Known) -> list[Problem]:
    problems: list[Problem] = []
    _check_code(spec, problems, 40)
    _check_texts(spec, "title", problems, True, 200)
    _check_texts(spec, "description", problems, True, 4000)
    _check_texts(spec, "legal_basis", problems, False, 1000)
    if spec.get("department") not in known.departments:
        problems.append(Problem(("department",), _l("There is no department with this code.")))
    if spec.get("applicants") not in tuple(Applicants):
        problems.append(Problem(("applicants",), _l("Choose who may apply.")))
    if spec.get("result_form") not in tuple(ResultForm):
        problems.append(Problem(("result_form",), _l("Choose the form of the result.")))
    fee = spec.get("fee_tenge")
    if fee is not None and not (_whole(fee) and 0 <= fee <= 100_000_000):
        problems.append(Problem(("fee_tenge",), _l("The fee is a whole number of tenge.")))
    target = spec.get("target_days")
    if not (_whole(target) and 1 <= target <= 365):
        problems.append(Problem(("target_days",), _l("The target is 1 to 365 working days.")))
    for name in ("intake_days", "approval_days", "supervisor_after_days"):
        value = spec.get(name)
        if value is not None and not (_whole(value) and 1 <= value <= 60):
            problems.append(Problem((name,), _l("Between 1 and 60 working days, or none.")))
    if spec.get("waiting_policy") not in tuple(WaitingPolicy):
        problems.append(Problem(("waiting_policy",), _l("Choose a waiting policy.")))
    percent = spec.get("at_risk_percent")
    if not (_whole(percent) and 1 <= percent <= 99):
        problems.append(
            Problem(("at_risk_percent",), _l("The at-risk threshold is between 1 and 99 %."))
        )
    reply = spec.get("reply_days")
    if not (_whole(reply) and 1 <= reply <= 60):
        problems.append(Problem(("reply_days",), _l("Between 1 and 60 working days.")))
        reply = 61
    reminders = spec.get("reminder_days")
    if not isinstance(reminders, list) or any(
        not (_whole(d) and 1 <= d < reply) for d in reminders
    ):
        problems.append(
            Problem(
                ("reminder_days",),
                _l("Reminder days are whole working days before the reply-by day, e.g. 2, 4, 6."),
            )
        )
    for at, name in enumerate(spec.get("approvers") or []):
        kind, _, code = str(name).partition(":")
        if not (name in APPROVER_ROLES or (kind == "department" and code in known.departments)):
            problems.append(Problem(("approvers", at), _l("Unknown approver.")))
    required = spec.get("required_documents") or []
    optional = spec.get("optional_documents") or []
    for key, codes in (("required_documents", required), ("optional_documents", optional)):
        for at, code in enumerate(codes):
            if code not in known.document_types:
                problems.append(Problem((key, at), _l("There is no document type with this code.")))
            elif codes.index(code) != at or (key == "optional_documents" and code in required):
                problems.append(Problem((key, at), _l("This document is listed twice.")))
    return problems


def _raise_first(problems: list[Problem]) -> None:
    if problems:
        raise ServiceError(problems[0].message, field=str(problems[0].path[0]))


# --- writing ---------------------------------------------------------------------------


def _set_texts(obj, name: str, texts: dict | None) -> None:
    for lang in LANGUAGES:
        value = ((texts or {}).get(lang) or "").strip()
        setattr(obj, f"{name}_{lang}", value or None)


def _set_required_texts(obj, name: str, texts: dict) -> None:
    for lang in LANGUAGES:
        setattr(obj, f"{name}_{lang}", texts[lang].strip())


def _diff(before: dict | None, after: dict) -> dict:
    if before is None:
        return {}
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def _action(before: dict | None, after: dict, changed: dict) -> str:
    if before is None:
        return "created"
    if "active" in changed:
        return "restored" if after["active"] else "retired"
    return "updated" if changed else "unchanged"


def _audit(actor: User | None, change: Change, source: str) -> None:
    if change.action == "unchanged":
        return
    db.session.add(
        CatalogueChange(
            actor=actor,
            entity=change.entity,
            code=change.code,
            action=change.action,
            source=source,
            changes=change.fields,
        )
    )


def _logged(actor: User | None, change: Change, source: str) -> None:
    if change.action != "unchanged":
        log_event(
            f"catalogue.{change.action}",
            outcome="success",
            entity=change.entity,
            code=change.code,
            source=source,
            actor_id=actor.id if actor is not None else None,
            fields=sorted(change.fields),
        )


def _clean_texts(texts) -> dict | None:
    cleaned = {lang: ((texts or {}).get(lang) or "").strip() for lang in LANGUAGES}
    return cleaned if any(cleaned.values()) else None


def _no_autoflush(apply):
    """Lookups while a new row is half filled in must not flush it."""

    @functools.wraps(apply)
    def wrapper(*args, **kwargs):
        with db.session.no_autoflush:
            return apply(*args, **kwargs)

    return wrapper


@_no_autoflush
def apply_department(actor: User | None, spec: dict, source: str = "admin") -> Change:
    department = db.session.scalar(sa.select(Department).where(Department.code == spec["code"]))
    before = spec_of_department(department) if department is not None else None
    if department is None:
        department = Department(code=spec["code"])
        db.session.add(department)
    _set_required_texts(department, "name", spec["name"])
    department.active = bool(spec.get("active", True))
    head = _head_user(spec.get("head"))
    department.head = head
    if head is not None and head.department_id is None:
        head.department = department
    db.session.flush()
    after = spec_of_department(department)
    changed = _diff(before, after)
    change = Change("department", department.code, _action(before, after, changed), changed)
    _audit(actor, change, source)
    return change


@_no_autoflush
def apply_document_type(actor: User | None, spec: dict, source: str = "admin") -> Change:
    document_type = db.session.scalar(
        sa.select(DocumentType).where(DocumentType.code == spec["code"])
    )
    before = spec_of_document_type(document_type) if document_type is not None else None
    if document_type is None:
        document_type = DocumentType(code=spec["code"])
        db.session.add(document_type)
    _set_required_texts(document_type, "name", spec["name"])
    _set_texts(document_type, "note", spec.get("note"))
    document_type.formats = [f for f in ALL_FORMATS if f in (spec.get("formats") or [])]
    document_type.max_size_mb = spec.get("max_size_mb")
    document_type.multiple_files = bool(spec.get("multiple_files", False))
    document_type.active = bool(spec.get("active", True))
    db.session.flush()
    after = spec_of_document_type(document_type)
    changed = _diff(before, after)
    change = Change("document_type", document_type.code, _action(before, after, changed), changed)
    _audit(actor, change, source)
    return change


def _by_codes(model, codes: list[str]) -> list:
    if not codes:
        return []
    rows = {r.code: r for r in db.session.scalars(sa.select(model).where(model.code.in_(codes)))}
    return [rows[c] for c in codes]


def _approvers(names: list[str]) -> list[ServiceApprover]:
    departments = {f"department:{d.code}": d.id for d in db.session.scalars(sa.select(Department))}
    return [
        ServiceApprover(
            position=position,
            role=name if name in APPROVER_ROLES else None,
            department_id=departments.get(name),
        )
        for position, name in enumerate(names)
    ]


@_no_autoflush
def apply_service(actor: User | None, spec: dict, source: str = "admin") -> Change:
    service = db.session.scalar(sa.select(Service).where(Service.code == spec["code"]))
    before = spec_of_service(service) if service is not None else None
    if service is None:
        service = Service(code=spec["code"])
        db.session.add(service)
    service.department = db.session.scalar(
        sa.select(Department).where(Department.code == spec["department"])
    )
    _set_required_texts(service, "title", spec["title"])
    _set_required_texts(service, "description", spec["description"])
    _set_texts(service, "legal_basis", spec.get("legal_basis"))
    service.applicants = spec["applicants"]
    service.fee_tenge = spec.get("fee_tenge")
    service.result_form = spec["result_form"]
    service.target_days = spec["target_days"]
    service.intake_days = spec.get("intake_days")
    service.approval_days = spec.get("approval_days")
    service.waiting_policy = spec["waiting_policy"]
    service.at_risk_ratio = spec["at_risk_percent"] / 100
    service.warn_at_risk = bool(spec.get("warn_at_risk", True))
    service.escalate_to_head = bool(spec.get("escalate_to_head", True))
    service.supervisor_after_days = spec.get("supervisor_after_days")
    service.reply_days = spec["reply_days"]
    service.reminder_days = sorted(set(spec.get("reminder_days") or []))
    service.silence_is_consent = bool(spec.get("silence_is_consent", False))
    service.active = bool(spec.get("active", True))
    service.required_documents = _by_codes(DocumentType, spec.get("required_documents") or [])
    service.optional_documents = _by_codes(DocumentType, spec.get("optional_documents") or [])
    wanted = list(dict.fromkeys(spec.get("approvers") or []))
    if before is None or before["approvers"] != wanted:
        service.approvers.clear()
        db.session.flush()
        service.approvers.extend(_approvers(wanted))
    db.session.flush()
    db.session.refresh(service)
    after = spec_of_service(service)
    changed = _diff(before, after)
    change = Change("service", service.code, _action(before, after, changed), changed)
    _audit(actor, change, source)
    return change


def moves_deadlines(change: Change) -> bool:
    """Whether open requests' deadlines or ladders must be recomputed after this change."""
    policy = set(POLICY_FIELDS) | {"at_risk_percent"}
    return (
        change.entity == "service"
        and change.action != "created"
        and bool(policy & set(change.fields))
    )


def recompute_after(actor: User | None, changes: list[Change]) -> Saved:
    """Queue the policy recompute for each service whose policy changed (after commit)."""
    queued = True
    for change in changes:
        if moves_deadlines(change):
            service = db.session.scalar(sa.select(Service).where(Service.code == change.code))
            summary = ", ".join(f"{k} {old}→{new}" for k, (old, new) in change.fields.items())
            queued = (
                _queue_recompute(f"catalogue: {change.code}: {summary}", actor, service.id)
                and queued
            )
    return Saved(queued)


# --- the admin pages' operations (each owns its transaction) ---------------------------


def _save(actor: User, kind: str, spec: dict) -> Change:
    checks = {
        "department": (check_department, apply_department),
        "document_type": (check_document_type, apply_document_type),
        "service": (check_service, apply_service),
    }
    check, apply = checks[kind]
    _raise_first(check(spec, Known.from_database()))
    try:
        change = apply(actor, spec, "admin")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    _logged(actor, change, "admin")
    return change


def create(actor: User, kind: str, spec: dict) -> Change:
    """A new department, document type or service; its code must be new."""
    models = {"department": Department, "document_type": DocumentType, "service": Service}
    model = models[kind]
    if db.session.scalar(sa.select(model.id).where(model.code == spec.get("code"))):
        raise ServiceError(_l("This code is taken: choose another."), field="code")
    return _save(actor, kind, spec)


def update(actor: User, kind: str, spec: dict) -> tuple[Change, Saved]:
    """Change an existing entity (the code stays); deadlines moved are recomputed."""
    change = _save(actor, kind, spec)
    return change, recompute_after(actor, [change])


def open_requests(service: Service) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(ServiceRequest.id)).where(
            ServiceRequest.service_id == service.id,
            ServiceRequest.state.in_([str(s) for s in OPEN_STATES]),
        )
    )


def set_service_active(actor: User, service: Service, active: bool) -> Change:
    """Retire a service (hidden from new applications; its requests go on) or restore it."""
    if active and not service.department.active:
        raise ServiceError(_l("Its department is retired: restore the department first."))
    return _save(actor, "service", {**spec_of_service(service), "active": active})


def ever_used(service: Service) -> bool:
    """Whether anyone ever applied for it (then it is retired, never deleted)."""
    return (
        db.session.scalar(
            sa.select(ServiceRequest.id).where(ServiceRequest.service_id == service.id).limit(1)
        )
        is not None
    )


def delete_service(actor: User, service: Service) -> None:
    """Delete a service nobody ever applied for; one with requests can only be retired."""
    if ever_used(service):
        raise ServiceError(
            _l("Requests were made for this service: retire it instead of deleting it."),
            code="in_use",
        )
    spec = spec_of_service(service)
    db.session.add(
        CatalogueChange(
            actor=actor,
            entity="service",
            code=service.code,
            action="deleted",
            source="admin",
            changes={k: [v, None] for k, v in spec.items()},
        )
    )
    service.required_documents = []
    service.optional_documents = []
    service.approvers.clear()
    db.session.flush()
    db.session.delete(service)
    db.session.commit()
    _logged(actor, Change("service", spec["code"], "deleted"), "admin")


def recent_changes(limit: int = 20) -> list[CatalogueChange]:
    return list(
        db.session.scalars(
            sa.select(CatalogueChange)
            .order_by(CatalogueChange.created_at.desc(), CatalogueChange.id.desc())
            .limit(limit)
        )
    )


def active_service(code: str) -> Service | None:
    """The service offered under `code`, if it is offered now (retired ones are not)."""
    return db.session.scalar(
        sa.select(Service).where(Service.code == code, Service.active.is_(True))
    )


def service_by_code(code: str) -> Service | None:
    """The service under `code`, offered or retired (queues still hold retired ones)."""
    return db.session.scalar(sa.select(Service).where(Service.code == code))
