"""Submitting, working and deciding requests."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

import notifications
from portal import lifecycle, limits, uploads
from portal.extensions import db
from portal.models import (
    ALL_FORMATS,
    OPEN_STATE_VALUES,
    Applicants,
    Document,
    DocumentRequest,
    DocumentRequestItem,
    DocumentType,
    Role,
    Service,
    ServiceRequest,
    User,
)
from portal.services import (
    NotVisible,
    ServiceError,
    access,
    approvals,
    businesses,
    quota,
    storage,
)
from sla import chase, clock, deadlines, ladder

UPLOAD_MESSAGES = {
    "empty": _l("The file is empty."),
    "too_large": _l("The file is larger than %(mb)s MB."),
    "bad_type": _l("Only PDF, JPEG and PNG files are accepted."),
    "bad_name": _l("The file name is not acceptable."),
    "active_content": _l("PDF files with scripts or embedded actions are not accepted."),
    "unreadable": _l(
        "The file could not be read. Save it again (for example, print it to PDF) "
        "and upload the copy."
    ),
    "too_complex": _l(
        "The file is too large or too complex to check. Save or scan it again as a simpler file."
    ),
}


@dataclass
class Upload:
    """One file for one document type, as received (a werkzeug FileStorage or alike)."""

    document_type_id: int
    file: object  # has .stream and .filename

    @property
    def field(self) -> str:
        return f"doc_{self.document_type_id}"


def _accepted_formats(document_type: DocumentType) -> str:
    return ", ".join(f.upper() for f in (document_type.formats or ALL_FORMATS))


def _by_type(files: list[Upload]) -> dict[int, list[Upload]]:
    """The files given, grouped by document type (files without a name were not given)."""
    grouped: dict[int, list[Upload]] = {}
    for upload in files:
        if getattr(upload.file, "filename", ""):
            grouped.setdefault(upload.document_type_id, []).append(upload)
    return grouped


def _check_uploads(items: list[Upload]) -> list[tuple[Upload, str, int, str]]:
    """Inspect every file before anything is written; the first bad one stops all.

    Each document type may narrow the site's rules: fewer formats, a smaller size, and
    one file only unless it allows several (a multi-page scan).
    """
    site_max = current_app.config["MAX_UPLOAD_BYTES"]
    type_ids = {item.document_type_id for item in items}
    types = {
        t.id: t
        for t in db.session.scalars(sa.select(DocumentType).where(DocumentType.id.in_(type_ids)))
    }
    counts: dict[int, int] = {}
    check_limits = uploads.CheckLimits.from_config(current_app.config)
    checked = []
    for item in items:
        document_type = types.get(item.document_type_id)
        counts[item.document_type_id] = counts.get(item.document_type_id, 0) + 1
        if document_type is not None and not document_type.multiple_files:
            if counts[item.document_type_id] > 1:
                raise ServiceError(
                    _l("Attach one file for this document."), field=item.field, code="too_many"
                )
        max_bytes = site_max
        if document_type is not None and document_type.max_size_mb:
            max_bytes = min(site_max, document_type.max_size_mb * 1024 * 1024)
        filename = getattr(item.file, "filename", "") or ""
        if not filename:
            raise ServiceError(_l("Attach this document."), field=item.field, code="missing")
        try:
            mime, size, sha = uploads.inspect(item.file.stream, filename, max_bytes, check_limits)
        except uploads.UploadRejected as rejected:
            message = UPLOAD_MESSAGES.get(rejected.code, UPLOAD_MESSAGES["bad_type"])
            if rejected.code == "too_large":
                # Not floor division: a 200 KB limit would read "larger than 0 MB".
                message = _l("The file is larger than %(mb)s MB.", mb=uploads._megabytes(max_bytes))
            raise ServiceError(message, field=item.field, code=rejected.code) from None
        if document_type is not None and mime not in document_type.mime_types:
            raise ServiceError(
                _l(
                    "This document is accepted as %(formats)s only.",
                    formats=_accepted_formats(document_type),
                ),
                field=item.field,
                code="bad_type",
            )
        checked.append((item, mime, size, sha))
    return checked


def _store(
    request: ServiceRequest, checked, user: User, stored: list[str], document_request=None
) -> None:
    """Write each file and its row; `stored` grows as files land, so a failure can undo them."""
    for item, mime, size, sha in checked:
        name = storage.save(item.file.stream)
        stored.append(name)
        db.session.add(
            Document(
                request=request,
                document_type_id=item.document_type_id,
                document_request=document_request,
                original_name=uploads.safe_display_name(item.file.filename),
                stored_name=name,
                content_type=mime,
                size=size,
                sha256=sha,
                uploaded_by_id=user.id,
                uploaded_at=clock.now(),
            )
        )


def _carry(
    request: ServiceRequest, documents: list[Document], user: User, now, stored: list[str]
) -> None:
    """Copy documents given on an earlier request (a new file each: requests own theirs)."""
    for document in documents:
        with open(storage.path_of(document.stored_name), "rb") as source:
            name = storage.save(source)
        stored.append(name)
        db.session.add(
            Document(
                request=request,
                document_type_id=document.document_type_id,
                original_name=document.original_name,
                stored_name=name,
                content_type=document.content_type,
                size=document.size,
                sha256=document.sha256,
                uploaded_by_id=user.id,
                uploaded_at=now,
            )
        )


def _carry_power_of_attorney(request, item, member, user, now, stored, document_request):
    """A copy of the member's stored power of attorney, as the answer to `item`."""
    with open(storage.path_of(member.poa_stored_name), "rb") as source:
        name = storage.save(source)
    stored.append(name)
    db.session.add(
        Document(
            request=request,
            document_type_id=item.document_type_id,
            document_request=document_request,
            original_name=member.poa_original_name,
            stored_name=name,
            content_type=member.poa_content_type,
            size=member.poa_size,
            sha256=member.poa_sha256,
            uploaded_by_id=user.id,
            uploaded_at=now,
        )
    )


