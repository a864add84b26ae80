"""A business's people: the owner, who lets others in (or not), hands over and removes.

A company (BIN) has members; its first verified registrant is the owner. Someone who
registers with a BIN already taken asks to join; the owner accepts or declines. The owner
also invites by email (a one-time link). Every active member sees the business's
requests (portal/services/access.py); a removed member sees none of them from that moment.
A citizen (IIN) is their own business, alone.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

import notifications
from portal import uploads
from portal.extensions import db
from portal.models import (
    Business,
    BusinessInvitation,
    BusinessMember,
    DocumentType,
    MemberRole,
    MemberStatus,
    User,
)
from portal.services import NotVisible, ServiceError, onetime, storage
from sla import clock

INVITATION_DAYS = 7
POWER_OF_ATTORNEY = "power_of_attorney"
# What the owner may make someone (the owner is made by handing over, never chosen).
MEMBER_ROLES = (MemberRole.EMPLOYEE, MemberRole.ACCOUNTANT, MemberRole.LAWYER)
ROLE_LABELS = {
    MemberRole.OWNER: _l("owner"),
    MemberRole.EMPLOYEE: _l("employee"),
    MemberRole.ACCOUNTANT: _l("accountant"),
    MemberRole.LAWYER: _l("lawyer (power of attorney)"),
}
# The role as messages name it, in each language (messages are rendered later, by the relay).
ROLE_WORDS = {
    "owner": {"ru": "владелец", "kk": "иесі", "en": "owner"},
    "employee": {"ru": "сотрудник", "kk": "қызметкер", "en": "employee"},
    "accountant": {"ru": "бухгалтер", "kk": "бухгалтер", "en": "accountant"},
    "lawyer": {
        "ru": "юрист по доверенности",
        "kk": "сенімхат бойынша заңгер",
        "en": "lawyer under a power of attorney",
    },
}
STATUS_LABELS = {
    MemberStatus.PENDING: _l("asks to join"),
    MemberStatus.ACTIVE: _l("member"),
    MemberStatus.DECLINED: _l("declined"),
    MemberStatus.REMOVED: _l("removed"),
}


def active_business_ids(user: User) -> sa.Select:
    """The businesses `user` acts for now (a select of ids, for access rules)."""
    return sa.select(BusinessMember.business_id).where(
        BusinessMember.user_id == user.id, BusinessMember.status == MemberStatus.ACTIVE.value
    )


def membership(user: User) -> BusinessMember | None:
    """`user`'s membership in the business they registered with (any status)."""
    if user.business_id is None:
        return None
    return db.session.scalar(
        sa.select(BusinessMember).where(
            BusinessMember.user_id == user.id, BusinessMember.business_id == user.business_id
        )
    )


def is_active_member(user: User, business_id: int | None) -> bool:
    if business_id is None:
        return False
    return (
        db.session.scalar(
            sa.select(BusinessMember.id).where(
                BusinessMember.user_id == user.id,
                BusinessMember.business_id == business_id,
                BusinessMember.status == MemberStatus.ACTIVE.value,
            )
        )
        is not None
    )


def is_owner(user: User, business_id: int | None) -> bool:
    if business_id is None:
        return False
    return (
        db.session.scalar(
            sa.select(BusinessMember.id).where(
                BusinessMember.user_id == user.id,
                BusinessMember.business_id == business_id,
                BusinessMember.status == MemberStatus.ACTIVE.value,
                BusinessMember.role == MemberRole.OWNER.value,
            )
        )
        is not None
    )


def owner_of(business: Business) -> User | None:
    return db.session.scalar(
        sa.select(User)
        .join(BusinessMember, BusinessMember.user_id == User.id)
        .where(
            BusinessMember.business_id == business.id,
            BusinessMember.status == MemberStatus.ACTIVE.value,
            BusinessMember.role == MemberRole.OWNER.value,
        )
    )


