"""Operations: a request id that follows work into its jobs, structured logs, /healthz and
/metrics.

The web, the workers and the scheduler are separate processes (gunicorn runs several), so
what /metrics reports about the system is read at scrape time from where it is shared: the
database (requests, outbox), Redis (queues, the sweep's figures, escalation latency). Only
request latency lives in the serving process; with PROMETHEUS_MULTIPROC_DIR set it is
summed over gunicorn's workers (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import contextlib
import contextvars
import hmac
import ipaddress
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from redis.exceptions import RedisError

from portal.extensions import db

log = logging.getLogger(__name__)
access_log = logging.getLogger("moldir.access")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# Shared with the processes that write them (sla/jobs.py through `record_sweep`).
HEARTBEAT_KEY = "moldir:scheduler:heartbeat"
SWEEP_LAST_KEY = "moldir:metrics:sweep:last"
SWEEP_HISTOGRAM_KEY = "moldir:metrics:sweep:duration"
ESCALATION_HISTOGRAM_KEY = "moldir:metrics:escalation_latency:{level}"
ESCALATION_LEVELS = ("at_risk", "head", "supervisor", "intake", "approval")
SWEEP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# From a rung's due moment to the sweep tick that fired it: ~ the sweep interval when well.
ESCALATION_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)
OUTBOX_WAITING = ("pending", "sending", "failed", "dead")
OUTBOX_DUE = ("pending", "failed")

# Not in the default registry: several apps live in one test process, and under
# PROMETHEUS_MULTIPROC_DIR the values go to files that MultiProcessCollector reads.
REQUEST_LATENCY = Histogram(
    "moldir_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint, method and status.",
    ["endpoint", "method", "status"],
    registry=None,
)


# --- the request id and the job it runs in ------------------------------------------------

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "moldir_request_id", default=None
)
_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("moldir_job_id", default=None)
_job_name: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "moldir_job_name", default=None
)


def new_request_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def sane_request_id(value: str | None) -> str | None:
    """The caller's id if it is short and plain (it ends up in logs and headers)."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def current_request_id() -> str | None:
    """The id of the request, or of the request or schedule that queued the running job."""
    return _request_id.get()


@contextlib.contextmanager
def job_context(job_name: str) -> Iterator[None]:
    """While an RQ job runs: its request id (from its meta), its id and name in every log
    record. Jobs the scheduler queued carry no request id and get one of their own."""
    from rq import get_current_job

    job = get_current_job()
    if job is None:  # called directly (tests, CLI): the caller's context stands
        yield
        return
    request_id = sane_request_id((job.meta or {}).get("request_id")) or new_request_id("cron-")
    tokens = (
        (_request_id, _request_id.set(request_id)),
        (_job_id, _job_id.set(job.id)),
        (_job_name, _job_name.set(job.func_name or job_name)),
    )
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def job_meta() -> dict:
    """What `queueing.enqueue` stores with a job so it runs under the same request id."""
    return {"request_id": current_request_id() or new_request_id()}


# --- log records and their formats --------------------------------------------------------

_CONTEXT_FIELDS = ("request_id", "job_id", "job")
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "taskName", "_context"}
)


class ContextLogRecord(logging.LogRecord):
    """A record that answers `request_id`, `job_id` and `job` from the context it was made
    in. They are not in its __dict__, so a caller's `extra={"request_id": ...}` is not
    refused (logging raises KeyError on an extra that overwrites an attribute); it wins."""

    def __getattr__(self, name: str):
        context = self.__dict__.get("_context")
        if context is not None and name in context:
            return context[name]
        raise AttributeError(name)


def _context() -> dict:
    values = {"request_id": _request_id.get(), "job_id": _job_id.get(), "job": _job_name.get()}
    return {key: value for key, value in values.items() if value is not None}


_factory_installed = False