def pick_assignee(department_id: int, exclude: int | None = None) -> User | None:
    """The department's employee with the fewest open requests; ties: least recently given.
    `exclude`: someone leaving the department, who is not to be given more."""
    open_count = (
        sa.select(sa.func.count(ServiceRequest.id))
        .where(
            ServiceRequest.assignee_id == User.id,
            ServiceRequest.state.in_(OPEN_STATE_VALUES),
        )
        .scalar_subquery()
    )
    for roles in ((Role.STAFF,), (Role.HEAD,)):
        user = db.session.scalar(
            sa.select(User)
            .where(
                User.department_id == department_id,
                User.role.in_([str(r) for r in roles]),
                User.active.is_(True),
                User.id != (exclude or 0),
            )
            .order_by(open_count, User.last_assigned_at.asc().nulls_first(), User.id)
            .limit(1)
        )
        if user is not None:
            return user
    return None


def carried_documents(applicant: User, service: Service, reference: str | None):
    """The request a new one starts from, and its documents by type (refused ones only)."""
    if not reference:
        return None, {}
    previous = db.session.scalar(
        sa.select(ServiceRequest).where(ServiceRequest.reference == reference)
    )
    if (
        previous is None
        or not access.can_see(applicant, previous)
        or previous.service_id != service.id
        or previous.state != "refused_incomplete"
    ):
        raise NotVisible(reference)
    # What the employee asked for again was missing or not good enough: it is not carried.
    asked_again = {
        item.document_type_id
        for document_request in previous.document_requests
        if document_request.state == "expired"
        for item in document_request.items
    }
    by_type = {}
    for document in previous.documents:  # the latest of each type wins
        if document.document_type_id in asked_again:
            continue
        if storage.path_of(document.stored_name).exists():
            by_type[document.document_type_id] = document
    return previous, by_type


