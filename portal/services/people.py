"""People's accounts, as an admin sees them: find, invite, change a role or department,
disable (ending every session), enable; and the first admin of a fresh install."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    OPEN_STATES,
    AccountChange,
    Department,
    LoginSession,
    Role,
    ServiceRequest,
    User,
    UTCDateTime,
)
from portal.pagination import Page, paginate
from portal.privacy import email_digest
from portal.security import log_event
from portal.services import ServiceError, accounts, onetime, passwords, sessions, tokens

REASON_MAX = 200


@dataclass(frozen=True)
class PeopleFilter:
    text: str | None = None
    role: str | None = None
    active: bool | None = None


def listing(filters: PeopleFilter, page: int = 1) -> Page:
    """One page of people matching `filters`, by email."""
    query = sa.select(User).order_by(User.email, User.id)
    if filters.text:
        # LIKE's own wildcards in what was typed are taken literally.
        escaped = filters.text.lower().replace("\\", "\\\\").replace("%", "\\%")
        pattern = "%" + escaped.replace("_", "\\_") + "%"
        query = query.where(
            sa.or_(
                sa.func.lower(User.email).like(pattern, escape="\\"),
                sa.func.lower(User.full_name).like(pattern, escape="\\"),
            )
        )
    if filters.role:
        query = query.where(User.role == filters.role)
    if filters.active is not None:
        query = query.where(User.active.is_(filters.active))
    return paginate(query, page)


def last_changes(users: list[User]) -> dict[int, AccountChange]:
    """The latest disable/enable of each of `users` (absent: never either)."""
    if not users:
        return {}
    rows = db.session.scalars(
        sa.select(AccountChange)
        .where(
            AccountChange.user_id.in_([user.id for user in users]),
            AccountChange.action.in_(("disabled", "enabled")),
        )
        .order_by(AccountChange.created_at, AccountChange.id)
    )
    return {row.user_id: row for row in rows}


def changes_of(user: User) -> list[AccountChange]:
    """Every change to `user`'s account (invited, role, disabled, enabled), newest first."""
    return list(
        db.session.scalars(
            sa.select(AccountChange)
            .where(AccountChange.user_id == user.id)
            .order_by(AccountChange.created_at.desc(), AccountChange.id.desc())
        )
    )


