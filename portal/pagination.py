"""The one paginator: a page of a select through Flask-SQLAlchemy's `db.paginate`, shown by
the `pager` macro of _boards.html."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from portal.extensions import db

PAGE_SIZE = 50


@dataclass
class Page:
    """One page of a board's rows, with the page links' numbers (and a queue's counts)."""

    rows: list
    total: int
    page: int
    pages: int
    per_page: int = PAGE_SIZE
    counts: dict = field(default_factory=dict)


def paginate(query: sa.Select, page: int, per_page: int = PAGE_SIZE, counts=None) -> Page:
    """One page of `query` through Flask-SQLAlchemy; past the last page, the last page."""
    found = db.paginate(query, page=max(page, 1), per_page=per_page, error_out=False)
    if found.pages and found.page > found.pages:
        found = db.paginate(query, page=found.pages, per_page=per_page, error_out=False)
    return Page(
        list(found.items), found.total or 0, found.page, max(found.pages, 1), per_page, counts or {}
    )


def everything(query: sa.Select, counts=None) -> Page:
    """The whole of `query` as one page: for an export."""
    rows = list(db.session.scalars(query))
    return Page(rows, len(rows), 1, 1, len(rows), counts or {})