def who_may_not_apply(applicant: User, service: Service):
    """Why this applicant may not apply for this service (a message), or None."""
    kind = applicant.business.kind if applicant.business is not None else None
    if service.admits(kind):
        return None
    if service.applicants == Applicants.BUSINESS:
        return _l("This service is for businesses (with a BIN) only.")
    return _l("This service is for citizens (with an IIN) only.")


def submit(
    applicant: User,
    service: Service,
    description: str,
    files: list[Upload],
    carry_from: str | None = None,
):
    """Create a request with its documents, assign it and start its clock, all at once.

    `carry_from` names a request refused as incomplete: documents already given there
    are carried over for any required type not uploaded again.
    """
    if applicant.role != Role.APPLICANT:
        raise ServiceError(_l("Only applicants submit requests."))
    if not businesses.is_active_member(applicant, applicant.business_id):
        raise ServiceError(
            _l("You may submit once the owner of the business has let you in."), code="forbidden"
        )
    if not service.active:
        raise ServiceError(_l("This service is not available."))
    refusal = who_may_not_apply(applicant, service)
    if refusal is not None:
        raise ServiceError(refusal, code="not_eligible")
    description = (description or "").strip()
    if not description:
        raise ServiceError(_l("Describe your request."), field="description")
    if len(description) > limits.DESCRIPTION:
        raise ServiceError(
            _l("At most %(num)d characters.", num=limits.DESCRIPTION), field="description"
        )
    previous, carried = carried_documents(applicant, service, carry_from)
    by_type = _by_type(files)
    for document_type in service.required_documents:
        if document_type.id not in by_type and document_type.id not in carried:
            raise ServiceError(
                _l("Attach this document."), field=f"doc_{document_type.id}", code="missing"
            )
    required_ids = {d.id for d in service.required_documents}
    wanted_ids = required_ids | {d.id for d in service.optional_documents}
    checked = _check_uploads([u for t, given in by_type.items() if t in wanted_ids for u in given])
    carry = [carried[t] for t in required_ids if t not in by_type and t in carried]

    now = clock.now()
    incoming = sum(size for _item, _mime, size, _sha in checked) + sum(d.size for d in carry)
    quota.check(applicant, incoming, now)
    request = ServiceRequest(
        service=service,
        department_id=service.department_id,
        applicant=applicant,
        business_id=applicant.business_id,
        description=description,
        submitted_at=now,
        updated_at=now,
        stage_started_at=now,
        carried_from_id=previous.id if previous else None,
    )
    db.session.add(request)
    stored: list[str] = []
    try:
        db.session.flush()
        # The year as the administration counts it: 1 January 03:00 in Almaty is UTC's 31st.
        year = now.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).year
        request.reference = f"{current_app.config['REFERENCE_PREFIX']}-{year}-{request.id:06d}"
        _store(request, checked, applicant, stored)
        _carry(request, carry, applicant, now, stored)
        deadlines.start(request, service.target_days, now)
        lifecycle.record(
            request,
            "submitted",
            applicant,
            {
                "service": service.code,
                "documents": len(checked) + len(carry),
                **({"carried_from": previous.reference, "carried": len(carry)} if previous else {}),
            },
            to_state=request.state,
        )
        _assign(request, pick_assignee(service.department_id), actor=None)
        ladder.schedule(request)
        lifecycle.record(
            request,
            "clock_started",
            None,
            {"due_at": request.due_at.isoformat(), "target_days": service.target_days},
        )
        _tell_about_submission(request)
        db.session.commit()
    except Exception:
        db.session.rollback()
        storage.discard(stored)
        raise
    return request


def _tell_about_submission(request: ServiceRequest) -> None:
    context = {
        "due_at": request.due_at.isoformat(),
        "assignee": request.assignee.full_name if request.assignee else None,
    }
    notifications.notify(
        request.applicant,
        "request_submitted",
        request=request,
        context=context,
        key=f"submitted:{request.id}",
    )
    notifications.notify(
        request.applicant,
        "request_assigned",
        request=request,
        context=context,
        key=f"assigned:{request.id}",
    )
    notifications.notify(
        request.assignee,
        "new_assignment",
        request=request,
        context=context,
        key=f"new_assignment:{request.id}:{request.assignee_id}",
    )


