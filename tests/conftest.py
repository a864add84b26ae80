"""Fixtures: an app on a freshly migrated database, a client, a runner, and factories.

The database is SQLite in a temp folder by default; with DATABASE_URL set (CI) it is that
PostgreSQL database. Either way the schema comes from the Alembic migrations, applied once
per session, and every test starts from empty tables.
"""

from __future__ import annotations

import io
import os
import re
from datetime import datetime

import jinja2
import pytest
import sqlalchemy as sa
import time_machine
from flask import g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from werkzeug.datastructures import FileStorage
from werkzeug.security import generate_password_hash

from portal import create_app, identifiers
from portal.extensions import db
from portal.models import Department, DocumentType, Role, Service, User
from portal.services import accounts
from sla import deadlines

PASSWORD = "correct horse battery"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'moldir.db'}"


@pytest.fixture(scope="session")
def _migrated(database_url, tmp_path_factory):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("uploads")),
        }
    )
    with app.app_context():
        if not database_url.startswith("sqlite"):
            # A clean slate for this run, then the migrations, never create_all.
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP SCHEMA public CASCADE"))
                connection.execute(sa.text("CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    return database_url


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Real scrypt hashes, at a cost fit for tests: the production cost takes ~0.1 s each.

    Hashes carry their parameters, so logging in checks them with this cost too.
    """
    monkeypatch.setattr(
        accounts,
        "hash_password",
        lambda password: generate_password_hash(password, method="scrypt:1024:1:1"),
    )


@pytest.fixture
def redis_connection():
    url = os.environ.get("REDIS_URL")
    if url:
        from redis import Redis

        connection = Redis.from_url(url)
    else:
        import fakeredis

        connection = fakeredis.FakeRedis()
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


class FreshGlobalsClient(FlaskClient):
    """Each request gets an empty `g`, as it would in production.

    Tests keep one app context open (for the database session), and Flask reuses it for
    requests; without this, `g` (the logged-in user, the CSRF token) would leak between them.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            for name in list(vars(g)):
                delattr(g, name)
        return super().open(*args, **kwargs)


class _SharedTemplateCode(jinja2.BytecodeCache):
    """Compiled templates, shared by the apps of all tests (compiling them is most of a
    test's time otherwise). Keyed by the template's source, so an edit recompiles it."""

    def __init__(self):
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket):
        self._code[bucket.key] = bucket.bytecode_to_string()


_TEMPLATE_CODE = _SharedTemplateCode()


@pytest.fixture
def app(_migrated, tmp_path, redis_connection):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": _migrated,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "SECRET_KEY": "test-secret",
            "MAX_UPLOAD_BYTES": 200 * 1024,
            "SERVER_NAME": "localhost",
            # Stories log in many times from one address; tests/security sets real limits.
            "LOGIN_RATE_LIMIT_ACCOUNT": "1000 per minute",
            "LOGIN_RATE_LIMIT_IP": "1000 per minute",
            "LOGIN_RATE_LIMIT_BACKOFF_MAX": 0,
            "REGISTER_RATE_LIMIT_IP": "1000 per minute",
            "RESET_RATE_LIMIT_IP": "1000 per minute",
            "RESET_RATE_LIMIT_ACCOUNT": "1000 per minute",
            # Stories sign in, then move time by days; tests/security times sessions out.
            "SESSION_IDLE_MINUTES": 10 * 365 * 24 * 60,
            "SESSION_ABSOLUTE_HOURS": 10 * 365 * 24,
        }
    )
    app.extensions["redis"] = redis_connection
    app.test_client_class = FreshGlobalsClient
    app.jinja_env.bytecode_cache = _TEMPLATE_CODE
    with app.app_context():
        _empty_tables()
        # The calendar is cached per process; each story reads its own database's.
        deadlines.invalidate()
        yield app
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


def _empty_tables():
    db.session.remove()
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def no_csrf_client(app):
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def travel():
    """Move time: `travel(datetime)` returns a time-machine traveller (ticking off)."""
    travellers = []

    def go(at: datetime):
        traveller = time_machine.travel(at, tick=False)
        traveller.start()
        travellers.append(traveller)
        return traveller

    yield go
    for traveller in reversed(travellers):
        traveller.stop()


# --- factories -------------------------------------------------------------------------


class Factory:
    """Builds people, departments and services for a test story."""

    def __init__(self):
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def department(self, code=None) -> Department:
        n = self._next()
        department = Department(
            code=code or f"D{n}",
            name_ru=f"Отдел {n}",
            name_kk=f"Бөлім {n}",
            name_en=f"Department {n}",
        )
        db.session.add(department)
        db.session.commit()
        return department

    def document_type(self, code=None) -> DocumentType:
        n = self._next()
        document_type = DocumentType(
            code=code or f"doc{n}",
            name_ru=f"Документ {n}",
            name_kk=f"Құжат {n}",
            name_en=f"Document {n}",
        )
        db.session.add(document_type)
        db.session.commit()
        return document_type

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

    def employee(self, department, role=Role.STAFF, name=None) -> User:
        n = self._next()
        user = User(
            email=f"{role}{n}@moldir.test",
            password_hash=accounts.hash_password(PASSWORD),
            full_name=name or f"Employee {n}",
            role=role,
            department=department,
        )
        db.session.add(user)
        db.session.commit()
        return user

    def overseer(self, role=Role.SUPERVISOR) -> User:
        n = self._next()
        user = User(
            email=f"{role}{n}@moldir.test",
            password_hash=accounts.hash_password(PASSWORD),
            full_name=f"Overseer {n}",
            role=role,
        )
        db.session.add(user)
        db.session.commit()
        return user

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


@pytest.fixture
def make(app):
    return Factory()


def pdf_file(name="document.pdf", data=PDF) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")


@pytest.fixture
def login(client):
    def do(user, password=PASSWORD):
        with client.session_transaction() as session:
            session.clear()
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

    return do


def csrf_token(client, path) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)