def members(business: Business) -> list[BusinessMember]:
    """Everyone who is in or asks to be: owner first, then by name."""
    found = db.session.scalars(
        sa.select(BusinessMember)
        .join(User, BusinessMember.user_id == User.id)
        .where(
            BusinessMember.business_id == business.id,
            BusinessMember.status.in_([MemberStatus.ACTIVE.value, MemberStatus.PENDING.value]),
        )
        .order_by(
            (BusinessMember.role != MemberRole.OWNER.value),
            (BusinessMember.status != MemberStatus.ACTIVE.value),
            User.full_name,
        )
    )
    return list(found)


def open_invitations(business: Business) -> list[BusinessInvitation]:
    return list(
        db.session.scalars(
            sa.select(BusinessInvitation)
            .where(
                BusinessInvitation.business_id == business.id,
                BusinessInvitation.used_at.is_(None),
                BusinessInvitation.expires_at > clock.now(),
            )
            .order_by(BusinessInvitation.created_at.desc())
        )
    )


def _check_role(role: str) -> MemberRole:
    try:
        chosen = MemberRole(role)
    except ValueError:
        chosen = None
    if chosen not in MEMBER_ROLES:
        raise ServiceError(_l("Choose a role."), field="role")
    return chosen


# --- joining: registration with a taken BIN -------------------------------------------------


def make_owner(user: User, business: Business) -> BusinessMember:
    """The first registrant owns the business (in the caller's transaction)."""
    member = BusinessMember(
        business=business,
        user=user,
        role=MemberRole.OWNER.value,
        status=MemberStatus.ACTIVE.value,
        created_at=clock.now(),
        decided_at=clock.now(),
    )
    db.session.add(member)
    return member


def ask_to_join(user: User, business: Business, role: str) -> BusinessMember:
    """`user` (new, registering with this BIN) asks to join; the owner is told. No commit."""
    chosen = _check_role(role)
    member = BusinessMember(
        business=business,
        user=user,
        role=chosen.value,
        status=MemberStatus.PENDING.value,
        created_at=clock.now(),
    )
    db.session.add(member)
    db.session.flush()
    notifications.notify(
        owner_of(business),
        "business_join_requested",
        context={
            "business": business.name,
            "person": user.full_name,
            "email": user.email,
            "role": ROLE_WORDS[chosen.value],
            "path": "/my/business",
        },
        key=f"business_join_requested:{member.id}",
    )
    return member


def _owned_member(owner: User, member_id: int) -> BusinessMember:
    """A membership in a business `owner` is a member of; NotVisible if none, 403 if they
    are a member but not its owner."""
    member = db.session.get(BusinessMember, member_id)
    if member is None or not is_active_member(owner, member.business_id):
        raise NotVisible(member_id)
    if not is_owner(owner, member.business_id):
        raise ServiceError(_l("Only the owner of the business may do this."), code="forbidden")
    return member


def check_owner_of_member(owner: User, member_id: int) -> BusinessMember:
    """For views: 404 or 403 before a form is read."""
    return _owned_member(owner, member_id)


def decide(owner: User, member_id: int, accept: bool, role: str | None = None) -> BusinessMember:
    """The owner lets someone who asked in (with a role), or declines; they are told."""
    member = _owned_member(owner, member_id)
    if member.status != MemberStatus.PENDING:
        raise ServiceError(_l("This request to join was already answered."), code="conflict")
    if accept:
        member.role = _check_role(role or member.role).value
    member.status = (MemberStatus.ACTIVE if accept else MemberStatus.DECLINED).value
    member.decided_by = owner
    member.decided_at = clock.now()
    notifications.notify(
        member.user,
        "business_join_accepted" if accept else "business_join_declined",
        context={
            "business": member.business.name,
            "role": ROLE_WORDS[member.role],
            "path": "/my/business",
        },
        key=f"business_join_decided:{member.id}",
    )
    _commit()
    return member