def _assign(request: ServiceRequest, assignee: User | None, actor: User | None, reason=None):
    previous = request.assignee
    request.assignee = assignee
    if assignee is not None:
        assignee.last_assigned_at = clock.now()
    payload = {
        "assignee_id": assignee.id if assignee else None,
        "assignee": assignee.full_name if assignee else None,
    }
    if previous is not None or reason:
        payload.update(
            {
                "previous_id": previous.id if previous else None,
                "previous": previous.full_name if previous else None,
                "reason": reason,
            }
        )
        lifecycle.record(request, "reassigned", actor, payload)
    else:
        lifecycle.record(request, "assigned", actor, payload)


def _commit_or_rollback():
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _caseworker_request(user: User, reference: str) -> ServiceRequest:
    request = access.get_request(user, reference, for_update=True)
    if not access.can_act_as_caseworker(user, request):
        raise ServiceError(
            _l("Only the accountable employee or the head may act on this."), code="forbidden"
        )
    return request


def act(user: User, reference: str, action: str, reason: str | None = None) -> ServiceRequest:
    """A caseworker's move that needs nothing but (perhaps) a reason."""
    if action not in (
        "accept_documents",
        "send_to_approval",
        "return_to_review",
        "approve",
        "reject",
    ):
        raise ServiceError(_l("Unknown action."))
    request = _caseworker_request(user, reference)
    reason = (reason or "").strip()
    if action in ("reject", "return_to_review") and not reason:
        raise ServiceError(_l("Give a reason."), field="reason")
    if lifecycle.is_allowed(request, action):  # else the lifecycle says why not, below
        approvals.check_route(request, action)
    was_in_approval = request.state == "in_approval"
    try:
        lifecycle.apply(request, action, user, {"reason": reason} if reason else None)
    except lifecycle.TransitionRefused as refused:
        db.session.rollback()
        raise ServiceError(refused.message, code="conflict") from None
    if action == "send_to_approval":
        approvals.open_round(request, user, clock.now())
    elif was_in_approval:
        approvals.close_round(request, clock.now())
    if request.state in ("approved", "rejected"):
        now = clock.now()
        request.decided_at = now
        request.decision_reason = reason or None
        outcome = deadlines.stop(request, now)
        lifecycle.record(request, "clock_stopped", None, {"sla_state": outcome})
        notifications.notify(
            request.applicant,
            f"decision_{request.state}",
            request=request,
            context={"reason": reason or None},
            key=f"decision:{request.id}",
        )
    else:
        # A new stage may have its own target (approval): the next check moves with it.
        ladder.schedule(request, now=clock.now())
    _commit_or_rollback()
    return request


