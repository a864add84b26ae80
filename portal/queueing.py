"""Redis and RQ: one place that connects and one helper that enqueues.

Queues are named by purpose. Jobs are plain functions taking ids; `job` gives them an app
context, built once per worker process from the environment.
"""

from __future__ import annotations

import functools

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

QUEUES = ("sla", "notifications", "default")
JOB_TIMEOUT = 300
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        # Bounded waits: an unreachable Redis must not hang a web request (the outbox and
        # the sweep catch up on what it missed); worker blocking pops set their own timeout.
        connection = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    elif app.debug or app.testing or app.config.get("REDIS_STANDIN"):
        # No Redis configured: an in-process stand-in (tests, debugging, benches). It lives
        # in the `dev` extra, which production does not install.
        try:
            import fakeredis
        except ImportError as error:
            raise RuntimeError(
                "REDIS_URL is not set and the in-process Redis stand-in (fakeredis, the `dev`"
                " extra) is not installed: set REDIS_URL=redis://host:6379/0"
            ) from error
        connection = fakeredis.FakeRedis()
    else:
        # In production the stand-in would swallow every job and every schedule in one
        # process's memory: refuse to start rather than lose work silently.
        raise RuntimeError(
            "REDIS_URL is not set: Moldir needs a Redis server for its queues and schedule"
            " (e.g. REDIS_URL=redis://127.0.0.1:6379/0). The in-process stand-in is only for"
            " development: FLASK_DEBUG=1, tests, or `make run`."
        )
    app.extensions["redis"] = connection


def redis_connection() -> Redis:
    return current_app.extensions["redis"]


def queue(name: str = "default") -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name}")
    return Queue(name, connection=redis_connection())


def enqueue(func, *args, queue_name: str = "default", job_id: str | None = None, **kwargs):
    """Enqueue `func(*args, **kwargs)` with our timeouts, TTLs and retries.

    A `job_id` de-duplicates: while a job with that id exists, no second one is queued.
    The job carries the current request id in its meta, so its logs can be joined to the
    request (or job, or CLI command) that queued it.
    """
    from portal import observability

    options = {
        "args": args,
        "kwargs": kwargs,
        "job_timeout": JOB_TIMEOUT,
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "retry": Retry(max=3, interval=[10, 60, 300]),
        "meta": observability.job_meta(),
    }
    q = queue(queue_name)
    if job_id is None:
        return q.enqueue(func, **options)
    try:
        return q.enqueue(func, job_id=job_id, unique=True, **options)
    except DuplicateJobError:
        return q.fetch_job(job_id)


_worker_app: Flask | None = None


def preload_app() -> Flask:
    """Build the worker's app now (in the parent, before forking), warm and unconnected."""
    global _worker_app
    if _worker_app is None:
        from portal import create_app
        from portal.extensions import db
        from sla import deadlines

        _worker_app = create_app()
        with _worker_app.app_context():
            deadlines.calendar().add_working_days(deadlines.clock.now(), 1)
            # Each work horse opens its own connections; none may be shared across a fork.
            db.engine.dispose()
    return _worker_app


def job(func):
    """Run a job function inside an app context (the caller's, else the worker's own), its
    log records tagged with the job and the request id that queued it."""
    from portal import observability

    name = f"{func.__module__}.{func.__qualname__}"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        global _worker_app
        with observability.job_context(name):
            if has_app_context():
                return func(*args, **kwargs)
            if _worker_app is None:
                from portal import create_app

                _worker_app = create_app()
            with _worker_app.app_context():
                return func(*args, **kwargs)

    return wrapper