def install_record_factory() -> None:
    """Every record made while a request or job runs carries its ids (all handlers see
    them, pytest's caplog included). Installed once per process."""
    global _factory_installed
    if _factory_installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = base(*args, **kwargs)
        context = _context()
        if context:
            record._context = context
            if type(record) is logging.LogRecord:
                record.__class__ = ContextLogRecord
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def record_fields(record: logging.LogRecord) -> dict:
    """The context ids and every field passed with `extra=`."""
    fields = {name: getattr(record, name, None) for name in _CONTEXT_FIELDS}
    fields = {name: value for name, value in fields.items() if value is not None}
    for name, value in vars(record).items():
        if name not in _STANDARD_ATTRS and name not in fields:
            fields[name] = value
    return fields


def utc_timestamp(created: float) -> str:
    stamp = datetime.fromtimestamp(created, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC), level, logger, message, the context ids and
    the record's extra fields (values JSON cannot hold are written as text)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record_fields(record).items():
            line[name if name not in line else f"extra.{name}"] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: the usual line, then the ids and fields as key=value."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = record_fields(record)
        if not fields:
            return text
        first, newline, rest = text.partition("\n")
        pairs = " ".join(f"{name}={value}" for name, value in fields.items())
        return f"{first} [{pairs}]{newline}{rest}"


def log_format(app: Flask) -> str:
    """LOG_FORMAT json or text; unset: text on a terminal or in debug, else JSON."""
    chosen = (app.config.get("LOG_FORMAT") or "").strip().lower()
    if chosen in ("json", "text"):
        return chosen
    return "text" if app.debug or sys.stderr.isatty() else "json"


def configure_logging(app: Flask) -> None:
    """One stderr handler on the root logger, once per process. Tests keep pytest's own
    handlers (caplog) and get none of ours."""
    install_record_factory()
    if app.testing:
        return
    root = logging.getLogger()
    if any(getattr(handler, "moldir", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.moldir = True
    handler.setFormatter(JsonFormatter() if log_format(app) == "json" else TextFormatter())
    root.addHandler(handler)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)


def adopt_rq_logging() -> None:
    """`rq worker` gives its loggers a handler of its own; drop it so RQ's lines come out
    once, in our format, through the root handler."""
    root = logging.getLogger()
    if not any(getattr(handler, "moldir", False) for handler in root.handlers):
        return
    for name in ("rq", "rq.worker", "rq.scheduler", "rq.cron"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True


# --- the app's hooks ----------------------------------------------------------------------


def init_app(app: Flask) -> None:
    configure_logging(app)

    def start_request():
        g.request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
        g.request_started = time.perf_counter()
        g.request_id_token = _request_id.set(g.request_id)

    # First, so that the other hooks' logs carry the id and the timing covers them.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)

    @app.after_request
    def finish_request(response):
        request_id = g.get("request_id") or new_request_id()
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        seconds = time.perf_counter() - started if started is not None else 0.0
        endpoint = request.url_rule.endpoint if request.url_rule is not None else "none"
        REQUEST_LATENCY.labels(endpoint, request.method, str(response.status_code)).observe(seconds)
        if endpoint != "static":
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                seconds * 1000,
                extra={
                    "method": request.method,
                    "path": request.path,  # never the query string: it may hold a token
                    "endpoint": endpoint,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
        return response

    @app.teardown_request
    def forget_request_id(_error=None):
        token = g.pop("request_id_token", None)
        if token is not None:
            try:
                _request_id.reset(token)
            except ValueError:  # set in another context (should not happen)
                _request_id.set(None)

    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])


# --- /healthz -----------------------------------------------------------------------------


def _check_database() -> dict:
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:  # any failure is "down"; the class name says enough
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def _check_redis(connection) -> dict:
    try:
        connection.ping()
    except (RedisError, OSError) as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def _check_scheduler(connection, max_age: float) -> dict:
    from sla import clock

    check: dict = {"ok": False, "last_heartbeat": None, "age_seconds": None}
    check["max_age_seconds"] = max_age
    try:
        raw = connection.get(HEARTBEAT_KEY)
    except (RedisError, OSError) as error:
        check["error"] = type(error).__name__
        return check
    if raw is None:
        check["error"] = "no heartbeat"
        return check
    try:
        beat = datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)
        if beat.tzinfo is None:
            raise ValueError("naive heartbeat")
    except ValueError:
        check["error"] = "unreadable heartbeat"
        return check
    age = (clock.now() - beat).total_seconds()
    check["last_heartbeat"] = beat.astimezone(UTC).isoformat().replace("+00:00", "Z")
    check["age_seconds"] = round(age, 3)
    check["ok"] = age <= max_age
    return check