def request_documents(
    user: User, reference: str, items: list[tuple[int, str]], note: str | None = None
):
    """Ask the applicant for what is missing: (document type id, reason) per item.

    The applicant is told at once and reminded on the service's cadence until the
    reply-by date (the service's `reply_days` working days from now).
    """
    request = _caseworker_request(user, reference)
    if not lifecycle.is_allowed(request, "request_documents"):
        raise ServiceError(
            _l(
                "This action is not possible while the request is %(state)s.",
                state=lifecycle.state_label(request.state),
            ),
            code="conflict",
        )
    cleaned = [(t, (r or "").strip()) for t, r in items if t]
    if not cleaned:
        raise ServiceError(_l("Choose at least one document."), field="items")
    if any(not reason for _, reason in cleaned):
        raise ServiceError(_l("Say why each document is needed."), field="items")
    if len({t for t, _ in cleaned}) != len(cleaned):
        raise ServiceError(_l("Each document may be asked for once."), field="items")
    types = {
        t.id: t
        for t in db.session.scalars(
            sa.select(DocumentType).where(DocumentType.id.in_([t for t, _ in cleaned]))
        )
    }
    if len(types) != len(cleaned):
        raise ServiceError(_l("Unknown document type."), field="items")

    now = clock.now()
    document_request = DocumentRequest(
        request=request,
        asked_by=user,
        asked_at=now,
        reply_by=deadlines.calendar().add_working_days(now, request.service.reply_days),
        reply_days=request.service.reply_days,
        reason=(note or "").strip() or None,
        items=[DocumentRequestItem(document_type_id=t, reason=r) for t, r in cleaned],
    )
    db.session.add(document_request)
    lifecycle.apply(
        request,
        "request_documents",
        user,
        {
            "items": [{"document_type": types[t].code, "reason": r} for t, r in cleaned],
            "reply_by": document_request.reply_by.isoformat(),
        },
    )
    if deadlines.pause(request, request.service.waiting_policy, now):
        lifecycle.record(request, "clock_paused", None, {"policy": request.service.waiting_policy})
    db.session.flush()
    ladder.schedule(request, now=now)
    notifications.notify(
        request.applicant,
        "documents_requested",
        request=request,
        context={
            "items": [
                {"document": types[t].code, "document_id": t, "reason": r} for t, r in cleaned
            ],
            "reply_by": document_request.reply_by.isoformat(),
        },
        key=f"documents_requested:{document_request.id}",
    )
    _commit_or_rollback()
    return document_request


