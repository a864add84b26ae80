"""What the stories are built from: people, departments, services, an office, files and
instants on the akimat's wall clock, and signing in through the login form.

One module, so that a story reads `make.office()` or `almaty(2026, 3, 2, 9)` wherever it is.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from werkzeug.datastructures import FileStorage

from portal import identifiers
from portal.extensions import db
from portal.models import Department, DocumentType, Role, Service, ServiceRequest, User
from portal.services import accounts
from portal.services import requests as request_service
from portal.services.requests import Upload

PASSWORD = "correct horse battery"
# The smallest PDF a reader opens (one empty page; no xref table, which readers rebuild).
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
# One white pixel, as Pillow writes it (the upload check decodes every image in full).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c63f8ffff3f0005fe02fe0def46b80000000049454e44ae426082"
)
ALMATY = ZoneInfo("Asia/Almaty")


def almaty(*parts: int) -> datetime:
    """An instant on the akimat's wall clock (UTC+5)."""
    return datetime(*parts, tzinfo=ALMATY)


def pdf_file(name: str = "document.pdf", data: bytes = PDF) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")


def csrf_token(client, path) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, user, lang: str | None = "en", password: str = PASSWORD):
    """Log `user` in through the login form, having picked `lang` (None: their account's).

    Stories assert on English wording, so that they hold whatever the Russian and Kazakh
    catalogues say. (The language switch itself is exercised in test_i18n.)
    Under `travel`, sign in after moving time: a session cookie from the future is void.
    """
    with client.session_transaction() as session:
        session.clear()
        if lang:
            session["lang"] = lang  # as /lang/<code> leaves it; login keeps it
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": password,
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@dataclass
class Office:
    """One department with one service and everybody a request can reach."""

    service: Service
    document: DocumentType
    employee: User
    head: User
    supervisor: User
    applicant: User

    def submit(self, description: str = "Register our bakery") -> ServiceRequest:
        """The applicant applies through the service function the view calls."""
        return request_service.submit(
            self.applicant, self.service, description, [Upload(self.document.id, pdf_file())]
        )


class Factory:
    """Builds people, departments and services for a test story."""

    def __init__(self):
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _named(self, model, code, prefix: str, ru: str, kk: str, en: str):
        n = self._next()
        row = model(
            code=code or f"{prefix}{n}",
            name_ru=f"{ru} {n}",
            name_kk=f"{kk} {n}",
            name_en=f"{en} {n}",
        )
        db.session.add(row)
        db.session.commit()
        return row

    def department(self, code=None) -> Department:
        return self._named(Department, code, "D", "Отдел", "Бөлім", "Department")

    def document_type(self, code=None) -> DocumentType:
        return self._named(DocumentType, code, "doc", "Документ", "Құжат", "Document")

    def service(self, department, documents=(), target_days=5, policy="pause", code=None):
        n = self._next()
        service = Service(
            code=code or f"svc{n}",
            department=department,
            title_ru=f"Услуга {n}",
            title_kk=f"Қызмет {n}",
            title_en=f"Service {n}",
            description_ru="Описание",
            description_kk="Сипаттама",
            description_en="Description",
            target_days=target_days,
            waiting_policy=policy,
            required_documents=list(documents),
        )
        db.session.add(service)
        db.session.commit()
        return service

    def _person(self, role, name, department=None) -> User:
        n = self._next()
        user = User(
            email=f"{role}{n}@moldir.test",
            password_hash=accounts.hash_password(PASSWORD),
            full_name=name(n) if callable(name) else name,
            role=role,
            department=department,
        )
        db.session.add(user)
        db.session.commit()
        return user

    def employee(self, department, role=Role.STAFF, name=None) -> User:
        return self._person(role, name or (lambda n: f"Employee {n}"), department)

    def overseer(self, role=Role.SUPERVISOR) -> User:
        return self._person(role, lambda n: f"Overseer {n}")

    def applicant(self, name=None) -> User:
        n = self._next()
        bin_ = identifiers.with_check_digit(f"2401400{n:04d}")
        return accounts.register_applicant(
            email=f"applicant{n}@firm.test",
            password=PASSWORD,
            full_name=name or f"Owner {n}",
            kind="company",
            identifier=bin_,
            company_name=f"Firm {n} LLP",
        )

    def office(
        self,
        target_days: int = 5,
        policy: str = "pause",
        names: dict[str, str] | None = None,
        document_code: str | None = None,
        **service_fields,
    ) -> Office:
        """A department with one service (needing one document) and its people: an
        employee, the head, a supervisor and an applicant. `names` names any of them
        (`employee`, `head`, `applicant`); `service_fields` set more of the service."""
        names = names or {}
        department = self.department()
        document = self.document_type(document_code)
        service = self.service(department, [document], target_days=target_days, policy=policy)
        if service_fields:
            for name, value in service_fields.items():
                setattr(service, name, value)
            db.session.commit()
        return Office(
            service=service,
            document=document,
            employee=self.employee(department, name=names.get("employee")),
            head=self.employee(department, role=Role.HEAD, name=names.get("head")),
            supervisor=self.overseer(),
            applicant=self.applicant(name=names.get("applicant")),
        )
