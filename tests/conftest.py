"""Fixtures: one app on a migrated database, a rolled-back transaction per test, a client,
a runner, and the factories of tests/factories.py.

The database is SQLite in a temp folder by default; with DATABASE_URL set (CI) it is that
PostgreSQL database. Either way the schema comes from the Alembic migrations, applied once
per session.

Most tests share one app built once per session, and run inside a transaction on one
connection that is rolled back at the end: what services commit becomes a savepoint's
release (SQLAlchemy's "join_transaction_mode='create_savepoint'"), and `db.engine` hands
out that same connection, so reads "on a connection of their own" see what was committed.
Tests whose commits must be seen by other threads or processes (real workers, gunicorn,
the browser's live server, fault tests) carry `@pytest.mark.commits`: they get an app of
their own and really commit, and the tables are emptied around them.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime

import jinja2
import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from werkzeug.security import generate_password_hash

from portal import create_app
from portal.extensions import db, limiter
from portal.services import accounts
from sla import clock, deadlines
from tests.factories import (  # noqa: F401  (re-exported: stories import them from here)
    PASSWORD,
    PDF,
    PNG,
    Factory,
    csrf_token,
    pdf_file,
    sign_in,
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "commits: the test's commits must be seen by other threads or processes "
        "(an app of its own, real commits, tables emptied around it)",
    )
    config.addinivalue_line(
        "markers",
        "settings(**mapping): an app of its own built with these settings on top of the "
        "tests' (as `commits`: create_app reads settings once)",
    )


def pytest_collection_modifyitems(items):
    # A browser drives the live server from other threads: each of those needs commits.
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.commits)


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
        # Rows a migration writes for existing installs (e.g. the power-of-attorney type):
        # every test starts from empty tables all the same.
        _empty_tables()
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
    """Each request gets an empty `g`, and loses what it did not commit, as in production.

    Tests keep one app context open (for the database session), and Flask reuses it for
    requests; without this, `g` (the logged-in user, the CSRF token) would leak between them,
    and what a view flushed but never committed would stay in the test's transaction, where
    a read of "what was committed" would see it.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            for name in list(vars(g)):
                delattr(g, name)
        try:
            return super().open(*args, **kwargs)
        finally:
            if _in_test_transaction():
                db.session.rollback()  # to the last commit, as the request's teardown does


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


TEST_CONFIG = {
    "TESTING": True,
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


def _build_app(database_url: str, uploads, settings: dict | None = None) -> Flask:
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_FOLDER": str(uploads),
            **(settings or {}),
        }
    )
    app.test_client_class = FreshGlobalsClient
    app.jinja_env.bytecode_cache = _TEMPLATE_CODE
    return app


def _in_test_transaction() -> bool:
    return has_app_context() and isinstance(db.session.bind, sa.Connection)


class _TestSession(FlaskSession):
    """Flask-SQLAlchemy's session, but bound to the test's connection when it has one."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and isinstance(self.bind, sa.Connection):
            return self.bind
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db.session.session_factory.class_ = _TestSession


class _OneConnectionEngine(sa.Engine):
    """Stands in for `db.engine` during a rolled-back test: the app's engine (same pool,
    dialect and event listeners), whose `connect()` hands out the test's one connection (and
    `begin()` the same, inside a savepoint), so they see what the test's session committed.
    (SQLite savepoints work because create_app issues BEGIN itself: SQLAlchemy's recipe.)"""

    def __init__(self, engine: sa.Engine, connection: sa.Connection):
        # Not Engine.__init__: share the engine's state, its event dispatch included.
        engine.dispatch  # noqa: B018  (made on first use; shared from then on)
        self.__dict__.update(engine.__dict__)
        self._connection = connection

    @contextlib.contextmanager
    def connect(self):
        # No savepoint around reads: the session may begin its own while one is open (a
        # lazy load in the query's arguments), and closing ours would end its savepoint too.
        yield self._connection

    @contextlib.contextmanager
    def begin(self):
        with self._connection.begin_nested():
            yield self._connection

    def dispose(self, close: bool = True) -> None:
        pass


@pytest.fixture(scope="session")
def _shared_app(_migrated, tmp_path_factory):
    app = _build_app(_migrated, tmp_path_factory.mktemp("uploads"))
    with app.app_context():
        engine = db.engine
    # An engine with listeners makes each connection follow the engine's listeners, so a
    # test's `sa.event.listen(db.engine, ...)` reaches the connection it already holds.
    sa.event.listen(engine, "engine_connect", lambda connection: None)
    yield app, engine
    engine.dispose()


@pytest.fixture
def app(request, _migrated, tmp_path, redis_connection):
    settings = request.node.get_closest_marker("settings")
    if settings or request.node.get_closest_marker("commits"):
        overrides = settings.kwargs if settings else {}
        yield from _committing_app(_migrated, tmp_path, redis_connection, overrides)
    else:
        shared = request.getfixturevalue("_shared_app")
        yield from _rolled_back_app(*shared, tmp_path, redis_connection)


def _committing_app(database_url, tmp_path, redis_connection, settings):
    """An app of its own; what it commits is committed (and emptied afterwards)."""
    app = _build_app(database_url, tmp_path / "uploads", settings)
    app.extensions["redis"] = redis_connection
    with app.app_context():
        _empty_tables()
        # The calendar is cached per process; each story reads its own database's.
        deadlines.invalidate()
        yield app
        db.session.remove()
        _empty_tables()
        db.engine.dispose()
    clock.run_from("")  # as the shared app left it


def _rolled_back_app(app, engine, tmp_path, redis_connection):
    """The shared app, inside a transaction that is rolled back when the test ends."""
    # What a test changes in the app (settings, caches kept in extensions) ends with it.
    config, extensions = dict(app.config), dict(app.extensions)
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    app.extensions["redis"] = redis_connection
    engines = db._app_engines[app]
    connection = engine.connect()
    outer = connection.begin()
    engines[None] = _OneConnectionEngine(engine, connection)
    db.session.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        with app.app_context():
            deadlines.invalidate()
            yield app
            db.session.remove()
    finally:
        for option in ("bind", "join_transaction_mode"):
            db.session.session_factory.kw.pop(option, None)
        engines[None] = engine
        if outer.is_active:
            outer.rollback()
        connection.close()
        app.config.clear()
        app.config.update(config)
        app.extensions.clear()
        app.extensions.update(extensions)
        limiter.reset()
        deadlines.invalidate()


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


@pytest.fixture
def make(app):
    return Factory()


@pytest.fixture
def login(client):
    """`login(user)`: signs `user` in through the form, in their account's language."""

    def do(user, password=PASSWORD):
        return sign_in(client, user, lang=None, password=password)

    return do
