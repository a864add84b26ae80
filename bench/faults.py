"""Fault suite: nothing lost, nothing sent twice, while workers die, Redis forgets and
PostgreSQL restarts.

    .venv/bin/python bench/faults.py [--n 1000] [--rate 1800] [--timeout 600] [--keep]

Everything runs on private servers started here and removed at the end, never on the
shared ones: a PostgreSQL cluster (initdb into a temp folder, as the `postgres` user when
run as root) and a Redis, each on a free port of 127.0.0.1, plus an aiosmtpd sink in this
process. Against them run what production runs: two `rq worker --worker-class
portal.worker.AppWorker --with-scheduler sla notifications default` and `rq cron
sla.schedule`, with SMTP to the sink.

Time: the workers cannot be handed a time-machine, so all processes of the run share
`MOLDIR_CLOCK` (see `sla/clock.py`): SLA time starts on Monday 9 February 2026, 15:00
Almaty, and runs `--rate` times as fast as real time (900: an office day of 9 hours
passes in 36 s). Nothing sleeps through SLA time; the bench only waits on real processes.
The rate has a ceiling: a fault rolls back a sweep batch of up to 500 requests (tens of
seconds on a loaded machine), which the clock multiplies; should that swallow a whole
office day, the day's reminder is skipped by design (the chase sends only the latest one
due), and the run reports it missing. At 1800 with 1000 requests on a loaded 2-core
machine that happened (2026-11-27: 300 of 600 reminders, everything else exact).

The scenario (its expected counts come from this definition, not from the tables):

- two departments (a head and three staff each), one supervisor, two services that need
  one document each: "quick" (1 working day, at risk at 50 %, intake check 1 day,
  supervisor 1 day after the breach) and "standard" (2 days, at risk at 75 %, intake check
  2 days, supervisor 1 day after); both give 3 working days to answer a document request
  and remind on working days 1 and 2;
- N requests submitted with their document through the service layer, on Monday from
  14:00 (written as history before the workers start); request i gets service
  (i // 10) % 2 and fate i % 10:
    0-2 ignored: intake, at-risk, head and supervisor rungs fire;
    3-4 accepted: the employee accepts the documents; at-risk, head, supervisor fire;
    5-7 asked: the employee asks for a document; reminders on Tue and Wed 09:00, refused
        as incomplete on Thursday 18:00 (the reply-by date);
    8   rejected by the employee; 9 withdrawn by the applicant: nothing more happens;
- every notification goes in-app and by email (one outbox row each); SMS is off.

Faults, injected while jobs are in flight:
1. Redis FLUSHALL while the relay works off the submission backlog (queued relay jobs,
   worker registrations and receipts are wiped; the outbox re-drive must catch up);
2. SIGKILL of the worker and its work horse while the horse is in the middle of a relay
   batch (some of its claimed rows sent, the rest not), then a replacement worker, as a
   supervisor would start one; the killed claims wait for the lease and the re-drive;
3. SIGKILL of the worker and its horse running a sweep tick during the Tuesday 18:00
   burst (intake, head rungs), then a replacement;
4. PostgreSQL restarted (`pg_ctl restart -m immediate`, a crash and recovery) during the
   Wednesday 18:00 burst (supervisor and head rungs) while a job runs.

From the FLUSHALL to the relay kill the sink takes 10 ms per message (a slow server), so
that a batch lasts long enough to be cut in half. The outbox lease is 20 real seconds (scaled by the
rate, as `NOTIFY_LEASE_SECONDS`).

Then the bench waits until the system is quiet (SLA time past the last moment of the
scenario, no outbox row owed, no request due) and counts, per kind: expected, found,
missing, duplicated and unexpected, for requests, events, escalations, outbox rows,
in-app notices and the emails the sink received (duplicates by Message-ID and by
recipient and key). Exit code 1 on any loss or duplicate.

One duplicate is allowed for by design and counted apart: SMTP has no idempotency, so a
worker killed after the server accepted a message and before its receipt was written sends
it again (same Message-ID; see `notifications/relay.py`). The sink tells those apart: the
first copy is the last message of an SMTP session that never said QUIT.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
ALMATY = ZoneInfo("Asia/Almaty")

# The scenario's week: no public holiday in Kazakhstan from 9 to 13 February 2026.
SUBMIT_FROM = datetime(2026, 2, 9, 14, 0, tzinfo=ALMATY)  # Monday
RUN_FROM = datetime(2026, 2, 9, 15, 0, tzinfo=ALMATY)  # the workers' clock starts here
TUESDAY_CLOSE = datetime(2026, 2, 10, 18, 0, tzinfo=ALMATY)
WEDNESDAY_CLOSE = datetime(2026, 2, 11, 18, 0, tzinfo=ALMATY)
# A lost worker's claim is settled after this much real time (scaled to SLA seconds).
LEASE_REAL_SECONDS = 20
QUEUES = ("sla", "notifications", "default")
FATES = ("ignored",) * 3 + ("accepted",) * 2 + ("asked",) * 3 + ("rejected", "withdrawn")
SERVICES = ("quick", "standard")
NO_LOGIN = "!"  # noqa: S105 - an unusable hash: nobody of the run logs in


def say(message: str) -> None:
    print(f"faults: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- private servers ----------------------------------------------------------------------


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def missing_tools() -> list[str]:
    """What this suite needs on the machine and does not find."""
    missing = []
    if postgres_bin() is None:
        missing.append("PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser (to run PostgreSQL as the postgres user)")
    return missing


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in `root`, on 127.0.0.1:`port`, trust auth."""

    def __init__(self, root: Path, port: int):
        self.bin = postgres_bin()
        self.data = root / "pgdata"
        self.log = root / "postgres.log"
        self.port = port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/moldir"

    def _run(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / args[0]), *args[1:]]), check=True)  # noqa: S603

    def start(self) -> None:
        root = self.data.parent
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{root}'\nmax_connections = 60\n"
                # fsync off: the machine does not crash, only PostgreSQL does; commits
                # still reach the OS before they return (synchronous_commit stays on).
                "fsync = off\nfull_page_writes = off\nshared_buffers = 64MB\n"
            )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "start")
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as connection:
            connection.execute("CREATE DATABASE moldir")

    def restart(self) -> float:
        """Crash and recover: immediate shutdown (no checkpoint), then start; seconds down."""
        started = time.perf_counter()
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "immediate", "-w", "restart"
        )
        return time.perf_counter() - started

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


