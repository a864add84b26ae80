"""Benchmark of the boards on PostgreSQL: server time per page at 100k and 1M requests.

    .venv/bin/python bench/boards.py [--sizes 100000,1000000] [--runs 30] [--no-plans]

For each size N: a fresh database `moldir_boards_bench` (dropped and created), the Alembic
migrations, N requests generated in bulk with `INSERT ... SELECT generate_series(...)`
(85 % decided over the last two years, 15 % open: on track, at risk, overdue, paused),
escalations for every overdue request and a quarter of the late ones (some acknowledged,
excused or not), approval steps for a tenth; VACUUM ANALYZE. Then each page is fetched
through the Flask test client as its user would (session cookie, no network), `--runs`
times, and the server time reported (median, p95):

  * the staff queue (one employee's open requests) and the department queue;
  * the team board (a head of department);
  * the breach board (the supervisor, no filter: every breach, newest first);
  * the public board: cold (its one-minute cache emptied before each fetch) and warm;
  * trends and the 12-week cycle report, for reference.

With plans on, the EXPLAIN (ANALYZE, BUFFERS) of every statement a page sends to
`service_request`, `escalation` or `approval_step` is printed.

Only localhost is contacted: PostgreSQL on 127.0.0.1:5432 (user postgres, trust). The
bench database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-not-secret")
for _name in ("SMTP_HOST", "SMS_GATEWAY_URL"):
    os.environ.pop(_name, None)

BENCH_DB = "moldir_boards_bench"
BENCH_DSN = f"{PG_SERVER}/{BENCH_DB}"
SQLALCHEMY_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
TARGET_MS = 100.0
EXECUTION = re.compile(r"Execution Time: ([0-9.]+) ms")

DEPARTMENTS = 5
SERVICES = 20
STAFF = 50  # ids 100..149, department mod(k, 5) + 1
APPLICANTS = 2000  # ids 1000..2999
STAFF_USER = 100  # department 1
HEAD_USER = 1  # head of department 1
SUPERVISOR_USER = 6
WORKING_DAY = 9 * 3600


def say(message: str = "") -> None:
    print(message, flush=True)


def make_app():
    from portal import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": SQLALCHEMY_URL,
            "WTF_CSRF_ENABLED": False,
            "REDIS_STANDIN": True,
        }
    )


def migrate(app) -> None:
    import logging

    from flask_migrate import upgrade

    from portal.extensions import db

    with app.app_context():
        upgrade()
        db.session.remove()
    logging.getLogger("alembic").setLevel(logging.WARNING)


LOAD_SQL = [
    """
    INSERT INTO department (id, code, name_ru, name_kk, name_en)
    SELECT d, 'D' || d, 'Отдел ' || d, 'Бөлім ' || d, 'Department ' || d
    FROM generate_series(1, %(departments)s) d
    """,
    """
    INSERT INTO service (id, code, department_id, title_ru, title_kk, title_en,
                         description_ru, description_kk, description_en, target_days,
                         waiting_policy, at_risk_ratio, active, intake_days, approval_days,
                         warn_at_risk, escalate_to_head, supervisor_after_days, reply_days,
                         reminder_days, silence_is_consent)
    SELECT s, 'S' || s, mod(s - 1, %(departments)s) + 1, 'Услуга ' || s, 'Қызмет ' || s,
           'Service ' || s, '', '', '', 5 + mod(s, 11), 'pause', 0.75, true, 2, NULL,
           true, true, 3, 10, '[2, 4, 6]', false
    FROM generate_series(1, %(services)s) s
    """,
    """
    INSERT INTO "user" (id, email, password_hash, full_name, role, department_id, locale,
                        active, created_at, notify_email, notify_sms)
    SELECT d, 'head' || d || '@bench.invalid', 'x', 'Head ' || d, 'head', d, 'ru', true,
           %(now)s, false, false
    FROM generate_series(1, %(departments)s) d
    """,
    """
    INSERT INTO "user" (id, email, password_hash, full_name, role, department_id, locale,
                        active, created_at, notify_email, notify_sms)
    VALUES (6, 'supervisor@bench.invalid', 'x', 'Supervisor', 'supervisor', NULL, 'ru',
            true, %(now)s, false, false)
    """,
    """
    INSERT INTO "user" (id, email, password_hash, full_name, role, department_id, locale,
                        active, created_at, notify_email, notify_sms)
    SELECT 100 + k, 'staff' || k || '@bench.invalid', 'x', 'Staff ' || k, 'staff',
           mod(k, %(departments)s) + 1, 'ru', true, %(now)s, false, false
    FROM generate_series(0, %(staff)s - 1) k
    """,
    """
    INSERT INTO "user" (id, email, password_hash, full_name, role, department_id, locale,
                        active, created_at, notify_email, notify_sms)
    SELECT 1000 + a, 'applicant' || a || '@bench.invalid', 'x', 'Applicant ' || a,
           'applicant', NULL, 'ru', true, %(now)s, false, false
    FROM generate_series(0, %(applicants)s - 1) a
    """,
    # N requests. h is a scrambled g, so that the kinds below are not striped by id.
    # 85 % decided (h mod 100 < 85) at some moment of the last two years, 80 % of them on
    # time; the rest open, submitted over the last 20 days: 70 % on track, 15 % at risk,
    # 10 % overdue, 5 % paused waiting on the applicant.
    """
    INSERT INTO service_request (
        id, reference, service_id, department_id, applicant_id, assignee_id, description,
        state, submitted_at, updated_at, decided_at, due_at, sla_state, paused_since,
        paused_working_seconds, worked_seconds, next_check_at, clock_started_at,
        target_working_seconds, credited_working_seconds, clock_epoch, stage_started_at)
    SELECT g, 'BENCH-' || lpad(g::text, 8, '0'), mod(g, %(services)s) + 1,
           mod(g, %(departments)s) + 1, 1000 + mod(g, %(applicants)s),
           100 + mod(g, 5) + 5 * mod(g / 5, %(staff)s / 5), 'Benchmark request ' || g,
           CASE WHEN t.closed THEN (ARRAY['approved', 'approved', 'rejected',
                                          'refused_incomplete'])[mod(t.h, 4) + 1]
                WHEN t.kind = 'paused' THEN 'awaiting_documents'
                ELSE (ARRAY['submitted', 'in_review', 'in_approval'])[mod(t.h, 3) + 1] END,
           t.submitted, t.submitted, t.decided, t.due,
           CASE WHEN t.closed THEN (CASE WHEN mod(t.h / 100, 5) = 0 THEN 'missed' ELSE 'met' END)
                ELSE t.kind END,
           CASE WHEN t.kind = 'paused' THEN %(now)s - interval '1 day' END,
           mod(t.h, 3) * %(working_day)s,
           CASE WHEN t.closed THEN mod(t.h, 12) * %(working_day)s + mod(t.h, 3600) END,
           CASE WHEN NOT t.closed THEN t.due END, t.submitted, 10 * %(working_day)s, 0, 0,
           t.submitted
    FROM generate_series(1, %(n)s) g
    CROSS JOIN LATERAL (SELECT mod(g::bigint * 7919, 1000003) AS h) s
    CROSS JOIN LATERAL (
        SELECT s.h, mod(s.h, 100) < 85 AS closed,
               CASE WHEN mod(s.h, 100) < 85 THEN NULL
                    WHEN mod(s.h, 20) < 14 THEN 'on_track'
                    WHEN mod(s.h, 20) < 17 THEN 'at_risk'
                    WHEN mod(s.h, 20) < 19 THEN 'breached'
                    ELSE 'paused' END AS kind
    ) t0
    CROSS JOIN LATERAL (
        SELECT t0.h, t0.closed, t0.kind,
               CASE WHEN t0.closed
                    THEN %(now)s - mod(t0.h, 730 * 24) * interval '1 hour'
                    END AS decided,
               CASE WHEN t0.closed
                    THEN %(now)s - mod(t0.h, 730 * 24) * interval '1 hour'
                         - (1 + mod(t0.h, 15)) * interval '1 day'
                    ELSE %(now)s - mod(t0.h, 20) * interval '1 day' END AS submitted,
               CASE WHEN t0.kind = 'breached'
                    THEN %(now)s - (1 + mod(t0.h, 200)) * interval '1 hour'
                    WHEN t0.closed
                    THEN %(now)s - mod(t0.h, 730 * 24) * interval '1 hour'
                         + (CASE WHEN mod(t0.h / 100, 5) = 0 THEN -1 ELSE 1 END)
                           * interval '1 day'
                    ELSE %(now)s + (1 + mod(t0.h, 400)) * interval '1 hour' END AS due
    ) t
    """,
    # The head rung for every overdue request and a quarter of the late ones. Those older
    # than two weeks were acknowledged (a third excused); half the recent ones wait.
    """
    INSERT INTO escalation (request_id, level, clock_epoch, target_user_id, due_at, fired_at,
                            acknowledged_by_id, acknowledged_at, reason_code, note, excused)
    SELECT r.id, 'head', 0, r.department_id, r.due_at, r.due_at,
           CASE WHEN t.done THEN 6 END,
           CASE WHEN t.done THEN r.due_at + interval '1 day' END,
           CASE WHEN t.done THEN 'workload' END, NULL,
           CASE WHEN t.done THEN mod(r.id, 3) = 0 END
    FROM service_request r
    CROSS JOIN LATERAL (
        SELECT r.due_at < %(now)s - interval '14 days' OR mod(r.id, 2) = 0 AS done
    ) t
    WHERE r.sla_state = 'breached' OR (r.sla_state = 'missed' AND mod(r.id, 4) = 0)
    """,
    # One answered sign-off for a tenth of the decided requests.
    """
    INSERT INTO approval_step (request_id, round, position, approver_role, requested_at,
                               due_at, answered_at, outcome)
    SELECT r.id, 1, 1, 'head', r.decided_at - interval '3 days',
           r.decided_at - interval '1 day', r.decided_at - interval '1 day' * (mod(r.id, 3)),
           'approved'
    FROM service_request r
    WHERE r.decided_at IS NOT NULL AND mod(r.id, 10) = 0
    """,
]

SEQUENCES = ("department", "service", "user", "service_request", "escalation", "approval_step")


def load(n: int, now: datetime) -> float:
    params = {
        "n": n,
        "now": now,
        "departments": DEPARTMENTS,
        "services": SERVICES,
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
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"  # noqa: S608
                f' (SELECT coalesce(max(id), 1) FROM "{table}"))'
            )
        conn.commit()
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def table_counts() -> dict[str, int]:
    with psycopg.connect(BENCH_DSN) as conn:
        return {
            "open": conn.execute(
                "SELECT count(*) FROM service_request WHERE decided_at IS NULL"
            ).fetchone()[0],
            "escalations": conn.execute("SELECT count(*) FROM escalation").fetchone()[0],
            "approval_steps": conn.execute("SELECT count(*) FROM approval_step").fetchone()[0],
        }


PAGES = [
    ("staff queue (one employee)", "/staff/queue", STAFF_USER, None),
    ("department queue", "/staff/department", STAFF_USER, None),
    ("team board (head)", "/staff/team", HEAD_USER, None),
    ("breach board (supervisor)", "/supervisor/breaches", SUPERVISOR_USER, None),
    ("public board, cold", "/board", None, "cold"),
    ("public board, warm (cached)", "/board", None, None),
    ("trends (supervisor)", "/supervisor/trends", SUPERVISOR_USER, None),
    ("cycle report (supervisor)", "/supervisor/cycles", SUPERVISOR_USER, None),
]
INTERESTING = ("service_request", "escalation", "approval_step")


def client_as(app, user_id: int | None):
    client = app.test_client()
    if user_id is not None:
        with client.session_transaction() as session:
            session["_user_id"] = str(user_id)
            session["_fresh"] = True
    return client


def measure(app, runs: int, plans: bool) -> tuple[dict, dict, dict]:
    """Per page: wall times, the portal process's CPU times (ms), and the EXPLAINs."""
    from portal.extensions import db

    timings: dict[str, list[float]] = {}
    cpu_times: dict[str, list[float]] = {}
    page_plans: dict[str, list[str]] = {}
    # No app context is held across requests: each gets its own, as in production.
    with app.app_context():
        engine = db.engine
    for label, path, user_id, mode in PAGES:
        client = client_as(app, user_id)
        response = client.get(path)  # warm up: templates, calendar, connection pool
        assert response.status_code == 200, (label, response.status_code)
        times, cpu = [], []
        for _ in range(runs):
            if mode == "cold":
                app.extensions.pop("public_board", None)
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200
        timings[label] = times
        cpu_times[label] = cpu
        if plans:
            if mode == "cold":
                app.extensions.pop("public_board", None)
            elif label.startswith("public board"):
                continue  # warm: no statement
            with captured_statements(engine) as seen:
                client.get(path)
            page_plans[label] = [
                f"{statement}\n{explain(engine, statement, parameters)}"
                for statement, parameters in seen
                if any(f"FROM {t}" in statement for t in INTERESTING)
            ]
    return timings, cpu_times, page_plans


