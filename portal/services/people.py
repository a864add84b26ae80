"""People's accounts, as an admin sees them: find, disable (ending every session), enable."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.models import AccountChange, Role, User
from portal.pagination import Page, paginate
from portal.privacy import email_digest
from portal.security import log_event
from portal.services import ServiceError, sessions, tokens

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
    """The latest disable/enable of each of `users` (absent: never changed)."""
    if not users:
        return {}
    rows = db.session.scalars(
        sa.select(AccountChange)
        .where(AccountChange.user_id.in_([user.id for user in users]))
        .order_by(AccountChange.created_at, AccountChange.id)
    )
    return {row.user_id: row for row in rows}


def changes_of(user: User) -> list[AccountChange]:
    """Every disable/enable of `user`, newest first."""
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