class PrivateRedis:
    """A redis-server child on 127.0.0.1:`port`, nothing persisted."""

    def __init__(self, root: Path, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log = root / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from redis import Redis

        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                shutil.which("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(self.log),
            ],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(100):
            try:
                Redis.from_url(self.url).ping()
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("private Redis did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# --- the SMTP sink --------------------------------------------------------------------------

HEADER = re.compile(rb"^(Message-ID|X-Moldir-Key|To): *(.+?)\r?$", re.MULTILINE | re.IGNORECASE)


@dataclass
class Received:
    message_id: str
    key: str
    to: str
    session: int


class Sink:
    """Accepts every message; remembers each one and which SMTP sessions ended with QUIT."""

    def __init__(self):
        self.messages: list[Received] = []
        self.quit: set[int] = set()
        self.lock = threading.Lock()
        self._numbers = itertools.count(1)
        # Seconds a message takes to be accepted (a slow server keeps the relay mid-batch).
        self.delay = 0.0

    def _session(self, session) -> int:
        if not hasattr(session, "moldir_number"):
            session.moldir_number = next(self._numbers)
        return session.moldir_number

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        headers = {
            m.group(1).decode().lower(): m.group(2).decode()
            for m in HEADER.finditer(envelope.content.split(b"\r\n\r\n", 1)[0])
        }
        with self.lock:
            self.messages.append(
                Received(
                    headers.get("message-id", "?"),
                    headers.get("x-moldir-key", "?"),
                    headers.get("to", "?"),
                    self._session(session),
                )
            )
        return "250 2.0.0 Ok: queued"

    async def handle_QUIT(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.quit.add(self._session(session))
        return "221 Bye"

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def snapshot(self) -> tuple[list[Received], set[int]]:
        with self.lock:
            return list(self.messages), set(self.quit)


# --- the scenario -------------------------------------------------------------------------


@dataclass
class Planned:
    """One request as the scenario made it, and what it owes from then on."""

    index: int
    request_id: int
    service: str
    fate: str
    applicant_id: int
    assignee_id: int
    head_id: int
    document_request_id: int | None = None


@dataclass
class Expected:
    events: Counter = field(default_factory=Counter)  # (request_id, kind)
    escalations: Counter = field(default_factory=Counter)  # (request_id, level)
    notifications: dict[str, tuple[str, int]] = field(
        default_factory=dict
    )  # key -> (template, user)
    states: Counter = field(default_factory=Counter)  # (request_id, state)
    last_moment: datetime | None = None


def expected(plan: list[Planned], supervisor_id: int) -> Expected:
    """What must exist once the week has run, from the scenario's definition alone."""
    from sla.calendar import WorkingCalendar

    out = Expected()
    cal = WorkingCalendar()
    reminder_days = (1, 2)
    for p in plan:
        rid = p.request_id
        kinds = ["submitted", "assigned", "clock_started"]
        note = {
            f"submitted:{rid}": ("request_submitted", p.applicant_id),
            f"assigned:{rid}": ("request_assigned", p.applicant_id),
            f"new_assignment:{rid}:{p.assignee_id}": ("new_assignment", p.assignee_id),
        }
        if p.fate in ("ignored", "accepted"):
            levels = ["at_risk", "head", "supervisor"]
            if p.fate == "ignored":
                levels.append("intake")  # never looked at: the intake check is late too
            if p.fate == "accepted":
                kinds.append("accept_documents")
            kinds += ["sla_at_risk", "sla_breached"] + ["escalated"] * len(levels)
            targets = {
                "at_risk": p.assignee_id,
                "intake": p.assignee_id,
                "head": p.head_id,
                "supervisor": supervisor_id,
            }
            for level in levels:
                out.escalations[(rid, level)] += 1
                note[f"escalation:{rid}:{level}:0"] = (f"escalation_{level}", targets[level])
            out.states[(rid, "submitted" if p.fate == "ignored" else "in_review")] += 1
        elif p.fate == "asked":
            kinds += ["request_documents", "clock_paused"]
            kinds += ["reminder_sent"] * len(reminder_days)
            kinds += ["refuse_incomplete", "clock_stopped"]
            dr = p.document_request_id
            note[f"documents_requested:{dr}"] = ("documents_requested", p.applicant_id)
            for day in reminder_days:
                note[f"reminder:{dr}:day{day}"] = ("documents_reminder", p.applicant_id)
            note[f"refused:{rid}"] = ("refused_incomplete", p.applicant_id)
            out.states[(rid, "refused_incomplete")] += 1
        elif p.fate == "rejected":
            kinds += ["accept_documents", "reject", "clock_stopped"]
            note[f"decision:{rid}"] = ("decision_rejected", p.applicant_id)
            out.states[(rid, "rejected")] += 1
        else:  # withdrawn
            kinds += ["withdraw", "clock_stopped"]
            out.states[(rid, "withdrawn")] += 1
        for kind in kinds:
            out.events[(rid, kind)] += 1
        out.notifications.update(note)
    # The last moment anything is due: the standard service's supervisor rung and the
    # reply-by date, both at Thursday's close.
    due = cal.add_working_days(SUBMIT_FROM, 2)
    out.last_moment = max(cal.add_working_days(due, 1), cal.add_working_days(SUBMIT_FROM, 3))
    return out


def build_app(pg_url: str, redis_url: str, smtp_port: int, uploads: Path):
    from portal import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": pg_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "REDIS_URL": redis_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": smtp_port,
            "MAIL_FROM": "Moldir <no-reply@moldir.test>",
            "UPLOAD_FOLDER": str(uploads),
            "SECRET_KEY": "faults-not-secret",
            "SERVER_NAME": "localhost",
        }
    )


# A one-page PDF that the upload check (qpdf) opens.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def write_history(app, n: int) -> tuple[list[Planned], int]:
    """The office, its people, and N requests with what staff did to them on Monday."""
    import io

    import sqlalchemy as sa
    from flask_migrate import upgrade
    from werkzeug.datastructures import FileStorage

    from portal.extensions import db
    from portal.models import Business, Department, DocumentType, Role, Service, User
    from portal.services import businesses
    from portal.services import requests as request_service
    from portal.services.requests import Upload
    from sla import clock

    with app.app_context():
        upgrade()
        with clock.travel(SUBMIT_FROM - timedelta(days=7)):
            document = DocumentType(
                code="charter", name_ru="Устав", name_kk="Жарғы", name_en="Charter"
            )
            db.session.add(document)
            heads, staff, services = {}, {}, {}
            for number, (name, target, ratio, intake) in enumerate(
                (("quick", 1, 0.5, 1), ("standard", 2, 0.75, 2)), start=1
            ):
                department = Department(
                    code=f"D{number}",
                    name_ru=f"Отдел {number}",
                    name_kk=f"Бөлім {number}",
                    name_en=f"Dept {number}",
                )
                services[name] = Service(
                    code=name,
                    department=department,
                    title_ru=name,
                    title_kk=name,
                    title_en=name,
                    description_ru="-",
                    description_kk="-",
                    description_en="-",
                    target_days=target,
                    at_risk_ratio=ratio,
                    intake_days=intake,
                    supervisor_after_days=1,
                    reply_days=3,
                    reminder_days=[1, 2],
                    waiting_policy="pause",
                    required_documents=[document],
                )
                heads[name] = User(
                    email=f"head{number}@moldir.test",
                    password_hash=NO_LOGIN,
                    full_name=f"Head {number}",
                    role=Role.HEAD,
                    department=department,
                )
                staff[name] = [
                    User(
                        email=f"staff{number}.{k}@moldir.test",
                        password_hash=NO_LOGIN,
                        full_name=f"Staff {number}.{k}",
                        role=Role.STAFF,
                        department=department,
                    )
                    for k in range(3)
                ]
                db.session.add_all([services[name], heads[name], *staff[name]])
            supervisor = User(
                email="deputy@moldir.test",
                password_hash=NO_LOGIN,
                full_name="Deputy",
                role=Role.SUPERVISOR,
            )
            applicants = [
                User(
                    email=f"owner{k}@firm.test",
                    password_hash=NO_LOGIN,
                    full_name=f"Owner {k}",
                    role=Role.APPLICANT,
                    locale=("ru", "kk", "en")[k % 3],
                )
                for k in range(max(n // 10, 1))
            ]
            db.session.add_all([supervisor, *applicants])
            for k, person in enumerate(applicants):
                # Each applicant owns a business of their own, as a registration makes.
                person.business = Business(
                    kind="company", identifier=f"98{k:010d}", name=f"Firm {k}"
                )
                businesses.make_owner(person, person.business)
            db.session.commit()
        supervisor_id, document_id = supervisor.id, document.id
        users = {u.id: u for u in db.session.scalars(sa.select(User))}
        plan: list[Planned] = []
        step = timedelta(seconds=1800 / n)
        for i in range(n):
            name, fate = SERVICES[(i // 10) % 2], FATES[i % 10]
            applicant = applicants[i % len(applicants)]
            with clock.travel(SUBMIT_FROM + i * step):
                upload = FileStorage(
                    io.BytesIO(PDF), filename="charter.pdf", content_type="application/pdf"
                )
                request = request_service.submit(
                    applicant, services[name], f"fault run #{i}", [Upload(document_id, upload)]
                )
            planned = Planned(
                i, request.id, name, fate, applicant.id, request.assignee_id, heads[name].id
            )
            employee = users[request.assignee_id]
            reference = request.reference
            with clock.travel(SUBMIT_FROM + i * step + timedelta(minutes=20)):
                if fate == "accepted":
                    request_service.act(employee, reference, "accept_documents")
                elif fate == "asked":
                    asked = request_service.request_documents(
                        employee, reference, [(document_id, "The scan is unreadable")]
                    )
                    planned.document_request_id = asked.id
                elif fate == "rejected":
                    request_service.act(employee, reference, "accept_documents")
                    request_service.act(employee, reference, "reject", "Out of scope")
                elif fate == "withdrawn":
                    request_service.withdraw(applicant, reference, "Changed my mind")
            plan.append(planned)
            db.session.expire_all()
        db.session.remove()
        db.engine.dispose()
    return plan, supervisor_id


# --- workers --------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs (Linux /proc)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [p for child in map(int, children) for p in (child, *descendants(child))]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Fleet:
    """The worker processes of the run, each in a session of its own (see devserver)."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env = env
        self.logs = logs
        self.workers: dict[str, subprocess.Popen] = {}
        self.cron: subprocess.Popen | None = None
        self._numbers = itertools.count(1)

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives with the child
        return subprocess.Popen(  # noqa: S603 - fixed argv of venv executables
            args,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_worker(self) -> str:
        name = f"worker-{next(self._numbers)}"
        self.workers[name] = self._spawn(
            name,
            [
                str(BIN / "rq"),
                "worker",
                "--url",
                self.env["REDIS_URL"],
                "--name",
                name,
                "--with-scheduler",
                "--worker-class",
                "portal.worker.AppWorker",
                *QUEUES,
            ],
        )
        return name

    def start_cron(self) -> None:
        self.cron = self._spawn(
            "cron",
            [sys.executable, "-m", "portal.cron", "--url", self.env["REDIS_URL"], "sla.schedule"],
        )

    @staticmethod
    def running(redis) -> dict[str, str]:
        """worker name -> the job it runs, from the started-job registries (a worker's own
        key is gone after a FLUSHALL, but it registers each job it starts)."""
        from rq.registry import StartedJobRegistry

        found = {}
        for queue in QUEUES:
            registry = StartedJobRegistry(queue, connection=redis)
            for job_id, _execution in registry.get_job_and_execution_ids(cleanup=False):
                worker, description = redis.hmget(f"rq:job:{job_id}", "worker_name", "description")
                if worker and description:
                    found[worker.decode()] = description.decode()
        return found

    def kill(self, name: str) -> None:
        """SIGKILL to the worker and everything it started, as a crash would.

        Its work horse first: RQ puts the horse in a process group of its own
        (`os.setpgrp()` after the fork), so killing the worker's group alone leaves the
        job running to its end.
        """
        process = self.workers.pop(name)
        for pid in descendants(process.pid):
            _kill(pid)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def check_alive(self) -> None:
        for name, process in [*self.workers.items(), ("cron", self.cron)]:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited unexpectedly ({process.returncode})")

    def stop(self) -> None:
        from portal.devserver import reap

        children = dict(self.workers)
        if self.cron is not None:
            children["cron"] = self.cron
        horses = [pid for process in children.values() for pid in descendants(process.pid)]
        for process in children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        reap(children, 15.0, say)
        for pid in horses:  # outside the groups that reap() kills
            _kill(pid)
        self.workers.clear()
        self.cron = None


# --- watching the database -------------------------------------------------------------------


class Watch:
    """Small read-only questions to the private database, on a connection of our own."""

    def __init__(self, pg_url: str):
        import sqlalchemy as sa

        self.engine = sa.create_engine(pg_url, pool_pre_ping=True)

    def scalar(self, sql: str, **params):
        import sqlalchemy as sa

        try:
            with self.engine.connect() as connection:
                return connection.execute(sa.text(sql), params).scalar()
        except sa.exc.OperationalError:
            return None  # PostgreSQL restarting: ask again later

    def sending_ids(self) -> set[int]:
        import sqlalchemy as sa

        try:
            with self.engine.connect() as connection:
                return set(
                    connection.execute(
                        sa.text("SELECT id FROM outbox_message WHERE status = 'sending'")
                    ).scalars()
                )
        except sa.exc.OperationalError:
            return set()

    def owed(self) -> int | None:
        return self.scalar(
            "SELECT count(*) FROM outbox_message WHERE status IN ('pending', 'failed', 'sending')"
        )

    def due(self, now: datetime) -> int | None:
        return self.scalar(
            "SELECT count(*) FROM service_request WHERE next_check_at <= :now", now=now
        )


# --- the run --------------------------------------------------------------------------------


@dataclass
class Injected:
    what: str
    real_seconds: float  # after the workers started
    sla_time: datetime
    detail: str


@dataclass
class Outcome:
    n: int
    rate: float
    rows: list[tuple[str, int, int, int, int, int]]  # what, expected, found, missing, dup, unexp
    faults: list[Injected]
    setup_seconds: float
    run_seconds: float
    window_duplicates: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


class Clock:
    """The SLA clock all processes of the run share (`MOLDIR_CLOCK`)."""

    def __init__(self, rate: float):
        self.rate = rate
        self.real_start = time.time()

    @property
    def environment(self) -> str:
        return f"{self.real_start},{RUN_FROM.isoformat()},{self.rate}"

    def now(self) -> datetime:
        return RUN_FROM + timedelta(seconds=(time.time() - self.real_start) * self.rate)

    def real_until(self, at: datetime) -> float:
        return (at - self.now()).total_seconds() / self.rate


def run(n: int = 1000, rate: float = 1800.0, timeout: float = 600.0, keep: bool = False) -> Outcome:
    """The whole fault run; returns the counts (servers and workers are always stopped)."""
    from aiosmtpd.controller import Controller

    missing = missing_tools()
    if missing:
        raise RuntimeError("missing: " + ", ".join(missing))
    root = Path(tempfile.mkdtemp(prefix="moldir-faults-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach its cluster inside
    pg = PrivatePostgres(root / "pg", free_port())
    (root / "pg").mkdir()
    redis_server = PrivateRedis(root, free_port())
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    fleet: Fleet | None = None
    uploads = root / "uploads"
    logs = root / "logs"
    logs.mkdir()
    try:
        started = time.perf_counter()
        pg.start()
        redis_server.start()
        controller.start()
        say(
            f"private PostgreSQL on :{pg.port}, Redis on :{redis_server.port}, "
            f"SMTP sink on :{smtp_port}; files in {root}"
        )
        app = build_app(pg.url, redis_server.url, smtp_port, uploads)
        plan, supervisor_id = write_history(app, n)
        want = expected(plan, supervisor_id)
        setup_seconds = time.perf_counter() - started
        say(f"{n} requests written in {setup_seconds:.1f} s; starting the workers")

        clock = Clock(rate)
        env = {
            **os.environ,
            "DATABASE_URL": pg.url,
            "REDIS_URL": redis_server.url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "MAIL_FROM": "Moldir <no-reply@moldir.test>",
            "UPLOAD_FOLDER": str(uploads),
            "SECRET_KEY": "faults-not-secret",
            "MOLDIR_CLOCK": clock.environment,
            "NOTIFY_LEASE_SECONDS": str(int(LEASE_REAL_SECONDS * rate)),
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("SMS_GATEWAY_URL", "SMTP_USER", "SMTP_PASSWORD", "SMTP_SSL", "SMTP_STARTTLS"):
            env.pop(name, None)
        fleet = Fleet(env, logs)
        fleet.start_worker()
        fleet.start_worker()
        fleet.start_cron()
        faults = inject_and_wait(fleet, pg, redis_server, sink, clock, want, n, timeout)
        run_seconds = time.perf_counter() - started - setup_seconds
        fleet.stop()
        fleet = None
        rows, window, problems = count(app, plan, want, sink)
        app.extensions["redis"].close()
        if len(faults) < 4:
            problems.append(f"only {len(faults)} of 4 faults were injected")
        return Outcome(n, rate, rows, faults, setup_seconds, run_seconds, window, problems)
    finally:
        if fleet is not None:
            fleet.stop()
        controller.stop()
        redis_server.stop()
        pg.stop()
        if keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def inject_and_wait(fleet, pg, redis_server, sink, clock, want, n, timeout) -> list[Injected]:
    """Drive the run: inject each fault at its moment, then wait until all is quiet."""
    from redis import Redis

    redis = Redis.from_url(redis_server.url)
    watch = Watch(pg.url)
    try:
        return _inject_and_wait(fleet, pg, redis, watch, sink, clock, want, n, timeout)
    finally:
        watch.engine.dispose()
        redis.close()


def _inject_and_wait(fleet, pg, redis, watch, sink, clock, want, n, timeout) -> list[Injected]:
    backlog = n * 3  # the submission emails, at least
    faults: list[Injected] = []
    real_start = time.perf_counter()
    pending = ["flushall", "kill relay", "kill sweep", "restart postgres"]

    def note(what: str, detail: str) -> None:
        faults.append(Injected(what, time.perf_counter() - real_start, clock.now(), detail))
        pending.remove(what)
        say(f"{what} at SLA {clock.now().astimezone(ALMATY):%a %H:%M}: {detail}")

    def busy_with(job: str) -> list[str]:
        running = fleet.running(redis)
        return [name for name in fleet.workers if job in running.get(name, "")]

    # From the FLUSHALL until the relay is killed, the SMTP server takes 10 ms a message: a
    # relay batch then lasts long enough for the kill to land in the middle of it. Not
    # longer: relays that slow would keep both workers from the sweep for SLA hours.
    quiet_since = None
    deadline = time.perf_counter() + clock.real_until(want.last_moment) + timeout
    while time.perf_counter() < deadline:
        fleet.check_alive()
        now = clock.now()
        if "flushall" in pending and sink.count >= backlog // 5:
            redis.flushall()
            sink.delay = 0.01
            note("flushall", f"{sink.count} emails received so far, relay mid-backlog")
        elif "kill relay" in pending and "flushall" not in pending:
            # With one relay running, the rows `sending` are its claims; those still
            # `sending` after it died are left for the re-drive.
            relays = busy_with("relay_job")
            claimed = watch.sending_ids() if len(relays) == 1 else set()
            if claimed:
                (name,) = relays
                # Into the batch: some sent (their receipts written), the rest not yet.
                received = sink.count
                wait_until = time.perf_counter() + 2
                while sink.count < received + min(5, len(claimed) // 2):
                    if time.perf_counter() > wait_until:
                        break
                    time.sleep(0.005)
                fleet.kill(name)
                replacement = fleet.start_worker()
                time.sleep(0.5)
                orphans = len(claimed & watch.sending_ids())
                if orphans:
                    sink.delay = 0.0
                    note(
                        "kill relay",
                        f"{name} mid-batch, {orphans} claimed rows orphaned "
                        f"({sink.count} emails received); replaced by {replacement}",
                    )
                else:
                    say(f"killed {name} between batches; replaced by {replacement}; again")
        elif "kill sweep" in pending and now >= TUESDAY_CLOSE:
            # Preferably while rows are due (mid-batch); failing that, any tick.
            name = next(iter(busy_with("sweep_job")), None)
            if name and (watch.due(now) or now >= TUESDAY_CLOSE + timedelta(hours=3)):
                fleet.kill(name)
                note("kill sweep", f"{name} mid-tick; replaced by {fleet.start_worker()}")
        elif "restart postgres" in pending and now >= WEDNESDAY_CLOSE:
            name = next(iter(busy_with("sweep_job") + busy_with("relay_job")), None)
            if name or now >= WEDNESDAY_CLOSE + timedelta(hours=3):
                down = pg.restart()
                note("restart postgres", f"while {name or 'no one'} ran a job; down {down:.1f} s")
        if not pending and now > want.last_moment + timedelta(hours=1):
            if watch.owed() == 0 and watch.due(now) == 0:
                quiet_since = quiet_since or time.perf_counter()
                if time.perf_counter() - quiet_since > 3:  # stays quiet over a tick or two
                    return faults
            else:
                quiet_since = None
        time.sleep(0.05 if pending else 0.5)
    say(
        f"not quiet within the timeout: owed {watch.owed()}, due {watch.due(clock.now())}, "
        f"faults not injected: {pending}"
    )
    return faults


# --- counting -------------------------------------------------------------------------------


def _compare(
    what: str, want: Counter, found: Counter, rows: list, problems: list, allowed: int = 0
) -> None:
    """One line: expected, found, missing, duplicated (beyond expected), unexpected."""
    missing = sum(max(n - found.get(k, 0), 0) for k, n in want.items())
    duplicated = sum(max(found[k] - n, 0) for k, n in want.items() if k in found)
    unexpected = sum(n for k, n in found.items() if k not in want)
    rows.append((what, sum(want.values()), sum(found.values()), missing, duplicated, unexpected))
    if missing or duplicated > allowed or unexpected:
        problems.append(
            f"{what}: missing {missing}, duplicated {duplicated}, unexpected {unexpected}"
        )


def _by(counter: Counter, part) -> dict[str, Counter]:
    split: dict[str, Counter] = defaultdict(Counter)
    for k, n in counter.items():
        split[part(k)][k] += n
    return split


def _compare_by(what: str, want: Counter, found: Counter, part, rows, problems, order=None):
    wanted, got = _by(want, part), _by(found, part)
    for name in order or sorted(set(wanted) | set(got)):
        _compare(
            f"{what}: {name}", wanted.get(name, Counter()), got.get(name, Counter()), rows, problems
        )


def count(app, plan: list[Planned], want: Expected, sink: Sink):
    """Read what exists and hold it against what the scenario says must."""
    import sqlalchemy as sa

    from notifications.channels import message_id
    from portal.extensions import db

    rows: list = []
    problems: list[str] = []
    with app.app_context():

        def select(sql: str) -> list:
            return list(db.session.execute(sa.text(sql)))

        requests = select("SELECT id, description, state FROM service_request")
        _compare(
            "requests",
            Counter(f"fault run #{p.index}" for p in plan),
            Counter(r.description for r in requests),
            rows,
            problems,
        )
        _compare(
            "requests in their final state",
            want.states,
            Counter((r.id, r.state) for r in requests),
            rows,
            problems,
        )
        events = Counter(tuple(r) for r in select("SELECT request_id, kind FROM event"))
        _compare_by("events", want.events, events, lambda k: k[1], rows, problems)
        escalations = Counter(tuple(r) for r in select("SELECT request_id, level FROM escalation"))
        _compare_by(
            "escalations",
            want.escalations,
            escalations,
            lambda k: k[1],
            rows,
            problems,
            order=("intake", "at_risk", "head", "supervisor"),
        )

        outbox = select(
            "SELECT o.idempotency_key AS key, o.channel, o.template, o.status, o.recipient_id, "
            "n.id AS notice FROM outbox_message o LEFT JOIN notice n ON n.outbox_id = o.id"
        )
        template_of = {o.key: o.template for o in outbox}
        for key, (template, _user) in want.notifications.items():
            for channel in ("in_app", "email"):
                template_of.setdefault(f"{key}:{channel}", template)
        scripted = [o for o in outbox if o.template != "daily_digest"]
        for channel in ("in_app", "email"):
            _compare_by(
                f"outbox {channel}",
                Counter({f"{k}:{channel}": 1 for k in want.notifications}),
                Counter(o.key for o in scripted if o.channel == channel),
                lambda k: template_of[k],
                rows,
                problems,
            )
        unsent = Counter(o.status for o in outbox if o.status != "sent")
        rows.append(("outbox rows not sent", 0, sum(unsent.values()), 0, 0, 0))
        if unsent:
            problems.append(f"outbox rows not sent: {dict(unsent)}")
        _compare(
            "in-app notices",
            Counter({f"{k}:in_app": 1 for k in want.notifications}),
            Counter(o.key for o in scripted if o.notice is not None),
            rows,
            problems,
        )
        (orphans,) = select("SELECT count(*) FROM notice WHERE outbox_id IS NULL")[0]
        if orphans:
            problems.append(f"{orphans} notices without an outbox row")

        # The daily digest follows the real clock's half hours: not scripted, but once each.
        digests = [o for o in outbox if o.template == "daily_digest"]
        rows.append(("outbox: daily_digest (not scripted)", len(digests), len(digests), 0, 0, 0))

        addresses = dict(select('SELECT id, email FROM "user"'))
        mail = {f"{key}:email": addresses[user] for key, (_t, user) in want.notifications.items()}
        mail.update({o.key: addresses[o.recipient_id] for o in digests if o.channel == "email"})
        sender = app.config["MAIL_FROM"]
        db.session.remove()
        db.engine.dispose()
    received, quit_cleanly = sink.snapshot()
    window = _documented_window(received, quit_cleanly)
    _compare(
        "emails received (by Message-ID)",
        Counter({message_id(k, sender): 1 for k in mail}),
        Counter(m.message_id for m in received),
        rows,
        problems,
        window,
    )
    _compare(
        "emails received (by recipient, key)",
        Counter({(a, k): 1 for k, a in mail.items()}),
        Counter((m.to, m.key) for m in received),
        rows,
        problems,
        window,
    )
    return rows, window, problems


def _documented_window(received: list[Received], quit_cleanly: set[int]) -> int:
    """Second copies whose first copy was the last message of a session that never said
    QUIT: its worker died between the server's 250 and the receipt (SMTP's own limit)."""
    last_of_session: dict[int, int] = {}
    for index, message in enumerate(received):
        last_of_session[message.session] = index
    cut_short = {i for s, i in last_of_session.items() if s not in quit_cleanly}
    first: dict[str, int] = {}
    explained = 0
    for index, message in enumerate(received):
        if message.message_id in first and first[message.message_id] in cut_short:
            explained += 1
        first.setdefault(message.message_id, index)
    return explained


# --- report ---------------------------------------------------------------------------------


def table(outcome: Outcome) -> str:
    lines = [
        f"N = {outcome.n} requests, SLA clock x{outcome.rate:g}; "
        f"setup {outcome.setup_seconds:.1f} s, run until quiet {outcome.run_seconds:.1f} s",
        "",
        "Faults injected:",
        *(
            f"  {f.real_seconds:6.1f} s  (SLA {f.sla_time.astimezone(ALMATY):%a %H:%M})  "
            f"{f.what}: {f.detail}"
            for f in outcome.faults
        ),
        "",
        "| what | expected | found | missing | duplicated | unexpected |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for what, want, found, missing, duplicated, unexpected in outcome.rows:
        lines.append(f"| {what} | {want} | {found} | {missing} | {duplicated} | {unexpected} |")
    lines += [
        "",
        f"Emails sent twice within SMTP's documented at-least-once window: "
        f"{outcome.window_duplicates}",
        "Result: "
        + ("nothing lost, nothing duplicated" if outcome.ok else "; ".join(outcome.problems)),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="requests (at least 10)")
    parser.add_argument("--rate", type=float, default=900, help="SLA seconds per real second")
    parser.add_argument("--timeout", type=float, default=600, help="real seconds to get quiet")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    args = parser.parse_args()
    outcome = run(args.n, args.rate, args.timeout, args.keep)
    print(table(outcome), flush=True)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
