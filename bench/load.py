"""Load benchmark: the whole portal as deployed, driven by locust, against a bare Flask page.

    .venv/bin/python bench/load.py [--users 50] [--duration 5m] [--spawn-rate 10]
                                   [--workers 2*cores+1] [--worker-class sync]
                                   [--ceiling-seconds 15] [--no-ceiling] [--keep]

Needs the `bench` extra (`pip install -e '.[test,bench]'`), PostgreSQL on 127.0.0.1:5432
(user postgres, trust) and Redis on 127.0.0.1:6379. Everything else it makes and removes:

1. a scratch database `moldir_load_bench`: migrations, the demo seed (`flask seed`), then
   bench accounts (applicants, extra staff and supervisors, password as the demo's) and
   requests played through the request services over the last working days, so that every
   employee's queue holds about `--queue-size` open requests in every state;
2. Redis database 9 for queues, cron and rate-limit counters (FLUSHDB of that one only);
3. gunicorn serving `wsgi:app`, two RQ workers (`portal.worker.AppWorker`, with RQ's
   scheduler) and `rq cron sla.schedule`, as README's "Running in production" has them;
   gunicorn serving bench/bare.py with the same worker settings, on another port;
4. the mix: locust headless (bench/locustfile.py), `--users` people with 1-3 s of think
   time: applicants, staff, heads, supervisors and anonymous visitors (weights 25:13:3:3:6);
5. the ceiling: for the bare page and for each of our page types in turn, `--users` users
   with no think time for `--ceiling-seconds`, counted once all are logged in. Our page's
   requests/s divided by the bare page's is the ratio reported. The bare page is measured
   first and last, and the mean of the two is the divisor.

Then it prints the tables, keeps locust's CSVs and the servers' logs in a temporary
directory (printed), stops every process it started and drops the database (unless --keep).

gunicorn's sync worker is the default: the portal's pages are CPU-bound (ORM, Jinja, Babel)
on a 2-core box where PostgreSQL, Redis, the RQ workers and locust share the cores, so
threads inside a worker would mostly queue for the GIL; 2*cores+1 processes already cover
the waits on PostgreSQL. It is also what README's production command runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import PG_SERVER, drop_database, pct, recreate_database  # bench/, on sys.path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

BENCH_DB = "moldir_load_bench"
REDIS_DB = 9  # of its own: others share this Redis
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
DATABASE_URL = f"{PG_SERVER}/{BENCH_DB}"
QUEUES = ("sla", "notifications", "default")
RQ_WORKERS = 2
USER_CLASSES = ("ApplicantUser", "StaffUser", "HeadUser", "SupervisorUser", "AnonymousUser")
# The ceiling phase: each page type of the mix that can be fetched in a loop.
CEILING_PAGES = (
    "catalogue",
    "board",
    "my_requests",
    "request_status",
    "apply_form",
    "submit",
    "staff_queue",
    "staff_request",
    "department_queue",
    "team_board",
    "breaches",
    "trends",
    "supervisor_requests",
)
BENCH_APPLICANTS = 60
EXTRA_STAFF_PER_DEPARTMENT = 2
EXTRA_SUPERVISORS = 3


def say(message: str = "") -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seconds(text: str) -> int:
    """'5m', '30s', '1h30m' or plain seconds, as locust's -t reads them."""
    if text.isdigit():
        return int(text)
    parts = re.findall(r"(\d+)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def bench_environment(tmp: Path, port: int) -> dict[str, str]:
    """What every process of the run sees: the scratch database, Redis db 9, no real mail."""
    env = dict(os.environ)
    for name in ("SMTP_HOST", "SMS_GATEWAY_URL", "MOLDIR_CLOCK", "FLASK_DEBUG"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="load-bench-not-secret",  # noqa: S106 - a scratch database's key
        UPLOAD_FOLDER=str(tmp / "uploads"),
        BASE_URL=f"http://127.0.0.1:{port}",
        # Plain http on localhost: a Secure cookie would never come back.
        SESSION_COOKIE_SECURE="0",
        # Each simulated person logs in once, but 50 of them come from one address within
        # seconds (and the ceiling phases log in again): far above the per-IP default.
        LOGIN_RATE_LIMIT_ACCOUNT="1000 per minute",
        LOGIN_RATE_LIMIT_IP="10000 per minute",
        REGISTER_RATE_LIMIT_IP="10000 per minute",
        BARE_DATABASE_URL=DATABASE_URL.replace("postgresql://", "postgresql+psycopg://"),
        PYTHONUNBUFFERED="1",
    )
    return env


# --- the data ---------------------------------------------------------------------------


def flask_command(step: str, env: dict[str, str], log: Path) -> None:
    with open(log, "a") as out:
        subprocess.run(  # noqa: S603 - fixed argv of venv executables, no shell
            [str(BIN / "flask"), "--app", "wsgi", *step.split()],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )


def seed_bench(queue_size: int, rng: random.Random) -> dict:
    """Bench accounts, and requests played through the services so that queues are full.

    Runs in this process with the bench environment already in os.environ.
    """
    import sqlalchemy as sa

    from portal import create_app, identifiers, seed
    from portal.extensions import db
    from portal.models import Business, Department, Role, Service, ServiceRequest, User
    from portal.services import accounts
    from sla import clock

    app = create_app()
    # The sweeps that catch the history up log every tick.
    for name in ("sla", "notifications", "portal"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with app.app_context():
        password_hash = accounts.hash_password(seed.PASSWORD)
        departments = db.session.scalars(sa.select(Department).order_by(Department.id)).all()
        for department in departments:
            for i in range(EXTRA_STAFF_PER_DEPARTMENT):
                db.session.add(
                    User(
                        email=f"load.staff{i + 1}.{department.code.lower()}@moldir.kz",
                        password_hash=password_hash,
                        full_name=f"Load Staff {department.code} {i + 1}",
                        role=Role.STAFF,
                        department=department,
                    )
                )
        for i in range(EXTRA_SUPERVISORS):
            db.session.add(
                User(
                    email=f"load.deputy{i + 1}@moldir.kz",
                    password_hash=password_hash,
                    full_name=f"Load Deputy {i + 1}",
                    role=Role.SUPERVISOR,
                )
            )
        applicants = []
        serial = 0
        while len(applicants) < BENCH_APPLICANTS:
            serial += 1
            first11 = f"9001013{serial:04d}"  # born 1 January 1990, a man, 20th century
            if identifiers.check_digit(first11) is None:
                continue
            number = len(applicants) + 1
            name = f"Load Applicant {number}"
            business = Business(
                kind="citizen", identifier=identifiers.with_check_digit(first11), name=name
            )
            applicants.append(
                User(
                    email=f"load.applicant{number}@mail.kz",
                    password_hash=password_hash,
                    full_name=name,
                    role=Role.APPLICANT,
                    business=business,
                )
            )
        db.session.add_all(applicants)
        db.session.commit()

        staff = db.session.scalars(
            sa.select(User).where(User.role == Role.STAFF).order_by(User.id)
        ).all()
        heads = db.session.scalars(
            sa.select(User).where(User.role == Role.HEAD).order_by(User.id)
        ).all()
        people = {
            "heads": {h.department.code: h for h in heads},
            "staff": {d.code: [u for u in staff if u.department_id == d.id] for d in departments},
        }
        stories = plan_requests(rng, queue_size * len(staff), applicants, people, seed)
        started = time.monotonic()
        seed.play(stories, rng, people)
        seed.catch_up_sla(clock.now())
        counts = dict(
            db.session.execute(
                sa.select(ServiceRequest.state, sa.func.count()).group_by(ServiceRequest.state)
            ).all()
        )
        open_counts = [
            n
            for (n,) in db.session.execute(
                sa.select(sa.func.count())
                .select_from(ServiceRequest)
                .where(
                    ServiceRequest.decided_at.is_(None),
                    ServiceRequest.assignee_id.in_([u.id for u in staff]),
                )
                .group_by(ServiceRequest.assignee_id)
            ).all()
        ]
        services = db.session.scalars(
            sa.select(Service.code).where(Service.active.is_(True)).order_by(Service.id)
        ).all()
        service_ids = db.session.scalars(sa.select(Service.id).order_by(Service.id)).all()
        supervisors = db.session.scalars(
            sa.select(User.email).where(User.role == Role.SUPERVISOR).order_by(User.id)
        ).all()
        accounts = {
            "password": seed.PASSWORD,
            "applicant": [u.email for u in applicants],
            "staff": [u.email for u in staff],
            "head": [u.email for u in heads],
            "supervisor": list(supervisors),
            "services": list(services),
            "bare_ids": list(service_ids),
        }
        db.session.remove()
    say(
        f"  requests played through the services in {time.monotonic() - started:.0f} s;"
        f" by state: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}"
    )
    say(
        f"  open requests per employee ({len(staff)} staff): min {min(open_counts)},"
        f" median {sorted(open_counts)[len(open_counts) // 2]}, max {max(open_counts)}"
    )
    return accounts


# (share, steps as (action, working days after the previous one), age in working days)
FATES = (
    (0.35, (), (0, 3)),
    (0.25, (("accept", 1),), (1, 6)),
    (0.15, (("accept", 1), ("ask", 1)), (2, 7)),
    (0.10, (("accept", 1), ("approval", 1)), (2, 8)),
    (0.15, (("accept", 1), ("approval", 1), ("approve", 1)), (3, 20)),
)


def plan_requests(rng: random.Random, open_wanted: int, applicants, people, seed) -> list:
    """Stories (as portal/seed.py plays them) for about `open_wanted` open requests."""
    import sqlalchemy as sa

    from portal.extensions import db
    from portal.models import Service
    from sla import clock

    now = clock.now()
    days = seed.recent_working_days(now, 22)
    moments = seed.Moments(rng, now, days)
    services = db.session.scalars(sa.select(Service).where(Service.active.is_(True))).all()
    # Departments get work in proportion to their people, so queues come out alike.
    weights = [
        len(people["staff"][s.department.code])
        / len([x for x in services if x.department_id == s.department_id])
        for s in services
    ]
    open_share = sum(share for share, steps, _ in FATES if ("approve", 1) not in steps)
    stories = []
    for number in range(round(open_wanted / open_share)):
        service = rng.choices(services, weights)[0]
        _, steps, (low, high) = rng.choices(FATES, [f[0] for f in FATES])[0]
        span = sum(gap for _, gap in steps)
        age = rng.randint(max(low, span), max(high, span))
        at = moments.at(age)
        story = seed.Story(
            service,
            applicants[number % len(applicants)],
            f"Load bench request {number + 1}: {service.code}",
            [seed.Step(at, "submit")],
        )
        for action, gap in steps:
            age -= gap
            at = moments.at(age, after=at)
            detail = {}
            if action == "ask":
                document = rng.choice(service.required_documents)
                detail["items"] = [(document.code, "Скан нечитаем, загрузите документ целиком.")]
            story.steps.append(seed.Step(at, action, detail))
        stories.append(story)
    return stories


# --- the processes ----------------------------------------------------------------------


def start(name: str, argv: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen:
    # A session of its own, so that teardown can kill the group (work horses, gunicorn
    # workers) and nothing else.
    log = open(logs / f"{name}.log", "w")  # the child keeps it open
    return subprocess.Popen(  # noqa: S603 - fixed argv of venv executables, no shell
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def gunicorn(app: str, port: int, args, extra: list[str]) -> list[str]:
    argv = [str(BIN / "gunicorn"), *extra, "-w", str(args.workers), "-k", args.worker_class]
    if args.worker_class == "gthread":
        argv += ["--threads", str(args.threads)]
    return [*argv, "-b", f"127.0.0.1:{port}", "--timeout", "60", app]


def wait_ready(url: str, children: dict, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in children.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited (code {proc.returncode}); see its log")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - localhost
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(children: dict[str, subprocess.Popen]) -> None:
    from portal.devserver import reap

    for proc in children.values():
        if proc.poll() is None:
            # gunicorn and rq both stop gracefully on SIGTERM; reap kills the rest.
            proc.send_signal(signal.SIGTERM)
    reap(children, 20, lambda message: say(f"  {message}"))


def failed_jobs() -> dict[str, int]:
    """RQ's failed-job registries per queue: a job that raised is an error of the run too."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(REDIS_URL)
    return {q: Queue(q, connection=connection).failed_job_registry.count for q in QUEUES}


def log_errors(logs: Path) -> dict[str, int]:
    """Lines that tell of an error, per server log."""
    marks = ("Traceback", '"level": "ERROR"', "[ERROR]", "[CRITICAL]", "WORKER TIMEOUT")
    found = {}
    for log in sorted(logs.glob("*.log")):
        text = log.read_text(errors="replace")
        found[log.stem] = sum(text.count(mark) for mark in marks)
    return found


def flush_redis() -> None:
    from redis import Redis

    Redis.from_url(REDIS_URL).flushdb()  # this database only: others share the server


# --- locust -----------------------------------------------------------------------------


def locust(
    classes, host: str, users: int, rate: float, duration: int, csv_prefix: Path, env
) -> int:
    argv = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--only-summary",
        "-u",
        str(users),
        "-r",
        str(rate),
        "-t",
        f"{duration}s",
        "--host",
        host,
        "--csv",
        str(csv_prefix),
        "--loglevel",
        "WARNING",
        "--logfile",
        f"{csv_prefix}.log",
        *classes,
    ]
    with open(f"{csv_prefix}.out", "w") as out:
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        ).returncode


def read_stats(csv_prefix: Path) -> list[dict]:
    with open(f"{csv_prefix}_stats.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def read_failures(csv_prefix: Path) -> list[dict]:
    path = Path(f"{csv_prefix}_failures.csv")
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def ceiling(page: str, host: str, args, tmp: Path, env: dict[str, str]) -> dict:
    out = tmp / f"ceiling_{page}.json"
    env = {
        **env,
        "MOLDIR_BENCH_CEILING": page,
        "MOLDIR_BENCH_CEILING_OUT": str(out),
        "MOLDIR_BENCH_CEILING_SECONDS": str(args.ceiling_seconds),
    }
    # The window opens once everyone is logged in (scrypt, ~0.1 s of CPU each), and the
    # run stops itself when it closes; -t is only a cap.
    duration = args.ceiling_seconds + 120
    locust(["CeilingUser"], host, args.users, args.users, duration, tmp / f"ceiling_{page}", env)
    result = json.loads(out.read_text())
    result["rps"] = result["count"] / result["window_seconds"] if result["window_seconds"] else 0
    return result


# --- the report -------------------------------------------------------------------------


def machine() -> dict:
    import psycopg
    from redis import Redis

    with psycopg.connect(f"{PG_SERVER}/postgres") as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": pg,
        "redis": Redis.from_url(REDIS_URL).info("server")["redis_version"],
    }


def loadavg() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    lines[1] = "| --- |" + "|".join(" ---: " for _ in header[1:]) + "|"
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def mix_table(stats: list[dict]) -> str:
    rows = []
    for s in sorted(stats, key=lambda s: (s["Name"] == "Aggregated", s["Name"])):
        name = "**all**" if s["Name"] == "Aggregated" else f"`{s['Name']}`"
        rows.append(
            [
                name,
                s["Request Count"],
                s["Failure Count"],
                s["50%"],
                s["95%"],
                s["99%"],
                f"{float(s['Requests/s']):.2f}",
            ]
        )
    return table(["page", "requests", "failures", "p50 ms", "p95 ms", "p99 ms", "req/s"], rows)


def ceiling_table(results: list[dict], bare_rps: float) -> str:
    rows = []
    for r in results:
        times = r["times_ms"]
        rows.append(
            [
                f"`{r['name']}`" + (" (bare)" if r["page"] == "bare" else ""),
                r["count"],
                r["failures"],
                f"{r['window_seconds']:.1f}",
                f"{pct(times, 50):.0f}",
                f"{pct(times, 95):.0f}",
                f"{r['rps']:.1f}",
                f"{r['rps'] / bare_rps:.3f}" if bare_rps else "—",
            ]
        )
    return table(
        ["page", "requests", "failures", "window s", "p50 ms", "p95 ms", "req/s", "÷ bare"], rows
    )


# --- the run ----------------------------------------------------------------------------


def main() -> int:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=seconds, default="5m", help="e.g. 5m, 30s")
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2 * cores + 1, help="gunicorn workers")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--threads", type=int, default=4, help="with --worker-class gthread")
    parser.add_argument("--queue-size", type=int, default=25, help="open requests per employee")
    parser.add_argument("--ceiling-seconds", type=int, default=15)
    parser.add_argument(
        "--ceiling-pages",
        type=lambda text: text.split(","),
        default=list(CEILING_PAGES),
        help=f"comma-separated, of: {','.join(CEILING_PAGES)}",
    )
    parser.add_argument("--no-ceiling", action="store_true", help="the mix only")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="moldir-load-"))
    logs = tmp / "logs"
    logs.mkdir()
    port, bare_port = free_port(), free_port()
    env = bench_environment(tmp, port)
    # This process seeds through the portal's services: the same settings as the servers.
    os.environ.clear()
    os.environ.update(env)

    info = machine()
    load_before = loadavg()
    say(
        f"Moldir load bench: {args.users} users, {args.duration} s, spawn {args.spawn_rate}/s,"
        f" gunicorn {args.workers} x {args.worker_class}; {info['cores']} cores,"
        f" Python {info['python']}, PostgreSQL {info['postgresql']}, Redis {info['redis']}"
    )
    say(f"  load average before: {load_before}; files in {tmp}")

    children: dict[str, subprocess.Popen] = {}
    results: dict = {"machine": info, "args": vars(args), "load_before": load_before}
    try:
        started = time.monotonic()
        recreate_database(BENCH_DB)
        flush_redis()
        flask_command("db upgrade", env, logs / "setup.log")
        flask_command("seed", env, logs / "setup.log")
        say(f"  migrated and seeded the demo data in {time.monotonic() - started:.0f} s")
        accounts = seed_bench(args.queue_size, random.Random(2026))  # noqa: S311
        accounts_file = tmp / "accounts.json"
        accounts_file.write_text(json.dumps(accounts))
        env["MOLDIR_BENCH_ACCOUNTS"] = str(accounts_file)
        flush_redis()  # the seed's own enqueues: the workers start from a clean slate

        url = f"http://127.0.0.1:{port}"
        bare_url = f"http://127.0.0.1:{bare_port}"
        rq = str(BIN / "rq")
        worker = [rq, "worker", "--url", REDIS_URL, "--with-scheduler"]
        worker += ["--worker-class", "portal.worker.AppWorker", *QUEUES]
        children["portal"] = start("portal", gunicorn("wsgi:app", port, args, []), env, logs)
        children["bare"] = start(
            "bare", gunicorn("bare:app", bare_port, args, ["--chdir", "bench"]), env, logs
        )
        for n in range(RQ_WORKERS):
            children[f"rq worker {n + 1}"] = start(f"rq-worker-{n + 1}", worker, env, logs)
        children["rq cron"] = start(
            "rq-cron", [rq, "cron", "--url", REDIS_URL, "sla.schedule"], env, logs
        )
        wait_ready(f"{url}/services", children)
        wait_ready(f"{bare_url}/row/{accounts['bare_ids'][0]}", children)
        say(f"  servers up: portal {url}, bare {bare_url}; {RQ_WORKERS} RQ workers, rq cron")

        say(f"\nThe mix: {args.users} users for {args.duration} s ...")
        mix_started = time.monotonic()
        locust(USER_CLASSES, url, args.users, args.spawn_rate, args.duration, tmp / "mix", env)
        results["mix_seconds"] = time.monotonic() - mix_started
        results["mix"] = read_stats(tmp / "mix")
        results["mix_failures"] = read_failures(tmp / "mix")
        results["load_after_mix"] = loadavg()

        ceilings = []
        if not args.no_ceiling:
            each = f"{args.ceiling_seconds} s each"
            say(f"The ceiling: {args.users} users, no think time, {each} ...")
            plan = [("bare", bare_url), *((p, url) for p in args.ceiling_pages), ("bare", bare_url)]
            for page, host in plan:
                result = ceiling(page, host, args, tmp, env)
                say(f"  {page}: {result['rps']:.1f} req/s, {result['failures']} failures")
                ceilings.append(result)
        results["ceilings"] = ceilings
        results["load_after"] = loadavg()
        results["failed_jobs"] = failed_jobs()
    finally:
        say("\nStopping the servers and workers ...")
        stop(children)
        flush_redis()
        if args.keep:
            say(f"  kept database {BENCH_DB}")
        else:
            drop_database(BENCH_DB)

    results["log_errors"] = log_errors(logs)
    report(results, args, tmp, logs)
    failed = sum(int(s["Failure Count"]) for s in results["mix"] if s["Name"] == "Aggregated")
    failed += sum(r["failures"] for r in results["ceilings"])
    failed += sum(results["failed_jobs"].values()) + sum(results["log_errors"].values())
    return 1 if failed else 0


def report(results: dict, args, tmp: Path, logs: Path) -> None:
    info = results["machine"]
    say("\n## The mix")
    say(mix_table(results["mix"]))
    if results["mix_failures"]:
        say("\nFailures:")
        for f in results["mix_failures"]:
            say(f"  {f['Occurrences']} x {f['Method']} {f['Name']}: {f['Error']}")
    ceilings = results["ceilings"]
    if ceilings:
        bare = [r["rps"] for r in ceilings if r["page"] == "bare"]
        bare_rps = sum(bare) / len(bare)
        say(
            f"\n## The ceiling (no think time, {args.users} users;"
            f" bare first {bare[0]:.1f}, last {bare[-1]:.1f}, mean {bare_rps:.1f} req/s)"
        )
        say(ceiling_table(ceilings, bare_rps))
        mix_rps = next(float(s["Requests/s"]) for s in results["mix"] if s["Name"] == "Aggregated")
        say(
            f"\nThe mix's {mix_rps:.1f} req/s at {args.users} users is"
            f" {mix_rps / bare_rps:.3f} of the bare ceiling."
        )
    say(
        f"\nMachine: {info['cores']} cores, Python {info['python']}, PostgreSQL"
        f" {info['postgresql']}, Redis {info['redis']}; gunicorn {args.workers} x"
        f" {args.worker_class}; load average before {results['load_before']}, after the mix"
        f" {results['load_after_mix']}, at the end {results['load_after']}"
    )
    say(
        "Errors in the server logs: "
        + ", ".join(f"{name} {n}" for name, n in results["log_errors"].items())
        + "; RQ failed jobs: "
        + ", ".join(f"{queue} {n}" for queue, n in results["failed_jobs"].items())
    )
    (tmp / "results.json").write_text(json.dumps(results, default=str))
    say(f"CSVs, logs and results.json: {tmp} (server logs in {logs})")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # finally: tear down
    sys.exit(main())