def find(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise ServiceError(_l("There is no such person."), code="not_found")
    return user


def find_by_email(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise ServiceError(_l("There is no such person."), code="not_found")
    return user


def disable(actor: User | None, user: User, reason: str) -> int:
    """Disable `user`'s account, end all their sessions and revoke all their API tokens,
    for good (enabling the account again revives neither); how many sessions were open.

    `actor` is the admin (None from the command line); nobody disables their own account.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_l("Say why the account is disabled."), field="reason")
    if actor is not None and actor.id == user.id:
        raise ServiceError(_l("You cannot disable your own account."), code="self")
    if actor is not None and actor.role != Role.ADMIN:
        raise ServiceError(_l("Only an admin disables accounts."), code="forbidden")
    user.active = False
    db.session.add(
        AccountChange(user=user, actor=actor, action="disabled", reason=reason[:REASON_MAX])
    )
    ended = sessions.revoke_all(user, "account_disabled")
    revoked = tokens.revoke_all(user, "account_disabled", actor)
    db.session.commit()
    log_event(
        "account.disabled",
        outcome="success",
        user_id=user.id,
        email_hash=email_digest(user.email),
        actor_id=actor.id if actor is not None else None,
        reason=reason[:REASON_MAX],
        sessions_ended=ended,
        tokens_revoked=revoked,
    )
    return ended


def enable(actor: User | None, user: User, reason: str = "") -> None:
    """Let `user` log in again (their old sessions and tokens stay ended)."""
    reason = (reason or "").strip() or "enabled"
    user.active = True
    db.session.add(
        AccountChange(user=user, actor=actor, action="enabled", reason=reason[:REASON_MAX])
    )
    db.session.commit()
    log_event(
        "account.enabled",
        outcome="success",
        user_id=user.id,
        actor_id=actor.id if actor is not None else None,
    )


# --- invitations, roles and departments ------------------------------------------------

OFFICIAL_ROLES = (Role.STAFF, Role.HEAD, Role.SUPERVISOR, Role.ADMIN)
# Staff and heads work a department's queue; supervisors and admins have none.
DEPARTMENT_ROLES = (Role.STAFF, Role.HEAD)
ROLE_NAMES = {
    Role.STAFF: {"ru": "сотрудник", "kk": "қызметкер", "en": "staff"},
    Role.HEAD: {"ru": "руководитель отдела", "kk": "бөлім басшысы", "en": "head of department"},
    Role.SUPERVISOR: {
        "ru": "куратор (заместитель акима)",
        "kk": "куратор (әкім орынбасары)",
        "en": "supervisor (deputy akim)",
    },
    Role.ADMIN: {"ru": "администратор", "kk": "әкімші", "en": "admin"},
}


def _department_for(role: str, department_id: int | None) -> Department | None:
    if role not in OFFICIAL_ROLES:
        raise ServiceError(_l("Choose a role."), field="role")
    if role not in DEPARTMENT_ROLES:
        return None
    department = db.session.get(Department, department_id) if department_id else None
    if department is None:
        raise ServiceError(
            _l("Staff and heads work in a department: choose one."), field="department_id"
        )
    return department


def invite(
    actor: User | None, *, email: str, full_name: str, role: str, department_id: int | None
) -> User:
    """Create an official's account with no usable password and email them a one-time link
    (72 hours) to set their own. `actor` is the admin (None: the command line)."""
    email = accounts.normalize_email(email)
    full_name = (full_name or "").strip()
    if not full_name:
        raise ServiceError(_l("Enter the person's full name."), field="full_name")
    department = _department_for(role, department_id)
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise ServiceError(_l("An account with this email already exists."), field="email")
    user = User(
        email=email,
        # Nobody knows this password: the person sets theirs through the link.
        password_hash=accounts.hash_password(secrets.token_urlsafe(32)),
        full_name=full_name[:200],
        role=role,
        department=department,
        locale=actor.locale if actor is not None else "ru",
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(AccountChange(user=user, actor=actor, action="invited", reason=role))
    _send_invitation(actor, user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(
            _l("An account with this email already exists."), field="email", code="conflict"
        ) from None
    log_event(
        "account.invited",
        outcome="success",
        user_id=user.id,
        role=role,
        actor_id=actor.id if actor is not None else None,
    )
    return user


def _send_invitation(actor: User | None, user: User) -> str:
    token = onetime.issue(user, onetime.Purpose.INVITATION, actor=actor)
    db.session.flush()
    accounts._send_link(
        user,
        "invitation",
        token,
        accounts.INVITATION_PATH,
        inviter=actor.full_name if actor is not None else "Moldir",
        role=ROLE_NAMES.get(user.role, {"ru": user.role}),
        department={lang: user.department.in_language("name", lang) for lang in ("ru", "kk", "en")}
        if user.department
        else None,
    )
    return token


def resend_invitation(actor: User, user: User) -> None:
    """A new invitation link for someone who has not set a password yet (the old link
    stops working)."""
    if not invitation_pending(user) and not invitation_lapsed(user):
        raise ServiceError(_l("This person has already accepted the invitation."))
    _send_invitation(actor, user)
    db.session.commit()
    log_event("account.invited", outcome="success", user_id=user.id, actor_id=actor.id)


def invitation_pending(user: User) -> bool:
    return onetime.pending(user, onetime.Purpose.INVITATION) is not None


def invitation_lapsed(user: User) -> bool:
    """Invited, and the last link expired unused (nor was any password set since)."""
    latest = onetime.latest(user, onetime.Purpose.INVITATION)
    return latest is not None and latest.used_at is None and not invitation_pending(user)


def change_role(
    actor: User, user: User, *, role: str, department_id: int | None, reason: str
) -> int:
    """Give an official another role or department. Their open requests go to a colleague of
    the department they leave (the least loaded), each reassigned with `reason` through the
    usual reassignment (which tells the applicant and both employees). How many moved."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_l("Say why the role or department changes."), field="reason")
    if actor.role != Role.ADMIN:
        raise ServiceError(_l("Only an admin changes roles."), code="forbidden")
    if user.role not in OFFICIAL_ROLES:
        raise ServiceError(_l("An applicant's account has no role to change."), field="role")
    if actor.id == user.id and role != user.role:
        raise ServiceError(_l("You cannot change your own role."), field="role")
    department = _department_for(role, department_id)
    new_department_id = department.id if department is not None else None
    if role == user.role and new_department_id == user.department_id:
        raise ServiceError(
            _l("Nothing changes: the role and department are the same."), field="role"
        )
    keeps_queue = role in DEPARTMENT_ROLES and new_department_id == user.department_id
    moved = 0
    try:
        if not keeps_queue:
            moved = _hand_over_open_requests(actor, user, reason)
        user.role = role
        user.department = department
        db.session.add(
            AccountChange(user=user, actor=actor, action="role_changed", reason=reason[:REASON_MAX])
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log_event(
        "account.role_changed",
        outcome="success",
        user_id=user.id,
        actor_id=actor.id,
        role=role,
        department_id=new_department_id,
        requests_moved=moved,
    )
    return moved


def _hand_over_open_requests(actor: User, user: User, reason: str) -> int:
    from portal.services import requests as request_service

    open_requests = list(
        db.session.scalars(
            sa.select(ServiceRequest)
            .where(
                ServiceRequest.assignee_id == user.id,
                ServiceRequest.state.in_([str(s) for s in OPEN_STATES]),
            )
            .order_by(ServiceRequest.id)
        )
    )
    for request in open_requests:
        colleague = request_service.pick_assignee(request.department_id, exclude=user.id)
        if colleague is None:
            raise ServiceError(
                _l(
                    "%(reference)s has nobody else in its department to take it over. "
                    "Invite someone to the department first.",
                    reference=request.reference,
                ),
                field="role",
                code="conflict",
            )
        request_service.move_to(actor, request.reference, colleague.id, reason)
    return len(open_requests)


def last_sign_ins(users: list[User]) -> dict[int, datetime]:
    """When each of `users` last signed in (absent: never)."""
    if not users:
        return {}
    rows = db.session.execute(
        sa.select(LoginSession.user_id, sa.func.max(LoginSession.created_at))
        .where(LoginSession.user_id.in_([user.id for user in users]))
        .group_by(LoginSession.user_id)
    )
    at = UTCDateTime()
    return {user_id: at.process_result_value(when, db.engine.dialect) for user_id, when in rows}


def create_admin(email: str, full_name: str, password: str | None) -> tuple[User, str | None]:
    """The first admin of a fresh install: with `password` (checked by the rules), or with a
    one-time link to set one (returned, to be printed). Refused once an admin exists."""
    if db.session.scalar(sa.select(User.id).where(User.role == Role.ADMIN).limit(1)):
        raise ServiceError(
            _l("An admin account exists already: invite people from the admin pages.")
        )
    email = accounts.normalize_email(email)
    if "@" not in email:
        raise ServiceError(_l("This is not an email address."), field="email")
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise ServiceError(_l("An account with this email already exists."), field="email")
    if password is not None:
        passwords.check(password, Role.ADMIN, email=email)
    user = User(
        email=email,
        password_hash=accounts.hash_password(password or secrets.token_urlsafe(32)),
        full_name=(full_name or "").strip()[:200] or email,
        role=Role.ADMIN,
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(AccountChange(user=user, actor=None, action="invited", reason=Role.ADMIN))
    token = None
    if password is None:
        token = onetime.issue(user, onetime.Purpose.INVITATION)
    db.session.commit()
    log_event("account.first_admin", outcome="success", user_id=user.id)
    return user, token
