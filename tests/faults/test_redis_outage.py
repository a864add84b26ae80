"""Redis killed and restarted empty while requests come in: the system heals itself.

What production runs (`rq worker --worker-class portal.worker.AppWorker --with-scheduler`
and `python -m portal.cron`, see deploy/) against a private redis-server and a scratch
database of this test on the PostgreSQL server of DATABASE_URL. Redis is SIGKILLed while
requests are being submitted, stays down while both processes notice, and comes back EMPTY
on the same port. Nobody touches anything after that: within 60 s the same two processes
(no restart) must have the sweep ticking again, `/healthz` answering 200, every outbox row
owed sent and every request whose `next_check_at` had passed swept.

Cost: real processes, about 15-25 s. It runs in the PostgreSQL + Redis stage (DATABASE_URL
and REDIS_URL set), like tests/faults/test_nothing_lost.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench import faults

pytestmark = [
    pytest.mark.fault,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgresql")
        or not os.environ.get("REDIS_URL")
        or shutil.which("redis-server") is None,
        reason="the fault suite runs with PostgreSQL and a real Redis (DATABASE_URL, REDIS_URL)",
    ),
]

PORTS = range(6410, 6420)  # a private redis-server, never the shared one
HEAL_WITHIN = 60.0


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 6410-6419 for a private redis-server")


def build_office(app):
    """One department, its head and an employee, a service with no documents, applicants."""
    from flask_migrate import upgrade

    from portal.extensions import db
    from portal.models import Business, Department, Role, Service, User
    from portal.services import businesses

    with app.app_context():
        upgrade()
        department = Department(code="D1", name_ru="Отдел", name_kk="Бөлім", name_en="Dept")
        service = Service(
            code="quick",
            department=department,
            title_ru="Справка",
            title_kk="Анықтама",
            title_en="Certificate",
            description_ru="-",
            description_kk="-",
            description_en="-",
            target_days=1,
            at_risk_ratio=0.5,
            intake_days=1,
            supervisor_after_days=1,
            reply_days=3,
            reminder_days=[1, 2],
            waiting_policy="pause",
            required_documents=[],
        )
        people = [
            User(
                email="head@moldir.test",
                password_hash="!",  # noqa: S106 - unusable: nobody logs in
                full_name="Head",
                role=Role.HEAD,
                department=department,
            ),
            User(
                email="staff@moldir.test",
                password_hash="!",  # noqa: S106
                full_name="Staff",
                role=Role.STAFF,
                department=department,
            ),
            *(
                User(
                    email=f"owner{k}@firm.test",
                    password_hash="!",  # noqa: S106
                    full_name=f"Owner {k}",
                    role=Role.APPLICANT,
                )
                for k in range(3)
            ),
        ]
        db.session.add_all([service, *people])
        for person in people:
            if person.role == Role.APPLICANT:
                # Each applicant owns a business of their own, as a registration makes.
                person.business = Business(
                    kind="company", identifier=f"99000000000{person.email[5]}", name="Firm"
                )
                businesses.make_owner(person, person.business)
        db.session.commit()


def submit_some(app, count: int, label: str) -> list[int]:
    """Requests through the service layer, as the web form does (its enqueue of the relay
    is best effort: with Redis down the outbox row waits for the re-drive)."""
    from portal.extensions import db
    from portal.models import Role, Service, User
    from portal.services import requests as request_service

    ids = []
    with app.app_context():
        service = db.session.scalar(sa.select(Service).filter_by(code="quick"))
        applicants = list(db.session.scalars(sa.select(User).filter_by(role=Role.APPLICANT)))
        for k in range(count):
            request = request_service.submit(
                applicants[k % len(applicants)], service, f"{label} #{k}", []
            )
            ids.append(request.id)
        db.session.remove()
    return ids


def wait_for(what: str, condition, within: float) -> float:
    """Poll a real process's doing until `condition()` holds; seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if condition():
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"not within {within:.0f} s: {what}")


