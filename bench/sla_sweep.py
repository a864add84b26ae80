"""Benchmark of the SLA sweep on PostgreSQL, and escalation latency through RQ.

    .venv/bin/python bench/sla_sweep.py [--sizes 10000,100000,1000000] [--ticks 50]
                                        [--skip-latency] [--latency-only]

Part 1, for each size N: a fresh database `moldir_bench` (dropped and created), the
Alembic migrations, N open requests generated in bulk with `INSERT ... SELECT
generate_series(...)`, VACUUM ANALYZE; then

  * the idle tick: `sla.sweep.sweep()` when nothing is due (median and p95, in ms);
  * the EXPLAIN (ANALYZE, BUFFERS) of the due-rows query the sweep sends when idle;
  * the 1 % tick: 1 % of the requests have just breached (deadline passed, state
    at_risk, `next_check_at` = deadline); one sweep handles them all (each: the head
    rung, two events, one in-app notice, the supervisor moment scheduled);
  * the idle tick again right after that sweep, before any VACUUM (the index then holds
    the dead entries of the rows just rescheduled, at the low end where the probe starts);
  * then everything is restored (columns, escalations, events, notices) and vacuumed.

Part 2: escalation latency against a real Redis (db 13, flushed) with `rq worker` and
`rq cron sla.schedule` as subprocesses and ~10k open requests: 30 s idle (does the worker
keep up with a tick every 2 s?), then 200 requests get a deadline 3-23 s ahead; latency =
escalation.fired_at - deadline per request (fired_at is the `now` of the tick that fired
it), plus when the in-app notice was written and when the row became visible to another
connection (polled every 50 ms). `--compare-simple-worker` repeats part 2 with
`rq worker -w rq.worker.SimpleWorker` (no fork per job).

The bulk load runs with `session_replication_role = replica` (no FK triggers; the ids
are consistent by construction) and takes ~15-40 s for 1M rows on 2 cores.

Only localhost is contacted: PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and
Redis on 127.0.0.1:6379. The bench database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from common import (
    PG_SERVER,
    captured_statements,
    drop_database,
    explain,  # bench/, on sys.path when run as a script
    pct,
    recreate_database,
)
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# create_app() reads SECRET_KEY first and would otherwise write instance/secret_key.
os.environ.setdefault("SECRET_KEY", "bench-not-secret")
# Localhost only: with these unset, email and SMS go to the log channels, never out.
OUTSIDE_SETTINGS = ("SMTP_HOST", "SMS_GATEWAY_URL")
for _name in OUTSIDE_SETTINGS:
    os.environ.pop(_name, None)

BENCH_DB = "moldir_bench"
BENCH_DSN = f"{PG_SERVER}/{BENCH_DB}"
SQLALCHEMY_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
REDIS_URL = "redis://127.0.0.1:6379/13"
BIN = Path(sys.executable).parent

DEPARTMENTS = 5
SERVICES = 20
BENCH_SERVICE_ID = SERVICES + 1  # no supervisor rung: only 'head' can fire
STAFF = 50  # ids 100..149, department (id - 100) % 5 + 1
APPLICANTS = 2000  # ids 1000..2999
WORKING_DAY = 9 * 3600

# Targets from the issue.
IDLE_TARGET_MS = 50.0
IDLE_RATIO_TARGET = 2.0
LATENCY_P99_TARGET_S = 5.0


def say(message: str) -> None:
    print(message, flush=True)


def make_app():
    from portal import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": SQLALCHEMY_URL,
            "REDIS_URL": REDIS_URL,
            "SMTP_HOST": None,
            "SMS_GATEWAY_URL": None,
        }
    )


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def flush_redis() -> None:
    from redis import Redis

    Redis.from_url(REDIS_URL).flushdb()


MIGRATION_HEAD = "?"


def migrate(app) -> float:
    import logging

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from portal.extensions import db

    global MIGRATION_HEAD
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        MIGRATION_HEAD = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
        db.session.remove()
    # Alembic's fileConfig turned its INFO logging on; keep the output to our figures.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return time.perf_counter() - started


def vacuum(*tables: str) -> None:
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        if tables:
            for table in tables:
                conn.execute(f"VACUUM ANALYZE {table}")
        else:
            conn.execute("VACUUM ANALYZE")


LOAD_SQL = [
    # A few departments, services, people. FK triggers are off for the bulk load
    # (session_replication_role = replica): the ids below are consistent by construction.
    """
    INSERT INTO department (id, code, name_ru, name_kk, name_en)
    SELECT d, 'D' || d, 'Отдел ' || d, 'Бөлім ' || d, 'Department ' || d
    FROM generate_series(1, %(departments)s) d
    """,
    """
    INSERT INTO service (id, code, department_id, title_ru, title_kk, title_en,
                         description_ru, description_kk, description_en, target_days,
                         waiting_policy, at_risk_ratio, active, intake_days, approval_days,
                         warn_at_risk, escalate_to_head, supervisor_after_days)
    SELECT s, 'S' || s, mod(s - 1, %(departments)s) + 1, 'Услуга ' || s, 'Қызмет ' || s,
           'Service ' || s, '', '', '', 5 + mod(s, 11), 'pause', 0.75, true, 2, NULL,
           true, true, 3
    FROM generate_series(1, %(services)s) s
    """,
    """
    INSERT INTO service (id, code, department_id, title_ru, title_kk, title_en,
                         description_ru, description_kk, description_en, target_days,
                         waiting_policy, at_risk_ratio, active, intake_days, approval_days,
                         warn_at_risk, escalate_to_head, supervisor_after_days)
    VALUES (%(bench_service)s, 'BENCH', 1, 'Бенч', 'Бенч', 'Bench', '', '', '', 3, 'pause',
            0.75, true, NULL, NULL, true, true, NULL)
    """,
    """
    INSERT INTO "user" (id, email, password_hash, full_name, role, department_id, locale,
                        active, created_at)
    SELECT d, 'head' || d || '@bench.invalid', 'x', 'Head ' || d, 'head', d, 'ru', true,
           %(now)s
    FROM generate_series(1, %(departments)s) d
    """,
    """
    INSERT INTO "user" (id, email, password_hash, full_name, role, department_id, locale,
                        active, created_at)
    VALUES (6, 'supervisor@bench.invalid', 'x', 'Supervisor', 'supervisor', NULL, 'ru',
            true, %(now)s)
    """,
    """
    INSERT INTO "user" (id, email, password_hash, full_name, role, department_id, locale,
                        active, created_at)
    SELECT 100 + k, 'staff' || k || '@bench.invalid', 'x', 'Staff ' || k, 'staff',
           mod(k, %(departments)s) + 1, 'ru', true, %(now)s
    FROM generate_series(0, %(staff)s - 1) k
    """,
    """
    INSERT INTO "user" (id, email, password_hash, full_name, role, department_id, locale,
                        active, created_at)
    SELECT 1000 + a, 'applicant' || a || '@bench.invalid', 'x', 'Applicant ' || a,
           'applicant', NULL, 'ru', true, %(now)s
    FROM generate_series(0, %(applicants)s - 1) a
    """,
    # N open requests: submitted over the last 10 days, next check (the at-risk moment)
    # spread over the coming 4 weeks, deadline a day after it. Service g % 20 + 1 belongs
    # to department g % 5 + 1, and so does the assignee.
    """
    INSERT INTO service_request (
        id, reference, service_id, department_id, applicant_id, assignee_id, description,
        state, submitted_at, updated_at, due_at, sla_state, paused_working_seconds,
        next_check_at, clock_started_at, target_working_seconds, credited_working_seconds,
        clock_epoch)
    SELECT g, 'BENCH-' || lpad(g::text, 8, '0'), mod(g, %(services)s) + 1,
           mod(g, %(departments)s) + 1, 1000 + mod(g, %(applicants)s),
           100 + mod(g, 5) + 5 * mod(g / 5, %(staff)s / 5), 'Benchmark request ' || g,
           (ARRAY['submitted', 'in_review', 'in_approval'])[mod(g, 3) + 1],
           t.submitted, t.submitted, t.next_check + interval '1 day', 'on_track', 0,
           t.next_check, t.submitted, 10 * %(working_day)s, 0, 0
    FROM generate_series(1, %(n)s) g
    CROSS JOIN LATERAL (
        SELECT %(now)s - mod(g, 10) * interval '1 day' AS submitted,
               %(now)s + interval '1 hour'
                   + mod(g::bigint * 7919, 28 * 86400) * interval '1 second' AS next_check
    ) t
    """,
]

SEQUENCES = ("department", "service", "user", "service_request")


def load(n: int, now: datetime) -> float:
    params = {
        "n": n,
        "now": now,
        "departments": DEPARTMENTS,
        "services": SERVICES,
        "bench_service": BENCH_SERVICE_ID,
        "staff": STAFF,
        "applicants": APPLICANTS,
        "working_day": WORKING_DAY,
    }
    started = time.perf_counter()
    with psycopg.connect(BENCH_DSN) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        for statement in LOAD_SQL:
            conn.execute(statement, params)
        for table in SEQUENCES:
            conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({name}, 'id'),"
                    " (SELECT max(id) FROM {table}))"
                ).format(name=sql.Literal(f'"{table}"'), table=sql.Identifier(table))
            )
        conn.commit()
    loaded = time.perf_counter() - started
    vacuum()
    return loaded


# --------------------------------------------------------------------------- part 1


@dataclass
class SizeResult:
    n: int
    load_s: float = 0.0
    migrate_s: float = 0.0
    idle_ms: list[float] = field(default_factory=list)
    due_rows: int = 0
    due_s: float = 0.0
    due_fired: dict[str, int] = field(default_factory=dict)
    after_ms: list[float] = field(default_factory=list)
    idle_plan: str = ""
    due_plan: str = ""
    index_mb: float = 0.0
    table_mb: float = 0.0


def due_statement(engine, now: datetime) -> tuple[str, object]:
    """The due-rows query exactly as `sweep()` sends it (captured from one idle tick)."""
    from portal.extensions import db
    from sla import sweep

    with captured_statements(engine) as seen:
        sweep.sweep(now=now)
        db.session.rollback()
    for statement, parameters in seen:
        if "FROM service_request" in statement and "next_check_at <=" in statement:
            return statement, parameters
    raise RuntimeError("the sweep sent no due-rows query")


def idle_ticks(ticks: int) -> list[float]:
    from sla import clock, sweep

    times = []
    for _ in range(ticks):
        started = time.perf_counter()
        result = sweep.sweep(now=clock.now())
        times.append((time.perf_counter() - started) * 1000)
        if result.checked:
            raise RuntimeError(f"idle tick checked {result.checked} rows")
    return times


# 1 % of the rows, spread over the table; they breached 1 s to 1 h ago, having been at
# risk already, so each fires the head rung and gets its supervisor moment scheduled.
MAKE_DUE_SQL = """
    UPDATE service_request
    SET due_at = %(now)s - (mod(id * 13, 3600) + 1) * interval '1 second',
        next_check_at = %(now)s - (mod(id * 13, 3600) + 1) * interval '1 second',
        clock_started_at = %(now)s - (mod(id * 13, 3600) + 1) * interval '1 second'
                           - interval '7 days',
        target_working_seconds = 3 * 9 * 3600,
        sla_state = 'at_risk'
    WHERE mod(id, 100) = 37
