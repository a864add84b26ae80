"""The service catalogue as the public, applicants and clients of the API see it."""

from __future__ import annotations

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Service


def active_service(code: str) -> Service | None:
    """The service offered under `code`, if it is offered now (retired ones are not)."""
    return db.session.scalar(
        sa.select(Service).where(Service.code == code, Service.active.is_(True))
    )


def service_by_code(code: str) -> Service | None:
    """The service under `code`, offered or retired (queues still hold retired ones)."""
    return db.session.scalar(sa.select(Service).where(Service.code == code))