@pytest.fixture
def scratch_database():
    """A database of its own on DATABASE_URL's server, dropped afterwards."""
    server = sa.engine.make_url(os.environ["DATABASE_URL"])
    name = f"moldir_outage_{os.getpid()}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_workers_and_scheduler_heal_after_redis_comes_back_empty(tmp_path, scratch_database):
    from portal import create_app
    from portal.observability import HEARTBEAT_KEY

    redis_server = faults.PrivateRedis(tmp_path, free_port())
    redis_server.start()
    database = scratch_database
    uploads = tmp_path / "uploads"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "REDIS_URL": redis_server.url,
            "SECRET_KEY": "outage-not-secret",
            "UPLOAD_FOLDER": str(uploads),
            "SERVER_NAME": "localhost",
        }
    )
    build_office(app)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SMTP_HOST", "SMS_GATEWAY_URL", "MOLDIR_CLOCK", "FLASK_DEBUG")
    }
    env.update(
        DATABASE_URL=database,
        REDIS_URL=redis_server.url,
        SECRET_KEY="outage-not-secret",  # noqa: S105 - a scratch database's key
        UPLOAD_FOLDER=str(uploads),
        LOG_FORMAT="text",
        PYTHONUNBUFFERED="1",
    )
    fleet = faults.Fleet(env, tmp_path)
    redis = redis_server_client(redis_server.url)
    engine = sa.create_engine(database)

    def scalar(sql: str, **params):
        statement = sa.text(sql)
        if "ids" in params:
            statement = statement.bindparams(sa.bindparam("ids", expanding=True))
        with engine.connect() as connection:
            return connection.execute(statement, params).scalar()

    def health():
        response = app.test_client().get("/healthz")
        return response.status_code, response.get_json()

    try:
        worker_name = fleet.start_worker()
        fleet.start_cron()
        processes = {worker_name: fleet.workers[worker_name], "cron": fleet.cron}
        assert worker_name == "worker-1"  # its log file's name
        pids = {name: process.pid for name, process in processes.items()}
        wait_for("a healthy start", lambda: health()[0] == 200, 60)

        before = submit_some(app, 4, "before the outage")
        redis.set("outage:marker", "from before")
        redis_server.stop()  # SIGKILL: no goodbye to any client
        during = submit_some(app, 4, "during the outage")
        # Time passed while Redis was down: some requests' next check is due now.
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE service_request SET next_check_at = :past WHERE id IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"past": datetime(2020, 1, 1, tzinfo=UTC), "ids": before[:2] + during[:2]},
            )
        # Both processes have met the outage (their logs say so) before it ends.
        for name, process in processes.items():
            log = Path(tmp_path / f"{name}.log")
            wait_for(
                f"{name} notices the outage (or dies of it)",
                lambda log=log, process=process: noticed(log) or process.poll() is not None,
                30,
            )
        assert health()[0] == 503
        redis_server.start()  # the same port, nothing in it
        assert redis.get("outage:marker") is None  # it came back empty
        restarted = time.time()

        def healed() -> bool:
            status, body = health()
            beat = redis.get(HEARTBEAT_KEY)
            return (
                status == 200
                and beat is not None
                and body["checks"]["workers"]["ok"]
                and scalar(
                    "SELECT count(*) FROM outbox_message"
                    " WHERE status IN ('pending', 'failed', 'sending')"
                )
                == 0
                and scalar(
                    "SELECT count(*) FROM service_request"
                    " WHERE next_check_at < '2021-01-01 00:00:00+00'"
                )
                == 0
            )

        took = wait_for("healthz 200, outbox sent, due requests swept", healed, HEAL_WITHIN)
        print(f"healed {took:.1f} s after Redis came back empty")

        status, body = health()
        assert status == 200, body
        assert body["checks"]["scheduler"]["ok"] and body["checks"]["workers"]["ok"]
        beat = datetime.fromisoformat(redis.get(HEARTBEAT_KEY).decode())
        assert beat.timestamp() > restarted  # the sweep ticked after Redis returned
        # Nobody restarted anything: the same processes did it.
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited ({process.returncode})"
            assert process.pid == pids[name]
        # Every request has its outbox rows, each sent once (one row per idempotency key).
        sent = scalar(
            "SELECT count(DISTINCT request_id) FROM outbox_message"
            " WHERE status = 'sent' AND request_id IN :ids",
            ids=before + during,
        )
        assert sent == len(before + during)
        # The due requests were swept: their next check is a real future moment again.
        assert (
            scalar(
                "SELECT count(*) FROM service_request WHERE next_check_at IS NOT NULL"
                " AND next_check_at < '2021-01-01 00:00:00+00'"
            )
            == 0
        )
        assert timedelta(seconds=took) < timedelta(seconds=HEAL_WITHIN)
    finally:
        fleet.stop()
        redis_server.stop()
        engine.dispose()
        redis.close()
        with app.app_context():
            from portal.extensions import db

            db.engine.dispose()


def noticed(log: Path) -> bool:
    text = log.read_text()
    return any(sign in text for sign in ("Redis unreachable", "could not connect to Redis"))


def redis_server_client(url: str):
    from redis import Redis

    return Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def test_a_killed_workers_scheduler_child_dies_with_it_and_frees_the_lock(
    tmp_path, scratch_database
):
    """RQ's scheduler child (delayed jobs, retries) must not outlive a SIGKILLed worker as
    an orphan that keeps the scheduler lock for ever: no other worker could take it."""
    from flask_migrate import upgrade

    from portal import create_app

    redis_server = faults.PrivateRedis(tmp_path, free_port())
    redis_server.start()
    app = create_app({"SQLALCHEMY_DATABASE_URI": scratch_database, "REDIS_URL": redis_server.url})
    with app.app_context():
        upgrade()
    env = dict(os.environ, DATABASE_URL=scratch_database, REDIS_URL=redis_server.url)
    env.pop("MOLDIR_CLOCK", None)
    fleet = faults.Fleet(env, tmp_path)
    redis = redis_server_client(redis_server.url)
    lock = "rq:scheduler-lock:sla"
    try:
        worker = fleet.workers[fleet.start_worker()]
        wait_for("the worker's scheduler takes the lock", lambda: redis.get(lock), 30)
        (child,) = faults.descendants(worker.pid)

        os.kill(worker.pid, 9)  # the worker only, as the OOM killer would
        worker.wait()

        def gone() -> bool:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return True
            return Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()[0] == "Z"

        wait_for("the orphaned scheduler child exits", gone, 10)
        wait_for("the scheduler lock is free", lambda: redis.get(lock) is None, 10)
    finally:
        fleet.stop()
        redis_server.stop()
        redis.close()
        with app.app_context():
            from portal.extensions import db

            db.engine.dispose()