"""
SAVE_SQL = """
    CREATE TABLE bench_saved AS
    SELECT id, due_at, next_check_at, clock_started_at, target_working_seconds, sla_state
    FROM service_request WHERE mod(id, 100) = 37
"""
RESTORE_SQL = [
    """
    UPDATE service_request r
    SET due_at = s.due_at, next_check_at = s.next_check_at,
        clock_started_at = s.clock_started_at,
        target_working_seconds = s.target_working_seconds, sla_state = s.sla_state
    FROM bench_saved s WHERE r.id = s.id
    """,
    "DROP TABLE bench_saved",
    "TRUNCATE escalation, notice, event",
]


def run_size(n: int, ticks: int) -> SizeResult:
    import sqlalchemy as sa

    from portal.extensions import db
    from sla import clock, deadlines

    out = SizeResult(n)
    say(f"\n== {n:,} open requests ({load_average()}) ==")
    recreate_database(BENCH_DB)
    flush_redis()  # the sweep's commits queue the notification relay (never run here)
    deadlines.invalidate()
    app = make_app()
    out.migrate_s = migrate(app)
    now = clock.now()
    out.load_s = load(n, now)
    say(f"migrations {out.migrate_s:.1f} s, load + VACUUM ANALYZE {out.load_s:.1f} s")
    with psycopg.connect(BENCH_DSN) as conn:
        out.table_mb = conn.execute(
            "SELECT pg_table_size('service_request') / 1048576.0"
        ).fetchone()[0]
        out.index_mb = conn.execute(
            "SELECT pg_relation_size('ix_service_request_next_check_at') / 1048576.0"
        ).fetchone()[0]

    with app.app_context():
        engine = db.engine
        idle_ticks(5)  # warm: pool connection, calendar, statement cache
        out.idle_ms = idle_ticks(ticks)
        say(
            f"idle tick: min {min(out.idle_ms):.2f} ms, "
            f"median {statistics.median(out.idle_ms):.2f} ms, "
            f"p95 {pct(out.idle_ms, 95):.2f} ms over {ticks} ticks"
        )
        statement, parameters = due_statement(engine, clock.now())
        out.idle_plan = explain(engine, statement, parameters)

        with engine.begin() as conn:
            conn.exec_driver_sql(SAVE_SQL)
            now = clock.now()
            out.due_rows = conn.exec_driver_sql(MAKE_DUE_SQL, {"now": now}).rowcount
        vacuum("service_request")  # measure the sweep, not the UPDATE's leftovers
        # Same statement, the new `now`: capturing it from a real tick would sweep the rows.
        parameters = {k: now if isinstance(v, datetime) else v for k, v in parameters.items()}
        out.due_plan = explain(engine, statement, parameters)

        from sla import sweep

        now = clock.now()
        started = time.perf_counter()
        # One call for the whole 1 %, past the per-tick time budget, to measure its cost.
        result = sweep.sweep(now=now, budget_seconds=float("inf"))
        out.due_s = time.perf_counter() - started
        out.due_fired = dict(result.fired)
        if result.checked != out.due_rows or result.fired.get("head") != out.due_rows:
            raise RuntimeError(
                f"1 % tick handled {result.checked} rows, fired {result.fired};"
                f" expected {out.due_rows} head escalations"
            )
        escalations = db.session.scalar(sa.text("SELECT count(*) FROM escalation"))
        notices = db.session.scalar(sa.text("SELECT count(*) FROM notice"))
        still_due = db.session.scalar(
            sa.text("SELECT count(*) FROM service_request WHERE next_check_at <= now()")
        )
        db.session.rollback()
        say(
            f"1 % tick: {out.due_rows:,} rows in {out.due_s:.2f} s "
            f"({out.due_s / out.due_rows * 1000:.2f} ms/request); fired {out.due_fired}; "
            f"{escalations} escalations, {notices} notices, {still_due} rows left due"
        )
        out.after_ms = idle_ticks(ticks)
        say(
            f"idle tick right after it (no VACUUM yet): first {out.after_ms[0]:.2f} ms, "
            f"median {statistics.median(out.after_ms):.2f} ms, "
            f"p95 {pct(out.after_ms, 95):.2f} ms"
        )

        with engine.begin() as conn:
            for statement in RESTORE_SQL:
                conn.exec_driver_sql(statement)
        vacuum("service_request")
        check = idle_ticks(5)
        say(f"restored; idle tick after restore + VACUUM: {statistics.median(check):.2f} ms")
        db.session.remove()
        engine.dispose()
    drop_database(BENCH_DB)
    flush_redis()
    return out


# --------------------------------------------------------------------------- part 2


@dataclass
class LatencyResult:
    worker_class: str = ""
    requests: int = 0
    background: int = 0
    fired_s: list[float] = field(default_factory=list)
    notice_s: list[float] = field(default_factory=list)
    visible_s: list[float] = field(default_factory=list)
    missing_escalation: int = 0
    missing_notice: int = 0
    wrong_target: int = 0
    jobs: dict[str, dict] = field(default_factory=dict)
    failed_jobs: int = 0
    idle_s: float = 0.0
    idle_queue: list[int] = field(default_factory=list)  # `sla` queue length, every second
    busy_queue_max: int = 0
    wall_s: float = 0.0


def spawn(args: list[str], env: dict[str, str], log) -> subprocess.Popen:
    # cwd=ROOT: `rq` puts "." on sys.path (--path defaults to "."), which is how
    # `rq cron sla.schedule` imports the module and the worker imports sla.jobs.
    return subprocess.Popen(  # noqa: S603 - fixed argv of venv executables, no shell
        args,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(children: dict[str, subprocess.Popen], timeout: float = 15.0) -> None:
    from portal.devserver import reap

    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # warm shutdown: finish the current job
    reap(children, timeout, say)


def collect_jobs(connection, into: dict[str, dict]) -> int:
    """Add the finished sweep jobs still in Redis (result_ttl 60 s); returns failed count."""
    from rq import Queue
    from rq.job import Job

    q = Queue("sla", connection=connection)
    ids = [i for i in q.finished_job_registry.get_job_ids() if i not in into]
    for job in Job.fetch_many(ids, connection=connection):
        if job is None or not job.started_at or not job.ended_at:
            continue
        value = job.return_value() or {}
        into[job.id] = {
            "started_at": job.started_at,
            "wait_s": (job.started_at - job.enqueued_at).total_seconds(),
            "run_s": (job.ended_at - job.started_at).total_seconds(),
            "sweep_s": value.get("seconds", 0.0),
            "checked": value.get("checked", 0),
        }
    return len(q.failed_job_registry.get_job_ids())


def check_alive(children: dict[str, subprocess.Popen]) -> None:
    for name, proc in children.items():
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited (code {proc.returncode})")


def wait_for_ticks(connection, count: int, timeout: float, children) -> None:
    from rq import Queue

    q = Queue("sla", connection=connection)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_alive(children)
        if len(q.finished_job_registry.get_job_ids()) >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"fewer than {count} sweep jobs finished within {timeout:.0f} s")


SET_DUE_SQL = """
    UPDATE service_request
    SET service_id = %(service)s, department_id = 1, assignee_id = 100,
        due_at = %(due)s, next_check_at = %(due)s,
        clock_started_at = %(due)s - interval '7 days',
        target_working_seconds = 3 * 9 * 3600, sla_state = 'at_risk'
    WHERE id = %(id)s
