"""Benchmark of the audit chain on PostgreSQL: backfill, `flask audit verify`, record().

    .venv/bin/python bench/audit.py [--requests 25000] [--events-per-request 8]
                                    [--files 2000] [--file-kb 64] [--database NAME]

A fresh database (`moldir_h2_bench` unless --database; dropped and created), the Alembic
migrations, then requests with their events generated in bulk (unchained, as before
migration 0010) and `--files` documents with real files in a temporary upload folder.
Timed:

  * the migrations' backfills: 0010_audit_chain chaining the events, 0013_audit_seal
    sealing each request's state, assignee and due_at to its head;
  * `flask audit verify` through the CLI runner, over every chain, row seal and file, with
    `--no-files` (chains and seals only), and for one request;
  * the hashing record() adds per event (`plain_payload` + `event_hash`, and the seal the
    flush adds), alone, and record() + commit of one event with and without it.

Only localhost is contacted: PostgreSQL on 127.0.0.1:5432 (user postgres, trust). The
bench database is dropped at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import secrets
import statistics
import sys
import tempfile
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from common import PG_SERVER, drop_database, pct, recreate_database  # bench/ on sys.path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-not-secret")
for _name in ("SMTP_HOST", "SMS_GATEWAY_URL"):
    os.environ.pop(_name, None)

BENCH_DB = "moldir_h2_bench"
BENCH_DSN = f"{PG_SERVER}/{BENCH_DB}"
SQLALCHEMY_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
MIGRATION = ROOT / "migrations" / "versions" / "0010_audit_chain.py"
SEAL_MIGRATION = ROOT / "migrations" / "versions" / "0013_audit_seal.py"
UPLOADS = Path(tempfile.mkdtemp(prefix="moldir-audit-bench-"))
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
# What a typical event carries (the submission's payload).
PAYLOAD = {"service": "ENT-01", "documents": 3, "carried_from": "SHY-2026-000017", "carried": 1}

LOAD_SQL = [
    "INSERT INTO department (id, code, name_ru, name_kk, name_en) VALUES (1, 'D1', 'О', 'Б', 'D')",
    """
    INSERT INTO service (id, code, department_id, title_ru, title_kk, title_en,
                         description_ru, description_kk, description_en, target_days,
                         waiting_policy, at_risk_ratio, active, intake_days, approval_days,
                         warn_at_risk, escalate_to_head, supervisor_after_days, reply_days,
                         reminder_days, silence_is_consent)
    VALUES (1, 'S1', 1, 'У', 'Қ', 'S', '', '', '', 5, 'pause', 0.75, true, 2, NULL,
            true, true, 3, 10, '[2, 4, 6]', false)
    """,
    """
    INSERT INTO "user" (id, email, password_hash, full_name, role, department_id, locale,
                        active, created_at, notify_email, notify_sms)
    VALUES (1, 'applicant@bench.invalid', 'x', 'Applicant', 'applicant', NULL, 'ru', true,
            %(now)s, false, false),
           (2, 'staff@bench.invalid', 'x', 'Staff', 'staff', 1, 'ru', true,
            %(now)s, false, false)
    """,
    """
    INSERT INTO service_request (
        id, reference, service_id, department_id, applicant_id, assignee_id, description,
        state, submitted_at, updated_at, sla_state, paused_working_seconds,
        target_working_seconds, credited_working_seconds, clock_epoch, stage_started_at)
    SELECT g, 'BENCH-' || lpad(g::text, 8, '0'), 1, 1, 1, 2, 'Benchmark request ' || g,
           'in_review', %(now)s - g * interval '1 minute', %(now)s, 'on_track', 0, 0, 0, 0,
           %(now)s
    FROM generate_series(1, %(requests)s) g
    """,
    # Events interleaved across requests (k outer), as a busy office writes them; times with
    # microseconds, payloads with unicode.
    """
    INSERT INTO event (request_id, actor_id, kind, from_state, to_state, payload, created_at)
    SELECT g, CASE WHEN mod(k, 2) = 0 THEN 2 END,
           (ARRAY['submitted', 'assigned', 'clock_started', 'accept_documents',
                  'request_documents', 'provide_documents', 'sla_at_risk', 'approve'])
               [mod(k, 8) + 1],
           CASE WHEN k > 0 THEN 'in_review' END, 'in_review',
           json_build_object('service', 'ENT-01', 'documents', k, 'reason', 'Жарғы жоқ'),
           %(now)s - g * interval '1 minute' + k * interval '1.000123 second'
    FROM generate_series(0, %(per_request)s - 1) k
    CROSS JOIN generate_series(1, %(requests)s) g
    ORDER BY k, g
    """,
]


def say(message: str = "") -> None:
    print(message, flush=True)


def make_app():
    from portal import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": SQLALCHEMY_URL,
            "UPLOAD_FOLDER": str(UPLOADS),
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


def load(requests: int, per_request: int) -> float:
    params = {"now": NOW, "requests": requests, "per_request": per_request}
    started = time.perf_counter()
    with psycopg.connect(BENCH_DSN) as conn:
        conn.execute("SET synchronous_commit = off")
        for statement in LOAD_SQL:
            conn.execute(statement, params)
        for table in ("department", "service", "user", "service_request", "event"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"  # noqa: S608
                f' (SELECT coalesce(max(id), 1) FROM "{table}"))'
            )
        conn.commit()
    return time.perf_counter() - started


def load_files(files: int, kilobytes: int) -> float:
    """`files` documents of `kilobytes` each on disk, one for each of the first requests."""
    started = time.perf_counter()
    rows = []
    for n in range(1, files + 1):
        body = secrets.token_bytes(kilobytes * 1024)
        name = secrets.token_hex(16)
        (UPLOADS / name).write_bytes(body)
        sha = hashlib.sha256(body).hexdigest()
        rows.append((n, f"charter-{n}.pdf", name, len(body), sha, NOW))
    with psycopg.connect(BENCH_DSN) as conn:
        conn.execute(
            "INSERT INTO document_type (id, code, name_ru, name_kk, name_en) "
            "VALUES (1, 'charter', 'Устав', 'Жарғы', 'Charter')"
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO document (request_id, document_type_id, original_name, stored_name,"
                " content_type, size, sha256, uploaded_by_id, uploaded_at)"
                " VALUES (%s, 1, %s, %s, 'application/pdf', %s, %s, 1, %s)",
                rows,
            )
        conn.commit()
    return time.perf_counter() - started


def vacuum() -> None:
    with psycopg.connect(BENCH_DSN, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _migration(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def backfill(app) -> float:
    from portal.extensions import db

    module = _migration(MIGRATION)
    with app.app_context():
        started = time.perf_counter()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE event SET seq = NULL, prev_hash = NULL, hash = NULL")
            connection.exec_driver_sql(
                "UPDATE service_request SET audit_seq = 0, audit_head = NULL"
            )
        cleared = time.perf_counter()
        with db.engine.begin() as connection:
            module.backfill(connection)
        return time.perf_counter() - cleared, cleared - started


def seal_backfill(app) -> float:
    from portal.extensions import db

    module = _migration(SEAL_MIGRATION)
    with app.app_context():
        started = time.perf_counter()
        with db.engine.begin() as connection:
            module.backfill(connection)
        return time.perf_counter() - started


def verify(app, args: list[str], runs: int) -> tuple[list[float], str]:
    runner = app.test_cli_runner()
    seconds, output = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        result = runner.invoke(args=["audit", "verify", *args])
        seconds.append(time.perf_counter() - started)
        output = result.output.strip()
        assert result.exit_code == 0, output
    return seconds, output


def files_alone() -> float:
    """Seconds to read and hash every stored file once, as verify does."""
    from portal.services import storage

    started = time.perf_counter()
    for path in UPLOADS.iterdir():
        with open(path, "rb") as file:
            storage.sha256_of(file)
    return time.perf_counter() - started


def row_check_alone(number: int = 20000) -> float:
    """Microseconds per request for checking its row against its seal in verify."""
    from portal import audit

    sealed = audit.seal(123456, 7, "ab" * 32, "in_review", 42, NOW)
    head = audit._Head(123456, "BENCH-1", 7, "ab" * 32, sealed, "in_review", 42, NOW)
    assert audit.check_row(head) is None
    return min(timeit.repeat(lambda: audit.check_row(head), number=number, repeat=5)) / number * 1e6


def hashing_alone(number: int = 20000) -> tuple[float, float]:
    """Microseconds per event for what record() adds (plain_payload and event_hash), and
    for the seal its transaction's flush adds."""
    from portal import audit

    def once():
        payload = audit.plain_payload(PAYLOAD)
        audit.event_hash("ab" * 32, 123456, 7, "submitted", 42, None, "submitted", payload, NOW)

    def sealed():
        audit.seal(123456, 7, "ab" * 32, "in_review", 42, NOW)

    per_event = min(timeit.repeat(once, number=number, repeat=5)) / number * 1e6
    per_seal = min(timeit.repeat(sealed, number=number, repeat=5)) / number * 1e6
    return per_event, per_seal