def _check_workers(connection) -> dict:
    """Live RQ workers per queue: registered, and their hash not expired (a worker refreshes
    it with each heartbeat; a dead one's lapses within its TTL)."""
    from rq import worker_registration

    from portal.queueing import QUEUES

    check: dict = {"ok": False, "queues": {}}
    try:
        for name in QUEUES:
            keys = connection.smembers(worker_registration.WORKERS_BY_QUEUE_KEY % name)
            pipeline = connection.pipeline(transaction=False)
            for key in keys:
                pipeline.exists(key)
            check["queues"][name] = sum(pipeline.execute()) if keys else 0
    except (RedisError, OSError) as error:
        check["error"] = type(error).__name__
        return check
    idle = [name for name, count in check["queues"].items() if not count]
    if idle:
        check["error"] = "no worker for " + ", ".join(idle)
    check["ok"] = not idle
    return check


def healthz():
    """Database and Redis reachable, the periodic sweep's heartbeat fresh, a live worker on
    every queue: 200, else 503, the body naming each part's state."""
    connection = current_app.extensions["redis"]
    max_age = float(current_app.config.get("HEALTH_SCHEDULER_MAX_AGE") or 60)
    checks = {
        "database": _check_database(),
        "redis": _check_redis(connection),
        "scheduler": _check_scheduler(connection, max_age),
        "workers": _check_workers(connection),
    }
    healthy = all(check["ok"] for check in checks.values())
    response = jsonify({"status": "ok" if healthy else "fail", "checks": checks})
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


# --- what the sweep records for /healthz and /metrics -------------------------------------


def _observe(pipeline, key: str, value: float, buckets: tuple[float, ...]) -> None:
    """A cumulative histogram in a Redis hash: every process adds, any process reads."""
    pipeline.hincrby(key, "count", 1)
    pipeline.hincrbyfloat(key, "sum", value)
    for bound in buckets:
        if value <= bound:
            pipeline.hincrby(key, f"le:{bound}", 1)


def record_sweep(result, now: datetime) -> None:
    """After a sweep tick: the scheduler's heartbeat, the tick's duration, and how late
    each rung it fired was (from its due moment to `now`, when the tick fired it).

    Best effort: a Redis outage loses figures, never the sweep's work.
    """
    from portal.models import Escalation
    from portal.queueing import redis_connection
    from sla import clock

    latencies: list[tuple[str, float]] = []
    if result.fired:
        # The tick stamps each rung it fires with its own `now` (ix_escalation_fired_at).
        try:
            rows = db.session.execute(
                sa.select(Escalation.level, Escalation.due_at).where(Escalation.fired_at == now)
            ).all()
            latencies = [(level, max(0.0, (now - due).total_seconds())) for level, due in rows]
        except sa.exc.SQLAlchemyError as error:  # the sweep itself is committed already
            log.warning("sla sweep: escalation latency not recorded: %s", type(error).__name__)
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            db.session.rollback()
    finished = clock.now()
    try:
        pipeline = redis_connection().pipeline(transaction=False)
        pipeline.set(HEARTBEAT_KEY, finished.isoformat())
        pipeline.hset(
            SWEEP_LAST_KEY,
            mapping={
                "seconds": result.seconds,
                "checked": result.checked,
                "finished_at": finished.timestamp(),
            },
        )
        _observe(pipeline, SWEEP_HISTOGRAM_KEY, result.seconds, SWEEP_BUCKETS)
        for level, seconds in latencies:
            _observe(
                pipeline, ESCALATION_HISTOGRAM_KEY.format(level=level), seconds, ESCALATION_BUCKETS
            )
        pipeline.execute()
    except (RedisError, OSError) as error:
        log.warning("sla sweep: figures not recorded: %s", error)


