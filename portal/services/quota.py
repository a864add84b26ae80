"""How much an applicant, and a business (BIN), may upload in 24 hours.

UPLOAD_QUOTA_MB_PER_DAY and UPLOAD_QUOTA_MB_PER_BUSINESS_PER_DAY (0: no quota). The
window is the last 24 hours, not the calendar day, so the quota cannot be spent twice
around midnight. Documents carried over from an earlier request count: each is a new file.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from portal import uploads
from portal.extensions import db
from portal.models import Business, Document, User
from portal.services import ServiceError

WINDOW = timedelta(hours=24)
_MB = 1024 * 1024


def check(user: User, incoming: int, now: datetime) -> None:
    """Refuse (ServiceError "quota_exceeded") uploads that would pass either quota.

    Locks the person's row, and the business's, until the caller's transaction ends, so
    two submissions at once cannot both squeeze under the quota.
    """
    if incoming <= 0:
        return
    since = now - WINDOW
    personal = int(current_app.config.get("UPLOAD_QUOTA_MB_PER_DAY", 0)) * _MB
    business = int(current_app.config.get("UPLOAD_QUOTA_MB_PER_BUSINESS_PER_DAY", 0)) * _MB
    if personal:
        db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
        used = _uploaded(Document.uploaded_by_id == user.id, since)
        if used + incoming > personal:
            raise ServiceError(
                _l(
                    "You can upload at most %(mb)s MB in 24 hours; these files would pass "
                    "that. Try again later.",
                    mb=uploads._megabytes(personal),
                ),
                code="quota_exceeded",
            )
    if business and user.business_id is not None:
        db.session.execute(
            sa.select(Business.id).where(Business.id == user.business_id).with_for_update()
        )
        members = sa.select(User.id).where(User.business_id == user.business_id)
        used = _uploaded(Document.uploaded_by_id.in_(members), since)
        if used + incoming > business:
            raise ServiceError(
                _l(
                    "Your business can upload at most %(mb)s MB in 24 hours; these files "
                    "would pass that. Try again later.",
                    mb=uploads._megabytes(business),
                ),
                code="quota_exceeded",
            )


def _uploaded(who, since: datetime) -> int:
    total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Document.size), 0)).where(
            who, Document.uploaded_at >= since
        )
    )
    return int(total or 0)
