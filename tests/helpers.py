"""Helpers for the stories: people using the forms over HTTP, and what the database holds.

What a test checks as "nothing changed" is read with `db.engine.connect()`, past the
session's cached objects; the test client rolls back what a request did not commit, as the
request's teardown does in production, so that read sees only what was committed.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.models import (
    Business,
    Document,
    DocumentRequest,
    Event,
    ServiceRequest,
    User,
)
from tests.factories import PASSWORD, PDF, csrf_token, sign_in  # noqa: F401

REFERENCE = re.compile(r"SHY-\d{4}-\d{6}")
VALID_BIN = "190540001230"  # a company registered in May 2019
VALID_IIN = "900101300126"  # a man born on 1 January 1990


def text(response) -> str:
    """The page as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def main(response) -> str:
    """The page's main content, without the header (whose language links repeat the path)."""
    page = text(response)
    return page[page.index('<main id="main"') : page.index("</main>")]


def row_of(page: str, reference: str) -> str:
    """The table row that shows `reference`."""
    at = page.index(reference)
    return page[page.rindex("<tr", 0, at) : page.index("</tr>", at)]


def sign_out(client):
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/services")})
    assert response.status_code == 302
    return client


def post_form(client, path, data=None, token_from: str | None = None, **kwargs):
    """POST `data` to `path` with a CSRF token taken from the page `token_from` (or `path`)."""
    payload = {"csrf_token": csrf_token(client, token_from or path), **(data or {})}
    return client.post(path, data=payload, **kwargs)


def register(client, **fields):
    """Fill in the registration form: a business by default; `fields` override."""
    data = {
        "kind": "company",
        "full_name": "Daulet Seitkali",
        "identifier": VALID_BIN,
        "company_name": "Saryarqa Trade LLP",
        "email": "daulet@saryarqa.kz",
        "password": PASSWORD,
        "confirm": PASSWORD,
        **fields,
    }
    return post_form(client, "/register", data)


def pdf(marker: str = "") -> bytes:
    """A small valid PDF; `marker` makes its bytes unique."""
    return PDF + f"%{marker}\n".encode() if marker else PDF


def submit(client, service, description="Please register our shop", files=None, skip=()):
    """Apply for `service` with one PDF per required document (except those in `skip`)."""
    path = f"/my/apply/{service.code}"
    data = {"description": description}
    for doc in service.required_documents:
        if doc.id not in skip:
            data[f"doc_{doc.id}"] = (io.BytesIO(pdf(doc.code)), f"{doc.code}.pdf")
    data.update(files or {})
    return post_form(client, path, data, content_type="multipart/form-data")


def submitted(client, service, **kwargs) -> str:
    """Submit and return the new request's reference."""
    response = submit(client, service, **kwargs)
    assert response.status_code == 302, text(response)
    return REFERENCE.search(response.headers["Location"]).group(0)


def staff_act(client, reference, action, reason=None):
    data = {"action": action}
    if reason is not None:
        data["reason"] = reason
    return post_form(
        client, f"/staff/requests/{reference}/act", data, token_from=f"/staff/requests/{reference}"
    )


def ask_for(client, reference, items: dict[int, str]):
    """The employee ticks document types and says why each is needed."""
    data = {}
    for type_id, reason in items.items():
        data[f"want_{type_id}"] = "y"
        data[f"reason_{type_id}"] = reason
    return post_form(
        client, f"/staff/requests/{reference}/ask", data, token_from=f"/staff/requests/{reference}"
    )


def answer(client, reference, files: dict[int, tuple[bytes, str]]):
    data = {f"doc_{type_id}": (io.BytesIO(body), name) for type_id, (body, name) in files.items()}
    return post_form(
        client,
        f"/my/requests/{reference}/answer",
        data,
        token_from=f"/my/requests/{reference}",
        content_type="multipart/form-data",
    )


def withdraw(client, reference, reason=""):
    return post_form(
        client,
        f"/my/requests/{reference}/withdraw",
        {"reason": reason},
        token_from=f"/my/requests/{reference}",
    )


def reassign(client, reference, assignee_id, reason="Aigerim is on leave"):
    return post_form(
        client,
        f"/staff/requests/{reference}/reassign",
        {"assignee": str(assignee_id), "reason": reason},
        token_from=f"/staff/requests/{reference}",
    )


# --- what the database holds (committed) ----------------------------------------------


def counts() -> dict[str, int]:
    """Committed rows per table that a person's action could add to."""
    models = (User, Business, ServiceRequest, Document, DocumentRequest, Event)
    with db.engine.connect() as connection:
        return {
            model.__name__: connection.scalar(sa.select(sa.func.count()).select_from(model))
            for model in models
        }


def snapshot(reference: str) -> dict:
    """A request's committed state, assignee, event count and documents."""
    with db.engine.connect() as connection:
        row = connection.execute(
            sa.select(
                ServiceRequest.id,
                ServiceRequest.state,
                ServiceRequest.assignee_id,
                ServiceRequest.due_at,
                ServiceRequest.decided_at,
            ).where(ServiceRequest.reference == reference)
        ).one()
        events = connection.scalar(
            sa.select(sa.func.count()).select_from(Event).where(Event.request_id == row.id)
        )
        documents = connection.scalar(
            sa.select(sa.func.count()).select_from(Document).where(Document.request_id == row.id)
        )
        asks = connection.execute(
            sa.select(DocumentRequest.state)
            .where(DocumentRequest.request_id == row.id)
            .order_by(DocumentRequest.id)
        ).scalars()
        return {
            "state": row.state,
            "assignee_id": row.assignee_id,
            "due_at": row.due_at,
            "decided_at": row.decided_at,
            "events": events,
            "documents": documents,
            "asks": list(asks),
        }


def event_kinds(reference: str) -> list[str]:
    with db.engine.connect() as connection:
        return list(
            connection.scalars(
                sa.select(Event.kind)
                .join(ServiceRequest, Event.request_id == ServiceRequest.id)
                .where(ServiceRequest.reference == reference)
                .order_by(Event.id)
            )
        )


def stored_files() -> list[str]:
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def fresh(model, **where):
    """One row, re-read from the database (not the session's cached copy)."""
    db.session.expire_all()
    return db.session.scalar(sa.select(model).filter_by(**where))