def remove(owner: User, member_id: int) -> BusinessMember:
    """The owner removes a member: from now on they see none of the business's requests."""
    member = _owned_member(owner, member_id)
    if member.user_id == owner.id:
        raise ServiceError(
            _l("The owner cannot leave: hand the business over first."), code="conflict"
        )
    if member.status != MemberStatus.ACTIVE:
        raise ServiceError(_l("This person is not a member."), code="conflict")
    member.status = MemberStatus.REMOVED.value
    member.decided_by = owner
    member.decided_at = clock.now()
    notifications.notify(
        member.user,
        "business_member_removed",
        context={"business": member.business.name, "path": "/my/requests"},
        key=f"business_member_removed:{member.id}:{member.decided_at.isoformat()}",
    )
    _commit()
    return member


def hand_over(owner: User, member_id: int) -> BusinessMember:
    """The owner makes an active member the owner, and stays on as an employee."""
    member = _owned_member(owner, member_id)
    if member.user_id == owner.id:
        raise ServiceError(_l("You are the owner already."), code="conflict")
    if member.status != MemberStatus.ACTIVE:
        raise ServiceError(_l("Only a member can become the owner."), code="conflict")
    mine = db.session.scalar(
        sa.select(BusinessMember).where(
            BusinessMember.business_id == member.business_id,
            BusinessMember.user_id == owner.id,
        )
    )
    mine.role = MemberRole.EMPLOYEE.value
    db.session.flush()  # one owner at a time, as the database's index insists
    member.role = MemberRole.OWNER.value
    member.decided_by = owner
    member.decided_at = clock.now()
    notifications.notify(
        member.user,
        "business_ownership_received",
        context={
            "business": member.business.name,
            "person": owner.full_name,
            "path": "/my/business",
        },
        key=f"business_ownership:{member.id}:{member.decided_at.isoformat()}",
    )
    _commit()
    return member


# --- invitations by email -------------------------------------------------------------------