"""


def run_latency(
    background: int,
    count: int,
    spread_s: float,
    lead_s: float,
    max_wait_s: float,
    idle_s: float,
    worker_class: str | None,
) -> LatencyResult:
    from redis import Redis
    from rq import Queue

    from sla import clock

    out = LatencyResult(
        worker_class=worker_class or "rq.worker.Worker (default, forks a work horse per job)",
        requests=count,
        background=background,
        idle_s=idle_s,
    )
    say(
        f"\n== escalation latency: {count} deadlines over {spread_s:.0f} s, "
        f"{background:,} open requests, rq worker [{out.worker_class}] + rq cron "
        f"({load_average()}) =="
    )
    recreate_database(BENCH_DB)
    app = make_app()
    migrate(app)
    with app.app_context():
        from portal.extensions import db

        db.engine.dispose()
    load(background, clock.now())

    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    q = Queue("sla", connection=redis)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=BENCH_DSN,
        REDIS_URL=REDIS_URL,
        PYTHONUNBUFFERED="1",
        SECRET_KEY=os.environ["SECRET_KEY"],
    )
    rq = str(BIN / "rq")
    worker_args = [rq, "worker", "--url", REDIS_URL]
    if worker_class:
        worker_args += ["--worker-class", worker_class]
    logdir = Path(tempfile.mkdtemp(prefix="moldir-bench-"))
    children: dict[str, subprocess.Popen] = {}
    started = time.monotonic()
    try:
        with open(logdir / "worker.log", "wb") as wlog, open(logdir / "cron.log", "wb") as clog:
            children["rq worker"] = spawn(
                [*worker_args, "sla", "notifications", "default"], env, wlog
            )
            children["rq cron"] = spawn([rq, "cron", "--url", REDIS_URL, "sla.schedule"], env, clog)
            wait_for_ticks(redis, 3, 60, children)  # the worker has run real ticks

            # Idle: nothing is due; does the worker keep up with a tick every 2 s?
            idle_until = time.monotonic() + idle_s
            while time.monotonic() < idle_until:
                check_alive(children)
                out.idle_queue.append(q.count)
                time.sleep(1.0)
            collect_jobs(redis, out.jobs)
            say(
                f"idle {idle_s:.0f} s: sla queue length {out.idle_queue[0]} -> "
                f"{out.idle_queue[-1]} (max {max(out.idle_queue)})"
            )

            ids = list(range(7, 7 + 50 * count, 50))[:count]
            if ids[-1] > background:
                raise RuntimeError("not enough background requests for the latency set")
            now = clock.now()
            dues = {
                rid: now + timedelta(seconds=lead_s + spread_s * i / count)
                for i, rid in enumerate(ids)
            }
            with psycopg.connect(BENCH_DSN) as conn:
                with conn.cursor() as cur:
                    cur.executemany(
                        SET_DUE_SQL,
                        [
                            {"id": rid, "due": due, "service": BENCH_SERVICE_ID}
                            for rid, due in dues.items()
                        ],
                    )
                conn.commit()
            set_at = clock.now()
            say(
                f"deadlines set in {(set_at - now).total_seconds():.2f} s; "
                f"first due {lead_s:.0f} s later, last {lead_s + spread_s:.0f} s later"
            )

            # Poll for the escalations: when each became visible to another connection.
            seen: dict[int, datetime] = {}
            last_due = max(dues.values())
            with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
                while len(seen) < count:
                    rows = conn.execute(
                        "SELECT request_id FROM escalation WHERE level = 'head'"
                        " AND request_id = ANY(%s)",
                        [[rid for rid in ids if rid not in seen]],
                    ).fetchall()
                    at = datetime.now(UTC)
                    for (rid,) in rows:
                        seen.setdefault(rid, at)
                    if at > last_due + timedelta(seconds=max_wait_s):
                        break
                    check_alive(children)
                    out.busy_queue_max = max(out.busy_queue_max, q.count)
                    time.sleep(0.05)
                rows = conn.execute(
                    "SELECT request_id, due_at, fired_at, target_user_id FROM escalation"
                    " WHERE level = 'head' AND request_id = ANY(%s)",
                    [ids],
                ).fetchall()
                notices = dict(
                    conn.execute(
                        "SELECT request_id, min(created_at) FROM notice"
                        " WHERE kind = 'escalation_head' AND user_id = 1 AND request_id = ANY(%s)"
                        " GROUP BY request_id",
                        [ids],
                    ).fetchall()
                )
            for rid, due, fired, target in rows:
                if abs((due - dues[rid]).total_seconds()) > 1e-3:
                    raise RuntimeError(f"request {rid}: escalation due_at {due} != {dues[rid]}")
                out.fired_s.append((fired - due).total_seconds())
                out.visible_s.append((seen[rid] - due).total_seconds())
                out.wrong_target += target != 1
                if rid in notices:
                    out.notice_s.append((notices[rid] - due).total_seconds())
            out.missing_escalation = count - len(rows)
            out.missing_notice = count - len(notices)
            out.failed_jobs = collect_jobs(redis, out.jobs)
    finally:
        stop(children)
        out.wall_s = time.monotonic() - started
        for name in ("worker", "cron"):
            text = (logdir / f"{name}.log").read_text(errors="replace")
            if "Traceback" in text:
                say(f"--- {name} log has a traceback (kept in {logdir}) ---")
                say(text[-3000:])
        redis.flushdb()
        drop_database(BENCH_DB)
    return out


# --------------------------------------------------------------------------- report


def summarize(sizes: list[SizeResult], lats: list[LatencyResult]) -> None:
    say("\n" + "=" * 78)
    say(
        f"Machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {postgres_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, schema at {MIGRATION_HEAD}, "
        f"{load_average()} at the end"
    )
    if sizes:
        say("\nPart 1: sweep tick, PostgreSQL (times in ms unless noted)\n")
        say(
            "| open requests | load s | idle min | idle median | idle p95 | 1% rows | "
            "1% tick s | ms/request | idle after 1% (1st / median) |"
        )
        say("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in sizes:
            say(
                f"| {s.n:,} | {s.load_s:.1f} | {min(s.idle_ms):.2f} | "
                f"{statistics.median(s.idle_ms):.2f} | "
                f"{pct(s.idle_ms, 95):.2f} | {s.due_rows:,} | {s.due_s:.2f} | "
                f"{s.due_s / s.due_rows * 1000:.2f} | "
                f"{s.after_ms[0]:.2f} / {statistics.median(s.after_ms):.2f} |"
            )
        smallest, largest = sizes[0], sizes[-1]
        ratio = statistics.median(largest.idle_ms) / statistics.median(smallest.idle_ms)
        ratio95 = pct(largest.idle_ms, 95) / pct(smallest.idle_ms, 95)
        ratio_min = min(largest.idle_ms) / min(smallest.idle_ms)
        met = pct(largest.idle_ms, 95) <= IDLE_TARGET_MS
        say(
            f"\nidle tick at {largest.n:,}: median {statistics.median(largest.idle_ms):.2f} ms,"
            f" p95 {pct(largest.idle_ms, 95):.2f} ms (target <= {IDLE_TARGET_MS:.0f} ms, judged"
            " on p95):"
            f" {'MET' if met else 'NOT MET'}"
        )
        say(
            f"idle tick({largest.n:,}) / tick({smallest.n:,}) = {ratio:.2f} on medians, "
            f"{ratio95:.2f} on p95, {ratio_min:.2f} on minima (target <= "
            f"{IDLE_RATIO_TARGET:.0f}, judged on medians): "
            f"{'MET' if ratio <= IDLE_RATIO_TARGET else 'NOT MET'}"
        )
        for s in sizes:
            say(
                f"\nEXPLAIN (ANALYZE, BUFFERS), due-rows query, idle, {s.n:,} rows "
                f"(table {s.table_mb:.0f} MB, next_check_at index {s.index_mb:.1f} MB):"
            )
            say(s.idle_plan)
        say(
            f"\nEXPLAIN (ANALYZE, BUFFERS), due-rows query, first batch of the 1% tick, "
            f"{largest.n:,} rows:"
        )
        say(largest.due_plan)
    for lat in lats:
        summarize_latency(lat)


def summarize_latency(lat: LatencyResult) -> None:
    say(
        f"\nPart 2: escalation latency, {lat.requests} deadlines over 20 s, {lat.background:,}"
        f" open requests, rq cron (2 s interval) + rq worker [{lat.worker_class}],"
        " real Redis\n"
    )
    say("| measure (s after the deadline) | p50 | p95 | p99 | max | n |")
    say("|---|---:|---:|---:|---:|---:|")
    for label, values in (
        ("escalation.fired_at - due_at", lat.fired_s),
        ("notice.created_at - due_at", lat.notice_s),
        ("escalation row visible to a reader - due_at", lat.visible_s),
    ):
        say(
            f"| {label} | {pct(values, 50):.2f} | {pct(values, 95):.2f} | "
            f"{pct(values, 99):.2f} | {max(values, default=float('nan')):.2f} | "
            f"{len(values)} |"
        )
    p99 = pct(lat.fired_s, 99)
    met = p99 <= LATENCY_P99_TARGET_S and not lat.missing_escalation
    say(
        f"\nmissing escalations {lat.missing_escalation}, missing notices "
        f"{lat.missing_notice}, wrong target {lat.wrong_target}"
    )
    say(
        f"p99(fired_at - due_at) = {p99:.2f} s (target <= {LATENCY_P99_TARGET_S:.0f} s): "
        f"{'MET' if met else 'NOT MET'}; p99 of visible = {pct(lat.visible_s, 99):.2f} s"
    )
    say(
        f"idle {lat.idle_s:.0f} s before the deadlines: sla queue length "
        f"{lat.idle_queue[0]} -> {lat.idle_queue[-1]} (max {max(lat.idle_queue)}); "
        f"during the deadlines: max {lat.busy_queue_max}; failed jobs {lat.failed_jobs}"
    )
    jobs = list(lat.jobs.values())
    for label, subset in (
        ("idle", [j for j in jobs if not j["checked"]]),
        ("busy", [j for j in jobs if j["checked"]]),
    ):
        if not subset:
            continue
        runs = [j["run_s"] for j in subset]
        waits = [j["wait_s"] for j in subset]
        sweeps = [j["sweep_s"] * 1000 for j in subset]
        say(
            f"{label} sweep jobs: {len(subset)}; job run (start to end, in the worker) median "
            f"{statistics.median(runs):.2f} s, max {max(runs):.2f} s; of which sweep() median "
            f"{statistics.median(sweeps):.1f} ms, max {max(sweeps):.1f} ms; queue wait median "
            f"{statistics.median(waits):.2f} s, max {max(waits):.2f} s"
        )
    starts = sorted(j["started_at"] for j in jobs)
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    if gaps:
        say(
            f"gap between consecutive tick starts: median {statistics.median(gaps):.2f} s, "
            f"max {max(gaps):.2f} s (the tick reads the clock when it starts: a queued tick "
            "is not stale, but a non-empty `sla` queue starves `notifications` and `default`, "
            "listed after it)"
        )
    say(f"part 2 wall time {lat.wall_s:.0f} s")


def postgres_version() -> str:
    with psycopg.connect(f"{PG_SERVER}/postgres") as conn:
        return "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0].split()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated numbers of open requests (default: %(default)s)",
    )
    parser.add_argument("--ticks", type=int, default=50, help="idle ticks per size")
    parser.add_argument("--skip-latency", action="store_true", help="part 1 only")
    parser.add_argument("--latency-only", action="store_true", help="part 2 only")
    parser.add_argument("--latency-requests", type=int, default=200)
    parser.add_argument("--latency-background", type=int, default=10_000)
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=30.0,
        help="part 2: idle observation before the deadlines",
    )
    parser.add_argument(
        "--compare-simple-worker",
        action="store_true",
        help="part 2 again with `rq worker -w rq.worker.SimpleWorker` (no fork)",
    )
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    started = time.monotonic()
    results = []
    if not args.latency_only:
        for n in sorted(sizes):
            results.append(run_size(n, args.ticks))
    lats = []
    if not args.skip_latency:
        # What production runs (README), and optionally the non-forking variant.
        classes = ["portal.worker.AppWorker"] + (
            ["portal.worker.AppSimpleWorker"] if args.compare_simple_worker else []
        )
        for worker_class in classes:
            lats.append(
                run_latency(
                    args.latency_background,
                    args.latency_requests,
                    spread_s=20.0,
                    lead_s=3.0,
                    max_wait_s=90.0,
                    idle_s=args.idle_seconds,
                    worker_class=worker_class,
                )
            )
    summarize(results, lats)
    say(f"\ntotal wall time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