def provide_documents(user: User, reference: str, files: list[Upload]):
    """The applicant answers the open document request with one file per item."""
    request = access.get_request(user, reference, for_update=True)
    if not access.can_answer(user, request):
        raise NotVisible(reference)
    document_request = request.open_document_request
    if document_request is None or not lifecycle.is_allowed(request, "provide_documents"):
        raise ServiceError(_l("Nothing is being asked of you on this request."), code="conflict")
    now = clock.now()
    if document_request.reply_by is not None and now >= document_request.reply_by:
        # The sweep may be late; the deadline is not. Refuse now, as it would have.
        chase.refuse_incomplete(request, document_request, now)
        ladder.schedule(request, now=now)
        _commit_or_rollback()
        raise ServiceError(
            _l("The reply-by date has passed: the request was refused as incomplete."),
            code="conflict",
        )
    by_type = _by_type(files)
    # A power of attorney asked for and not attached: the member's stored one, if valid.
    poa = businesses.stored_power_of_attorney(user)
    reused = [
        item
        for item in document_request.items
        if item.document_type_id not in by_type
        and poa is not None
        and item.document_type.code == businesses.POWER_OF_ATTORNEY
    ]
    for item in document_request.items:
        if item.document_type_id not in by_type and item not in reused:
            raise ServiceError(
                _l("Attach this document."), field=f"doc_{item.document_type_id}", code="missing"
            )
    asked = dict.fromkeys(i.document_type_id for i in document_request.items if i not in reused)
    checked = _check_uploads([u for t in asked for u in by_type[t]])
    quota.check(user, sum(size for _item, _mime, size, _sha in checked), now)
    stored: list[str] = []
    try:
        _store(request, checked, user, stored, document_request)
        for item in reused:
            _carry_power_of_attorney(request, item, poa, user, now, stored, document_request)
        document_request.state = "answered"
        document_request.answered_at = now
        lifecycle.apply(
            request, "provide_documents", user, {"documents": len(checked) + len(reused)}
        )
        service = request.service
        added = deadlines.resume(request, service.waiting_policy, service.target_days, now)
        ladder.advance(request, now)
        if request.due_at is not None and service.waiting_policy != "run":
            lifecycle.record(
                request,
                "clock_resumed",
                None,
                {
                    "policy": service.waiting_policy,
                    "due_at": request.due_at.isoformat(),
                    "shift_working_seconds": added,
                    "clock_epoch": request.clock_epoch,
                },
            )
        notifications.notify(
            request.assignee,
            "package_complete",
            request=request,
            context={"documents": len(checked) + len(reused)},
            key=f"package_complete:{document_request.id}",
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        storage.discard(stored)
        raise
    return request


def withdraw(user: User, reference: str, reason: str | None = None) -> ServiceRequest:
    request = access.get_request(user, reference, for_update=True)
    if not access.can_withdraw(user, request):
        if not access.can_answer(user, request):
            raise NotVisible(reference)
        raise ServiceError(
            _l("Only the owner of the business or whoever submitted it may withdraw it."),
            code="forbidden",
        )
    try:
        lifecycle.apply(request, "withdraw", user, {"reason": reason} if reason else None)
    except lifecycle.TransitionRefused as refused:
        db.session.rollback()
        raise ServiceError(refused.message, code="conflict") from None
    for document_request in request.document_requests:
        if document_request.state == "open":
            document_request.state = "cancelled"
    now = clock.now()
    approvals.close_round(request, now)
    request.decided_at = now
    # A withdrawal after the deadline does not make the request on time.
    lifecycle.record(request, "clock_stopped", None, {"sla_state": deadlines.stop(request, now)})
    request.next_check_at = None
    _commit_or_rollback()
    return request


def reassign(user: User, reference: str, assignee_id: int, reason: str) -> ServiceRequest:
    """The head moves a request to another employee of the department, with a reason."""
    request = move_to(user, reference, assignee_id, reason)
    _commit_or_rollback()
    return request


def move_to(user: User, reference: str, assignee_id: int, reason: str) -> ServiceRequest:
    """`reassign` in the caller's transaction (several at once: all or nothing)."""
    request = access.get_request(user, reference, for_update=True)
    # An admin moves a person's work when changing their role or department (people.py).
    if not (access.can_reassign(user, request) or user.role == Role.ADMIN):
        raise ServiceError(_l("Only the head of the department may reassign."), code="forbidden")
    if not request.is_open:
        raise ServiceError(_l("A decided request cannot be reassigned."), code="conflict")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_l("Give a reason."), field="reason")
    assignee = db.session.get(User, assignee_id)
    if (
        assignee is None
        or assignee.department_id != request.department_id
        or assignee.role not in (Role.STAFF, Role.HEAD)
        or not assignee.active
    ):
        raise ServiceError(_l("Choose an employee of this department."), field="assignee")
    if assignee.id == request.assignee_id:
        raise ServiceError(
            _l("The request is already assigned to this employee."), field="assignee"
        )
    previous = request.assignee
    _assign(request, assignee, actor=user, reason=reason)
    moment = clock.now().isoformat()
    notifications.notify(
        assignee,
        "reassigned",
        request=request,
        context={"reason": reason},
        key=f"reassigned:{request.id}:{assignee.id}:{moment}",
    )
    if previous is not None and previous.id != user.id:
        notifications.notify(
            previous,
            "reassigned_away",
            request=request,
            context={"reason": reason},
            key=f"reassigned_away:{request.id}:{previous.id}:{moment}",
        )
    # The applicant was told who is accountable; the head's reason is internal.
    notifications.notify(
        request.applicant,
        "accountable_changed",
        request=request,
        key=f"accountable_changed:{request.id}:{assignee.id}:{moment}",
    )
    return request


def colleagues(request: ServiceRequest) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(
                User.department_id == request.department_id,
                User.role.in_([Role.STAFF.value, Role.HEAD.value]),
                User.active.is_(True),
            )
            .order_by(User.full_name)
        )
    )


def my_requests(user: User):
    return list(
        db.session.scalars(
            access.visible_requests(user).order_by(ServiceRequest.submitted_at.desc())
        )
    )


def document_for(user: User, reference: str, document_id: int) -> Document:
    """A document of a request the user may see; NotVisible otherwise."""
    request = access.get_request(user, reference)
    document = db.session.get(Document, document_id)
    if document is None or document.request_id != request.id:
        raise NotVisible(document_id)
    return document