def run_size(n: int, runs: int, plans: bool) -> dict:
    say(f"\n=== {n:,} requests ===")
    recreate_database(BENCH_DB)
    app = make_app()
    migrate(app)
    now = datetime.now(UTC)
    seconds = load(n, now)
    counts = table_counts()
    say(
        f"loaded in {seconds:.1f} s: {counts['open']:,} open, "
        f"{counts['escalations']:,} escalations, {counts['approval_steps']:,} approval steps"
    )
    load_before = os.getloadavg()[0]
    timings, cpu_times, page_plans = measure(app, runs, plans)
    db_ms = {
        label: sum(float(m) for m in EXECUTION.findall("\n".join(explained)))
        for label, explained in page_plans.items()
    }
    say(f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    for label, times in timings.items():
        median = statistics.median(times)
        say(
            f"{label:30s} wall median {median:7.1f} ms  p95 {pct(times, 95):7.1f} ms"
            f"  | portal CPU median {statistics.median(cpu_times[label]):6.1f} ms"
            f"  | SQL (EXPLAIN ANALYZE) {db_ms.get(label, 0.0):6.1f} ms"
        )
    if plans:
        for label, explained in page_plans.items():
            say(f"\n--- plans: {label} ---")
            for text in explained:
                say(text)
                say()
    with app.app_context():
        from portal.extensions import db

        db.engine.dispose()
    return {
        "n": n,
        "load_s": seconds,
        "counts": counts,
        "timings": timings,
        "cpu": cpu_times,
        "db_ms": db_ms,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-plans", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database of the last size")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results = []
    try:
        for n in sizes:
            results.append(run_size(n, args.runs, not args.no_plans))
    finally:
        if not args.keep:
            drop_database(BENCH_DB)
    say("\n=== summary per page (ms): wall median / p95; portal CPU median; SQL time ===")
    labels = [p[0] for p in PAGES]
    say("| page | " + " | ".join(f"{r['n']:,} requests" for r in results) + " |")
    say("| --- | " + " | ".join("---" for _ in results) + " |")
    for label in labels:
        cells = [
            f"{statistics.median(r['timings'][label]):.1f} / {pct(r['timings'][label], 95):.1f}"
            f"; {statistics.median(r['cpu'][label]):.1f}; {r['db_ms'].get(label, 0.0):.1f}"
            for r in results
        ]
        say(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