def record_and_commit(app, events: int) -> tuple[list[float], list[float]]:
    """Milliseconds per record() + commit of one event, chained (on request 1) and with the
    hashing stubbed out (on request 2, whose chain that breaks), interleaved to share the
    noise of a busy machine."""
    import sqlalchemy as sa

    from portal import audit, lifecycle
    from portal.extensions import db
    from portal.models import ServiceRequest

    real_hash, real_plain, real_seal = audit.event_hash, audit.plain_payload, audit.seal
    chained, stubbed = [], []
    with app.app_context():
        for i in range(events * 2):
            stub = i % 2 == 1
            if stub:
                audit.event_hash = lambda *a: "0" * 64
                audit.plain_payload = lambda payload: payload
                audit.seal = lambda *a: None
            try:
                started = time.perf_counter()
                request = db.session.scalar(
                    sa.select(ServiceRequest)
                    .where(ServiceRequest.id == (2 if stub else 1))
                    .with_for_update()
                )
                lifecycle.record(request, "note", None, dict(PAYLOAD))
                db.session.commit()
                (stubbed if stub else chained).append((time.perf_counter() - started) * 1000)
            finally:
                audit.event_hash, audit.plain_payload = real_hash, real_plain
                audit.seal = real_seal
        db.session.remove()
    return chained, stubbed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=25000)
    parser.add_argument("--events-per-request", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=2000, help="documents with a file")
    parser.add_argument("--file-kb", type=int, default=64)
    parser.add_argument("--database", default=BENCH_DB, help="scratch database (dropped)")
    options = parser.parse_args()
    total = options.requests * options.events_per_request
    _use_database(options.database)

    recreate_database(BENCH_DB)
    try:
        app = make_app()
        migrate(app)
        say(f"loading {options.requests} requests, {total} events ...")
        say(f"  loaded in {load(options.requests, options.events_per_request):.1f} s")
        megabytes = options.files * options.file_kb / 1024
        seconds = load_files(options.files, options.file_kb)
        say(
            f"  {options.files} files of {options.file_kb} KB ({megabytes:.0f} MB): {seconds:.1f} s"
        )
        vacuum()

        chained, cleared = backfill(app)
        say(
            f"migration backfill: {chained:.1f} s for {total} events "
            f"({total / chained:,.0f} events/s; clearing the columns first took {cleared:.1f} s)"
        )
        sealing = seal_backfill(app)
        say(
            f"seal backfill (0012): {sealing:.1f} s for {options.requests} requests "
            f"({options.requests / sealing:,.0f} requests/s)"
        )
        vacuum()

        # Interleaved, so that both share the noise of a busy machine.
        chains_only, with_files, outputs = [], [], {}
        for _ in range(options.runs):
            for args, times in ((["--no-files"], chains_only), ([], with_files)):
                seconds, outputs[bool(args)] = verify(app, args, 1)
                times.extend(seconds)
        best = min(chains_only)
        say(f"flask audit verify --no-files (chains and seals): {outputs[True]}")
        say(
            f"  best {best:.2f} s, median {statistics.median(chains_only):.2f} s of "
            f"{options.runs} ({total / best:,.0f} events/s)"
        )
        for batch in ("100", "5000"):
            seconds, _ = verify(app, ["--no-files", "--batch", batch], 1)
            say(f"  with --batch {batch}: {seconds[0]:.2f} s")
        say(f"flask audit verify (files too): {outputs[False]}")
        say(
            f"  best {min(with_files):.2f} s, median {statistics.median(with_files):.2f} s of "
            f"{options.runs}; hashing the {megabytes:.0f} MB of files alone: "
            f"{files_alone():.2f} s"
        )
        seconds, output = verify(app, ["--request", "BENCH-00012345"], 20)
        say(f"flask audit verify --request: median {statistics.median(seconds) * 1000:.1f} ms")

        per_event, per_seal = hashing_alone()
        say(f"hashing per event (plain_payload + event_hash): {per_event:.1f} µs")
        say(f"sealing per transaction with an event (seal): {per_seal:.1f} µs")
        say(f"checking one request row against its seal in verify: {row_check_alone():.1f} µs")
        chained, stubbed = record_and_commit(app, 300)
        say(
            "record() + commit of one event, locked request: "
            f"chained median {statistics.median(chained):.2f} ms (p95 {pct(chained, 95):.2f}), "
            f"hashing stubbed median {statistics.median(stubbed):.2f} ms "
            f"(p95 {pct(stubbed, 95):.2f})"
        )
        seconds, output = verify(app, ["--request", "BENCH-00000001"], 1)
        say(f"  the request written to is still intact: {output}")
    finally:
        drop_database(BENCH_DB)
        for path in UPLOADS.iterdir():
            path.unlink()
        UPLOADS.rmdir()
    return 0


def _use_database(name: str) -> None:
    global BENCH_DB, BENCH_DSN, SQLALCHEMY_URL
    BENCH_DB = name
    BENCH_DSN = f"{PG_SERVER}/{name}"
    SQLALCHEMY_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


if __name__ == "__main__":
    sys.exit(main())
