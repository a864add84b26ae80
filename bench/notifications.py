"""Benchmark: email deliveries per second from the outbox to a local SMTP sink.

    .venv/bin/python bench/notifications.py [--messages 10000] [--workers 1,2]
                                            [--batch 100] [--no-write]

For each worker count W: a fresh database `moldir_bench_notifications` (dropped and
created, Alembic migrations), M pending email rows written in bulk exactly as
`notifications.notify()` writes them (the same context snapshot, one idempotency key
each), W relay jobs queued on a real Redis (db 10, or BENCH_REDIS_URL; flushed), then W
`rq worker --worker-class rq.worker.SimpleWorker --burst` processes (non-forking: no fork
per job) drain the `notifications` queue. Each relay job claims batches (`FOR UPDATE SKIP
LOCKED`), renders each message in its language, sends it over one SMTP connection that it
keeps for all its batches, writes the Redis receipt, and marks the batch sent.

The SMTP sink is aiosmtpd in this process (a thread) on 127.0.0.1, counting what it
accepts per `X-Moldir-Key` header: the run checks that every message arrived exactly once.

Figures: the relay window (first claim to last mark, from the outbox's own timestamps:
what the workers achieve once running) and the wall time from starting the workers until
every row is sent (adds process start-up, about a second). Written to bench/RESULTS.md
under "## Notifications (bench/notifications.py)" unless --no-write.

Only localhost is contacted: PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and
Redis on 127.0.0.1:6379. The bench database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
from common import (  # bench/, on sys.path when run as a script
    PG_SERVER,
    drop_database,
    recreate_database,
)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-not-secret")
for _name in ("SMS_GATEWAY_URL", "SMTP_USER", "SMTP_PASSWORD", "SMTP_SSL", "SMTP_STARTTLS"):
    os.environ.pop(_name, None)

BENCH_DB = "moldir_bench_notifications"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
# Its own Redis database (the SLA bench uses 13, CI 15); flushed before and after each run.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Notifications (bench/notifications.py)"
TARGET_PER_SECOND = 500
KEY_HEADER = re.compile(rb"^X-Moldir-Key: (\S+)\r?$", re.MULTILINE)


# --- the SMTP sink --------------------------------------------------------------------


class CountingSink:
    """Accepts every message and counts it by its idempotency key."""

    def __init__(self):
        self.keys: Counter = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        match = KEY_HEADER.search(envelope.content)
        with self.lock:
            self.keys[match.group(1).decode() if match else "?"] += 1
        return "250 2.0.0 Ok: queued"

    @property
    def received(self) -> int:
        with self.lock:
            return sum(self.keys.values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the database ---------------------------------------------------------------------


def build_app(smtp_port: int):
    from portal import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": smtp_port,
            "BASE_URL": "https://moldir.example.kz",
        }
    )


def owe_messages(app, count: int) -> None:
    """`count` pending email rows, as notify() writes them, in three languages."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from notifications.outbox import OutboxMessage, request_path
    from portal.extensions import db
    from portal.models import Department, Role, User
    from sla import clock

    with app.app_context():
        upgrade()
        department = Department(
            code="ENT",
            name_ru="Отдел предпринимательства",
            name_kk="Кәсіпкерлік бөлімі",
            name_en="Entrepreneurship",
        )
        db.session.add(department)
        people = [
            User(
                email=f"owner{n}@firm.test",
                password_hash="!",  # noqa: S106  (an unusable hash: nobody logs in)
                full_name=f"Owner {n}",
                role=Role.APPLICANT,
                locale=("ru", "kk", "en")[n % 3],
            )
            for n in range(300)
        ]
        db.session.add_all(people)
        db.session.commit()
        now = clock.now()
        service = {
            "ru": "Уведомление о начале деятельности",
            "kk": "Қызметті бастау туралы хабарлама",
            "en": "Notice of starting a business",
        }
        rows = []
        for n in range(count):
            person = people[n % len(people)]
            reference = f"SHY-2026-{n + 1:06d}"
            rows.append(
                {
                    "recipient_id": person.id,
                    "channel": "email",
                    "address": person.email,
                    "template": "request_submitted",
                    "language": person.locale,
                    "context": {
                        "recipient": person.full_name,
                        "reference": reference,
                        "path": request_path(person.role, reference),
                        "service": service,
                        "department": {
                            "ru": department.name_ru,
                            "kk": department.name_kk,
                            "en": department.name_en,
                        },
                        "applicant": f"Firm {n} LLP",
                        "assignee": "Aigerim Bekova",
                        "due_at": "2026-12-04T13:00:00+00:00",
                    },
                    "idempotency_key": f"submitted:{n + 1}:email",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        for start in range(0, count, 5000):
            db.session.execute(sa.insert(OutboxMessage), rows[start : start + 5000])
        db.session.commit()
        db.session.execute(sa.text("ANALYZE outbox_message"))
        db.session.commit()
        db.engine.dispose()


# --- one run ----------------------------------------------------------------------------


@dataclass
class Run:
    workers: int
    messages: int
    batch: int
    window_seconds: float
    wall_seconds: float
    received: int
    duplicates: int
    sent_rows: int
    relay_cpu_seconds: float
    sink_cpu_seconds: float

    @property
    def relay_cpu_ms(self) -> float:
        return 1000 * self.relay_cpu_seconds / self.messages

    @property
    def sink_cpu_ms(self) -> float:
        return 1000 * self.sink_cpu_seconds / self.messages

    @property
    def window_rate(self) -> float:
        return self.messages / self.window_seconds

    @property
    def wall_rate(self) -> float:
        return self.messages / self.wall_seconds


def run_once(workers: int, messages: int, batch: int) -> Run:
    import sqlalchemy as sa
    from aiosmtpd.controller import Controller
    from redis import Redis
    from rq import Queue

    sink = CountingSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        recreate_database(BENCH_DB)
        app = build_app(port)
        owe_messages(app, messages)
        redis = Redis.from_url(REDIS_URL)
        redis.flushdb()
        queue = Queue("notifications", connection=redis)
        jobs = [
            queue.enqueue("notifications.jobs.relay_job", job_timeout=600) for _ in range(workers)
        ]

        env = {
            **os.environ,
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "NOTIFY_BATCH_SIZE": str(batch),
            "BASE_URL": "https://moldir.example.kz",
            "PYTHONPATH": str(ROOT),
        }
        command = [
            str(Path(sys.executable).parent / "rq"),
            "worker",
            "--burst",
            "--quiet",
            "--worker-class",
            "rq.worker.SimpleWorker",
            "--url",
            REDIS_URL,
            "notifications",
        ]
        # The sink is the only busy thread of this process while the workers run.
        sink_cpu = time.process_time()
        started = time.perf_counter()
        processes = [
            subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603  (our own rq, fixed args)
            for _ in range(workers)
        ]
        for process in processes:
            process.wait(timeout=600)
        wall = time.perf_counter() - started
        sink_cpu = time.process_time() - sink_cpu
        if any(process.returncode for process in processes):
            raise SystemExit("a worker failed")
        # The relay jobs' own CPU time (start-up of the worker processes left out).
        relay_cpu = 0.0
        for job in jobs:
            job.refresh()
            relay_cpu += job.return_value()["cpu_seconds"]

        from portal.extensions import db

        with app.app_context():
            window, sent = db.session.execute(
                sa.text(
                    "SELECT extract(epoch FROM max(sent_at) - min(claimed_at)), "
                    "count(*) FILTER (WHERE status = 'sent') FROM outbox_message"
                )
            ).one()
            db.engine.dispose()
        redis.flushdb()
        redis.close()
    finally:
        controller.stop()
    duplicates = sum(n - 1 for n in sink.keys.values() if n > 1)
    return Run(
        workers=workers,
        messages=messages,
        batch=batch,
        window_seconds=float(window),
        wall_seconds=wall,
        received=sink.received,
        duplicates=duplicates,
        sent_rows=sent,
        relay_cpu_seconds=relay_cpu,
        sink_cpu_seconds=sink_cpu,
    )


# --- report -------------------------------------------------------------------------------


def machine(load_before: tuple[float, float, float]) -> str:
    cpus = os.cpu_count()
    with psycopg.connect(f"{PG_SERVER}/postgres") as connection:
        pg = connection.execute("SHOW server_version").fetchone()[0]
    from redis import Redis

    redis_version = Redis.from_url(REDIS_URL).info()["redis_version"]
    load = ", ".join(f"{value:.1f}" for value in load_before)
    return (
        f"{cpus} cores, Python {platform.python_version()}, PostgreSQL {pg}, "
        f"Redis {redis_version}, aiosmtpd sink in the bench process; load average "
        f"before the runs {load}"
    )


def report(runs: list[Run], about: str) -> str:
    lines = [
        SECTION,
        "",
        f"Machine: {about}. Run by hand: `.venv/bin/python bench/notifications.py`.",
        "",
        "Each run: a fresh database, the messages written as pending email rows (as",
        "`notify()` writes them, in ru/kk/en), N relay jobs queued, N `rq worker --burst",
        "--worker-class rq.worker.SimpleWorker` processes draining them; each relay keeps one",
        "SMTP connection for all its batches and writes a Redis receipt per message.",
        "",
        "| workers | messages | batch | relay window | deliveries/s (window) "
        "| wall incl. start-up | deliveries/s (wall) | relay CPU per message "
        "| sink CPU per message | arrived once each |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        once = (
            "yes"
            if run.received == run.messages and run.duplicates == 0
            else (f"NO: {run.received} arrived, {run.duplicates} duplicates")
        )
        lines.append(
            f"| {run.workers} | {run.messages} | {run.batch} | {run.window_seconds:.2f} s "
            f"| **{run.window_rate:.0f}** | {run.wall_seconds:.2f} s | {run.wall_rate:.0f} "
            f"| {run.relay_cpu_ms:.2f} ms | {run.sink_cpu_ms:.2f} ms | {once} |"
        )
    lines += [
        "",
        f"Target: at least {TARGET_PER_SECOND} deliveries/s on this 2-core machine. The relay",
        "window runs from the first claim to the last mark (`min(claimed_at)` to",
        "`max(sent_at)`), so it leaves out the worker processes' start-up; the wall figure",
        "keeps it in. Workers, PostgreSQL, Redis and the SMTP sink share the two cores, so a",
        "second worker adds less than a second core's worth. The CPU columns do not depend on",
        "what else the machine is doing: the relay jobs' own CPU time (`time.process_time()`",
        "in `relay_job`: rendering, SMTP client, receipt, claim and mark) and the sink's, per",
        "message; a load average above 2 before the runs means other work was sharing the",
        "cores, and the rates are lower for it.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or append) this bench's section; other sections stay as they are."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = existing.find(SECTION)
    if start == -1:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        following = existing.find("\n## ", start + len(SECTION))
        end = len(existing) if following == -1 else following + 1
        updated = existing[:start] + text + ("\n" + existing[end:] if following != -1 else "")
    RESULTS.write_text(updated.rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    runs = []
    load_before = os.getloadavg()
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            run = run_once(workers, args.messages, args.batch)
            print(
                f"{workers} worker(s): {run.messages} messages in {run.window_seconds:.2f} s "
                f"relay window = {run.window_rate:.0f}/s; wall {run.wall_seconds:.2f} s = "
                f"{run.wall_rate:.0f}/s; relay CPU {run.relay_cpu_ms:.2f} ms/message, sink CPU "
                f"{run.sink_cpu_ms:.2f} ms/message; arrived {run.received}, duplicates "
                f"{run.duplicates}, "
                f"rows sent {run.sent_rows}",
                flush=True,
            )
            runs.append(run)
        about = machine(load_before)
    finally:
        drop_database(BENCH_DB)
    text = report(runs, about)
    print()
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