# --- /metrics -----------------------------------------------------------------------------


def _histogram_from_hash(family: HistogramMetricFamily, labels, raw: dict, buckets) -> None:
    values = {key.decode(): value.decode() for key, value in raw.items()}
    count = float(values.get("count", 0))
    points = [(str(bound), float(values.get(f"le:{bound}", 0))) for bound in buckets]
    family.add_metric(labels, points + [("+Inf", count)], float(values.get("sum", 0)))


class SystemCollector:
    """What the whole system is doing, read at scrape time from the database and Redis.

    Each query reads an index: open requests by department from the partial queue index,
    outbox rows not yet sent by (status, next_attempt_at).
    """

    def __init__(self, connection):
        self.connection = connection

    def collect(self):
        up = GaugeMetricFamily(
            "moldir_metrics_source_up",
            "Whether a source of these figures answered the scrape.",
            labels=["source"],
        )
        try:
            yield from self._from_redis()
            up.add_metric(["redis"], 1)
        except (RedisError, OSError) as error:
            log.warning("metrics: redis unreadable: %s", error)
            up.add_metric(["redis"], 0)
        try:
            yield from self._from_database()
            up.add_metric(["database"], 1)
        except Exception as error:  # a down database must not break the Redis figures
            with contextlib.suppress(Exception):
                db.session.rollback()
            log.warning("metrics: database unreadable: %s", type(error).__name__)
            up.add_metric(["database"], 0)
        yield up

    def _from_redis(self):
        from rq import Queue
        from rq.registry import (
            DeferredJobRegistry,
            FailedJobRegistry,
            ScheduledJobRegistry,
            StartedJobRegistry,
        )

        from portal.queueing import QUEUES
        from sla import clock

        connection = self.connection
        jobs = GaugeMetricFamily(
            "moldir_queue_jobs",
            "RQ jobs per queue: queued, started, failed, scheduled (retries), deferred.",
            labels=["queue", "state"],
        )
        pipeline = connection.pipeline(transaction=False)
        registries = (
            ("started", StartedJobRegistry),
            ("failed", FailedJobRegistry),
            ("scheduled", ScheduledJobRegistry),
            ("deferred", DeferredJobRegistry),
        )
        for name in QUEUES:
            rq_queue = Queue(name, connection=connection)
            pipeline.llen(rq_queue.key)
            for _state, registry in registries:
                # ZCARD, not .count: that would run the registry's cleanup on every scrape.
                pipeline.zcard(registry(name, connection=connection).key)
        pipeline.get(HEARTBEAT_KEY)
        pipeline.hgetall(SWEEP_LAST_KEY)
        pipeline.hgetall(SWEEP_HISTOGRAM_KEY)
        for level in ESCALATION_LEVELS:
            pipeline.hgetall(ESCALATION_HISTOGRAM_KEY.format(level=level))
        answers = iter(pipeline.execute())

        for name in QUEUES:
            jobs.add_metric([name, "queued"], next(answers))
            for state, _registry in registries:
                jobs.add_metric([name, state], next(answers))
        yield jobs

        beat = next(answers)
        if beat is not None:
            with contextlib.suppress(ValueError):
                age = clock.now() - datetime.fromisoformat(beat.decode())
                yield GaugeMetricFamily(
                    "moldir_scheduler_heartbeat_age_seconds",
                    "Seconds since the periodic SLA sweep last finished.",
                    value=age.total_seconds(),
                )

        last = {key.decode(): float(value) for key, value in next(answers).items()}
        if last:
            yield GaugeMetricFamily(
                "moldir_sla_sweep_last_duration_seconds",
                "How long the last SLA sweep tick took.",
                value=last.get("seconds", 0.0),
            )
            yield GaugeMetricFamily(
                "moldir_sla_sweep_last_checked_requests",
                "Requests the last SLA sweep tick looked at.",
                value=last.get("checked", 0.0),
            )
            yield GaugeMetricFamily(
                "moldir_sla_sweep_last_finished_timestamp_seconds",
                "When the last SLA sweep tick finished (Unix time).",
                value=last.get("finished_at", 0.0),
            )
        sweep = HistogramMetricFamily(
            "moldir_sla_sweep_duration_seconds", "Duration of SLA sweep ticks.", labels=[]
        )
        _histogram_from_hash(sweep, [], next(answers), SWEEP_BUCKETS)
        yield sweep
        latency = HistogramMetricFamily(
            "moldir_escalation_latency_seconds",
            "From a ladder rung's due moment to the sweep tick that fired it, by level.",
            labels=["level"],
        )
        for level in ESCALATION_LEVELS:
            _histogram_from_hash(latency, [level], next(answers), ESCALATION_BUCKETS)
        yield latency

    def _from_database(self):
        from notifications.outbox import OutboxMessage
        from portal.models import OPEN_STATE_VALUES, Department, ServiceRequest
        from sla import clock

        now = clock.now()
        codes = dict(db.session.execute(sa.select(Department.id, Department.code)).all())
        # Index-only on PostgreSQL: ix_service_request_department_queue covers open
        # requests only and INCLUDEs sla_state.
        per_department = db.session.execute(
            sa.select(ServiceRequest.department_id, ServiceRequest.sla_state, sa.func.count())
            .where(ServiceRequest.state.in_(OPEN_STATE_VALUES))
            .group_by(ServiceRequest.department_id, ServiceRequest.sla_state)
        ).all()
        open_requests = GaugeMetricFamily(
            "moldir_open_requests",
            "Open requests by department and SLA state.",
            labels=["department", "sla_state"],
        )
        breached = GaugeMetricFamily(
            "moldir_breached_requests",
            "Open requests past their deadline (breached), by department.",
            labels=["department"],
        )
        breaches: dict[str, int] = {code: 0 for code in codes.values()}
        for department_id, sla_state, count in per_department:
            code = codes.get(department_id, str(department_id))
            open_requests.add_metric([code, sla_state], count)
            if sla_state == "breached":
                breaches[code] = breaches.get(code, 0) + count
        for code, count in sorted(breaches.items()):
            breached.add_metric([code], count)
        yield open_requests
        yield breached

        # The leading column's IN skips the sent rows, however many there are.
        by_status = dict(
            db.session.execute(
                sa.select(OutboxMessage.status, sa.func.count())
                .where(OutboxMessage.status.in_(OUTBOX_WAITING))
                .group_by(OutboxMessage.status)
            ).all()
        )
        due, oldest = db.session.execute(
            sa.select(sa.func.count(), sa.func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status.in_(OUTBOX_DUE), OutboxMessage.next_attempt_at <= now
            )
        ).one()
        db.session.rollback()
        outbox = GaugeMetricFamily(
            "moldir_outbox_messages",
            "Outbox rows not yet sent, by status (dead: out of attempts, needs an admin).",
            labels=["status"],
        )
        for status in OUTBOX_WAITING:
            outbox.add_metric([status], by_status.get(status, 0))
        yield outbox
        yield GaugeMetricFamily(
            "moldir_outbox_backlog_messages",
            "Outbox rows due for delivery now (pending or failed awaiting a retry).",
            value=due,
        )
        yield GaugeMetricFamily(
            "moldir_outbox_oldest_due_seconds",
            "How long the oldest due outbox row has been waiting.",
            value=(now - oldest).total_seconds() if oldest is not None else 0.0,
        )


def metrics_allowed() -> bool:
    """With METRICS_TOKEN: its bearer only. Without: loopback clients, not via a proxy."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        # A reverse proxy on this host makes every visitor look like loopback.
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def metrics():
    if not metrics_allowed():
        return Response("Not found\n", status=404, mimetype="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    if current_app.config["PROMETHEUS_MULTIPROC_DIR"]:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import ProcessCollector

        registry.register(REQUEST_LATENCY)
        ProcessCollector(registry=registry)
    registry.register(SystemCollector(current_app.extensions["redis"]))
    response = Response(generate_latest(registry), mimetype=None)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response