def invite(owner: User, email: str, role: str) -> BusinessInvitation:
    """A one-time link (7 days) emailed to `email`; only its hash is kept."""
    business = owner.business
    if business is None or not is_owner(owner, business.id):
        raise ServiceError(_l("Only the owner of the business may do this."), code="forbidden")
    if business.kind != "company":
        raise ServiceError(_l("A citizen's account is for one person."), code="forbidden")
    email = (email or "").strip().lower()
    if not email or "@" not in email or len(email) > 254:
        raise ServiceError(_l("Enter an email address."), field="email")
    chosen = _check_role(role)
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise ServiceError(
            _l("This person already has an account; they cannot be invited to another."),
            field="email",
        )
    secret, digest = onetime.new()
    now = clock.now()
    invitation = BusinessInvitation(
        business=business,
        email=email,
        role=chosen.value,
        token_hash=digest,
        invited_by=owner,
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    db.session.flush()
    notifications.notify_address(
        email,
        "business_invitation",
        context={
            "recipient": email,
            "business": business.name,
            "person": owner.full_name,
            "role": ROLE_WORDS[chosen.value],
            "expires_at": invitation.expires_at.isoformat(),
            "path": f"/business/invitations/{secret}",
        },
        language=owner.locale,
        key=f"business_invitation:{invitation.id}",
    )
    _commit()
    return invitation


def invitation_for(secret: str) -> BusinessInvitation:
    """The unused, unexpired invitation of this link; NotVisible otherwise (forged, used,
    expired alike)."""
    invitation = db.session.scalar(
        sa.select(BusinessInvitation).where(BusinessInvitation.token_hash == onetime.digest(secret))
    )
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= clock.now():
        raise NotVisible("invitation")
    return invitation


def accept_invitation(secret: str, *, full_name: str, password: str, locale: str) -> User:
    """The invited person makes their account: an active member at once; the link is spent."""
    from portal.services import accounts

    invitation = invitation_for(secret)
    full_name = (full_name or "").strip()
    if not full_name:
        raise ServiceError(_l("Enter your full name."), field="full_name")
    if db.session.scalar(sa.select(User.id).where(User.email == invitation.email)):
        raise ServiceError(_l("An account with this email already exists."), field="full_name")
    now = clock.now()
    user = User(
        email=invitation.email,
        password_hash=accounts.hash_password(password),
        full_name=full_name,
        role="applicant",
        business=invitation.business,
        locale=locale,
    )
    db.session.add(user)
    db.session.add(
        BusinessMember(
            business=invitation.business,
            user=user,
            role=invitation.role,
            status=MemberStatus.ACTIVE.value,
            created_at=now,
            decided_by_id=invitation.invited_by_id,
            decided_at=now,
        )
    )
    invitation.used_at = now
    invitation.used_by = user
    db.session.flush()
    notifications.notify(
        invitation.invited_by,
        "business_invitation_accepted",
        context={"business": invitation.business.name, "person": full_name, "path": "/my/business"},
        key=f"business_invitation_accepted:{invitation.id}",
    )
    _commit()
    return user


# --- power of attorney ----------------------------------------------------------------------


def power_of_attorney_type() -> DocumentType:
    """The document type staff name to ask for a power of attorney (made if missing)."""
    found = db.session.scalar(sa.select(DocumentType).where(DocumentType.code == POWER_OF_ATTORNEY))
    if found is None:
        found = DocumentType(
            code=POWER_OF_ATTORNEY,
            name_ru="Доверенность",
            name_kk="Сенімхат",
            name_en="Power of attorney",
        )
        db.session.add(found)
        db.session.flush()
    return found


def attach_power_of_attorney(user: User, file, valid_until: date | None) -> BusinessMember:
    """The member's power of attorney, checked as any upload, with its last valid day."""
    from portal.services.requests import Upload, _check_uploads

    member = membership(user)
    if member is None or not member.is_active:
        raise ServiceError(_l("You are not a member of a business."), code="forbidden")
    if valid_until is None:
        raise ServiceError(_l("Give the last day it is valid."), field="valid_until")
    if valid_until < clock.now().astimezone(_zone()).date():
        raise ServiceError(_l("This power of attorney has expired."), field="valid_until")
    try:
        ((item, mime, size, sha),) = _check_uploads([Upload(0, file)])
    except ServiceError as refused:
        raise ServiceError(refused.message, field="file", code=refused.code) from None
    name = storage.save(item.file.stream)
    old = member.poa_stored_name
    member.poa_stored_name = name
    member.poa_original_name = uploads.safe_display_name(item.file.filename)
    member.poa_content_type = mime
    member.poa_size = size
    member.poa_sha256 = sha
    member.poa_valid_until = valid_until
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        storage.discard([name])
        raise
    if old:
        # Documents given on requests are copies: the old file is nobody's now.
        storage.discard([old])
    return member


def power_of_attorney_of(viewer: User, member_id: int) -> BusinessMember:
    """A member's stored power of attorney for the member themself or their owner."""
    member = db.session.get(BusinessMember, member_id)
    if member is None or not is_active_member(viewer, member.business_id):
        raise NotVisible(member_id)
    if member.user_id != viewer.id and not is_owner(viewer, member.business_id):
        raise ServiceError(_l("Only the owner of the business may do this."), code="forbidden")
    if not member.poa_stored_name:
        raise NotVisible(member_id)
    return member


def stored_power_of_attorney(user: User) -> BusinessMember | None:
    """`user`'s valid stored power of attorney, to answer a document request with."""
    member = membership(user)
    if member is None or not member.is_active:
        return None
    today = clock.now().astimezone(_zone()).date()
    return member if member.power_of_attorney_valid(today) else None


def _zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(current_app.config["TIMEZONE"])


def _commit() -> None:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
