"""Operations: the operator asks /healthz whether Moldir is well, Prometheus scrapes
/metrics, and a request's id follows it into the jobs it queued, log line by log line."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue
from rq.job import Job
from rq.worker import Worker

from notifications.outbox import OutboxMessage
from portal import create_app, observability
from portal.extensions import db
from portal.queueing import queue
from sla.jobs import sweep_job
from tests.helpers import sign_in, submitted
from tests.sla.stories import InProcessWorker, almaty, escalations, open_office

REMOTE = {"REMOTE_ADDR": "10.0.0.5"}


def scrape(client, **kwargs) -> dict[str, list]:
    """/metrics as {family name: [(sample name, labels, value)]}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples] for family in families
    }


def value(families, sample: str, missing: float | None = None, **labels) -> float:
    family = sample.removesuffix("_count").removesuffix("_sum").removesuffix("_bucket")
    for name, sample_labels, found in families.get(family, []):
        if name == sample and all(sample_labels.get(k) == v for k, v in labels.items()):
            return found
    if missing is not None:
        return missing
    raise AssertionError(f"no {sample} {labels} in {families.get(family)}")


def run_queue(app, name: str) -> None:
    InProcessWorker([queue(name)], connection=app.extensions["redis"]).work(burst=True)


# --- /healthz -----------------------------------------------------------------------------


def a_live_worker(connection, queues=("sla", "notifications", "default")) -> Worker:
    """A worker registered as `rq worker` registers itself (its loop is not run)."""
    worker = Worker(list(queues), connection=connection)
    worker.register_birth()
    return worker


def test_healthz_is_ok_while_the_sweep_keeps_beating(client, app, travel):
    a_live_worker(app.extensions["redis"])
    travel(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))
    sweep_job()
    travel(datetime(2026, 3, 2, 5, 0, 30, tzinfo=UTC))

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    scheduler = body["checks"]["scheduler"]
    assert scheduler["last_heartbeat"] == "2026-03-02T05:00:00Z"
    assert scheduler["age_seconds"] == 30
    assert body["checks"]["workers"] == {
        "ok": True,
        "queues": {"sla": 1, "notifications": 1, "default": 1},
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_names_the_queue_no_live_worker_serves(client, app, travel):
    connection = app.extensions["redis"]
    a_live_worker(connection, queues=("sla", "default"))
    gone = a_live_worker(connection, queues=("notifications",))
    connection.delete(gone.key)  # its hash lapsed: killed, its heartbeat stopped
    travel(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))
    sweep_job()

    response = client.get("/healthz")

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["scheduler"]["ok"] and checks["redis"]["ok"] and checks["database"]["ok"]
    assert checks["workers"] == {
        "ok": False,
        "queues": {"sla": 1, "notifications": 0, "default": 1},
        "error": "no worker for notifications",
    }


def test_without_redis_url_production_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("REDIS_STANDIN", raising=False)
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}", "SECRET_KEY": "t"}

    with pytest.raises(RuntimeError, match="REDIS_URL is not set"):
        create_app(config)

    # Tests, debugging and the dev server's benches may use the in-process stand-in.
    assert create_app({**config, "TESTING": True}).extensions["redis"].ping()
    assert create_app({**config, "REDIS_STANDIN": True}).extensions["redis"].ping()
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert create_app(config).extensions["redis"].ping()


def test_the_stand_in_is_not_a_runtime_dependency():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())[
        "project"
    ]
    runtime = " ".join(project["dependencies"])
    assert "fakeredis" not in runtime and "lupa" not in runtime
    assert any(d.startswith("fakeredis") for d in project["optional-dependencies"]["dev"])


def test_healthz_fails_when_the_heartbeat_is_stale(client, app, travel):
    a_live_worker(app.extensions["redis"])
    travel(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))
    sweep_job()
    travel(datetime(2026, 3, 2, 5, 1, 1, tzinfo=UTC))

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert body["checks"]["scheduler"]["ok"] is False
    assert body["checks"]["scheduler"]["age_seconds"] == 61

    app.config["HEALTH_SCHEDULER_MAX_AGE"] = 120
    assert client.get("/healthz").status_code == 200


def test_healthz_fails_before_any_sweep_has_run(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["scheduler"] == {
        "ok": False,
        "last_heartbeat": None,
        "age_seconds": None,
        "max_age_seconds": 60,
        "error": "no heartbeat",
    }


def test_healthz_answers_503_not_500_when_the_database_is_unreachable(redis_connection, tmp_path):
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'moldir.db'}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "t"})
    app.extensions["redis"] = redis_connection
    with app.app_context():
        fresh_heartbeat(redis_connection)

        response = app.test_client().get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["redis"]["ok"] and body["checks"]["scheduler"]["ok"]
    assert "no-such-folder" not in response.get_data(as_text=True)  # no URL, no secrets


def fresh_heartbeat(connection) -> None:
    """A fresh heartbeat, as a sweep elsewhere would have left it."""
    from sla import clock

    connection.set(observability.HEARTBEAT_KEY, clock.now().isoformat())


def test_healthz_fails_when_redis_is_unreachable(client, app):
    from redis import Redis

    app.extensions["redis"] = Redis(port=1, socket_connect_timeout=0.5)

    response = client.get("/healthz")

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["redis"] == {"ok": False, "error": "ConnectionError"}
    assert checks["scheduler"]["ok"] is False


# --- /metrics -----------------------------------------------------------------------------


def test_metrics_show_what_the_system_did(app, client, make, travel):
    office = open_office(make, target_days=5)
    department = office.service.department.code
    travel(almaty(2026, 2, 2, 10, 0))
    sign_in(client, office.applicant)
    applied = {"endpoint": "applicant.apply", "method": "POST", "status": "302"}
    # Request latency lives in this process, with what earlier tests asked of it.
    before = scrape(client).get("moldir_http_request_duration_seconds", [])
    submitted(client, office.service)
    # Days later the request is past its deadline; the sweep fires the ladder's rungs.
    travel(almaty(2026, 2, 10, 10, 0))
    sweep = queue("sla").enqueue(sweep_job)
    run_queue(app, "sla")
    assert sweep.get_status(refresh=True) == "finished"
    assert [level for level, *_ in escalations()] == ["at_risk", "head"]
    dead = db.session.scalars(sa.select(OutboxMessage).limit(1)).one()
    dead.status = "dead"
    db.session.commit()

    families = scrape(client)

    count = "moldir_http_request_duration_seconds_count"
    earlier = value({"moldir_http_request_duration_seconds": before}, count, **applied, missing=0)
    assert value(families, count, **applied) == earlier + 1
    assert value(families, "moldir_queue_jobs", queue="notifications", state="queued") >= 1
    assert value(families, "moldir_queue_jobs", queue="sla", state="queued") == 0
    assert value(families, "moldir_queue_jobs", queue="default", state="failed") == 0
    assert value(families, "moldir_sla_sweep_duration_seconds_count") == 1
    assert value(families, "moldir_sla_sweep_last_duration_seconds") >= 0
    assert value(families, "moldir_sla_sweep_last_checked_requests") == 1
    assert value(families, "moldir_scheduler_heartbeat_age_seconds") == 0
    # at_risk was due on 2 Feb + 4 working days at 14:00 (the ladder's at-risk moment),
    # the breach at the deadline: both rungs fired days late, on the tick of 10 Feb.
    assert value(families, "moldir_escalation_latency_seconds_count", level="at_risk") == 1
    assert value(families, "moldir_escalation_latency_seconds_count", level="head") == 1
    assert value(families, "moldir_escalation_latency_seconds_count", level="supervisor") == 0
    assert (
        value(families, "moldir_escalation_latency_seconds_bucket", level="head", le="3600.0") == 0
    )
    assert value(families, "moldir_open_requests", department=department, sla_state="breached")
    assert value(families, "moldir_breached_requests", department=department) == 1
    assert value(families, "moldir_outbox_messages", status="dead") == 1
    assert value(families, "moldir_outbox_messages", status="pending") >= 1
    assert value(families, "moldir_outbox_backlog_messages") >= 1
    assert value(families, "moldir_outbox_oldest_due_seconds") > 0
    assert value(families, "moldir_metrics_source_up", source="database") == 1
    assert value(families, "moldir_metrics_source_up", source="redis") == 1


def test_a_fresh_system_has_every_family_at_zero(client, make):
    make.department(code="ENT")

    families = scrape(client)

    assert value(families, "moldir_breached_requests", department="ENT") == 0
    assert value(families, "moldir_escalation_latency_seconds_count", level="head") == 0
    assert value(families, "moldir_sla_sweep_duration_seconds_count") == 0
    assert value(families, "moldir_outbox_messages", status="dead") == 0
    assert "moldir_scheduler_heartbeat_age_seconds" not in families


@pytest.mark.parametrize(
    "kwargs",
    [
        {"environ_base": REMOTE},
        # A proxy on the same host would make every visitor look like loopback.
        {"headers": {"X-Forwarded-For": "203.0.113.7"}},
    ],
)
def test_metrics_are_refused_to_other_hosts_without_a_token(client, kwargs):
    response = client.get("/metrics", **kwargs)

    assert response.status_code == 404
    assert b"moldir_" not in response.get_data()


def test_with_a_token_metrics_need_it_from_everywhere(client, app):
    app.config["METRICS_TOKEN"] = "s3cret-scrape-token"
    bearer = {"Authorization": "Bearer s3cret-scrape-token"}

    assert client.get("/metrics").status_code == 404  # loopback alone is not enough now
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer wrong"}, environ_base=REMOTE)
    ).status_code == 404
    assert "moldir_queue_jobs" in scrape(client, headers=bearer, environ_base=REMOTE)


# --- the request id -----------------------------------------------------------------------


def test_a_sane_request_id_from_the_caller_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-2026.03_02-abc"})

    assert response.headers["X-Request-ID"] == "lb-2026.03_02-abc"


@pytest.mark.parametrize("given", ["x" * 65, "a b", "id;Injected=1", "émoji", ""])
def test_an_odd_request_id_is_replaced_by_our_own(client, given):
    response = client.get("/healthz", headers={"X-Request-ID": given})

    ours = response.headers["X-Request-ID"]
    assert ours != given and len(ours) == 32 and ours.isalnum()


def test_every_request_gets_an_id_and_an_access_line(client, caplog):
    caplog.set_level(logging.INFO, logger="moldir.access")

    first = client.get("/services?q=secret-token").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]

    assert first != second
    (line,) = [r for r in caplog.records if r.name == "moldir.access" and r.request_id == first]
    assert (line.method, line.path, line.endpoint, line.status) == (
        "GET",
        "/services",
        "public.catalogue",
        200,
    )
    assert line.duration_ms >= 0
    assert "secret-token" not in line.getMessage()


def test_the_request_id_follows_a_request_into_its_job(app, client, make, caplog):
    office = open_office(make)
    sign_in(client, office.applicant)
    caplog.set_level(logging.INFO)

    path, data = submit_request(client, office)
    response = client.post(
        path,
        data=data,
        headers={"X-Request-ID": "req-follow-me"},
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    assert response.headers["X-Request-ID"] == "req-follow-me"
    (job_id,) = queue("notifications").job_ids
    relay = Job.fetch(job_id, connection=app.extensions["redis"])
    assert relay.meta["request_id"] == "req-follow-me"

    caplog.clear()
    run_queue(app, "notifications")

    from_the_job = [r for r in caplog.records if getattr(r, "job_id", None) == job_id]
    assert from_the_job, [r.getMessage() for r in caplog.records]
    for record in from_the_job:
        assert record.request_id == "req-follow-me"
        assert record.job == "notifications.jobs.relay_job"
    # Outside the job, nothing carries its ids any more.
    logging.getLogger("tests").info("after")
    assert getattr(caplog.records[-1], "job_id", None) is None


def submit_request(client, office):
    """(path, form data) of an application, CSRF token included."""
    import io

    from tests.conftest import PDF, csrf_token

    path = f"/my/apply/{office.service.code}"
    data = {
        "csrf_token": csrf_token(client, path),
        "description": "Register our bakery",
        f"doc_{office.document.id}": (io.BytesIO(PDF), "scan.pdf"),
    }
    return path, data


def test_scheduled_jobs_get_an_id_of_their_own_and_pass_it_on(app, make, travel, caplog):
    from tests.sla.stories import submit

    office = open_office(make, target_days=5)
    travel(almaty(2026, 2, 2, 10, 0))
    submit(office)
    app.extensions["redis"].flushdb()  # the relay the submission queued: not this story's
    travel(almaty(2026, 2, 10, 10, 0))
    caplog.set_level(logging.INFO)
    # As `rq cron` queues it: straight into RQ, no meta.
    Queue("sla", connection=app.extensions["redis"]).enqueue(sweep_job)

    run_queue(app, "sla")

    (swept,) = [r for r in caplog.records if r.getMessage().startswith("sla sweep: checked")]
    assert swept.request_id.startswith("cron-") and swept.job == "sla.jobs.sweep_job"
    # The escalations it fired owe notices; the relay it queued runs under the same id.
    (relay_id,) = queue("notifications").job_ids
    relay = Job.fetch(relay_id, connection=app.extensions["redis"])
    assert relay.meta["request_id"] == swept.request_id


# --- the log line -------------------------------------------------------------------------


def make_record(caplog, message: str, **extra) -> logging.LogRecord:
    caplog.set_level(logging.INFO, logger="moldir.security")
    caplog.clear()
    logging.getLogger("moldir.security").info(message, extra=extra)
    (record,) = caplog.records
    return record


@pytest.mark.commits  # adds a route: an app of its own
def test_a_log_line_is_one_json_object_with_every_extra_field(app, client, caplog, travel):
    travel(datetime(2026, 3, 2, 4, 5, 6, 789000, tzinfo=UTC))
    seen = {}

    @app.get("/_ops_probe")
    def probe():
        seen["record"] = make_record(caplog, "login.failed", email="a@b.kz", attempts=3)
        return "ok"

    response = client.get("/_ops_probe")

    line = observability.JsonFormatter().format(seen["record"])
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed == {
        "ts": "2026-03-02T04:05:06.789Z",
        "level": "INFO",
        "logger": "moldir.security",
        "message": "login.failed",
        "request_id": response.headers["X-Request-ID"],
        "email": "a@b.kz",
        "attempts": 3,
    }


def test_a_caller_may_name_its_own_request_id_and_odd_values_are_written_as_text(caplog):
    when = datetime(2026, 3, 2, tzinfo=UTC)
    record = make_record(caplog, "x", request_id="given", when=when, ts="clash")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()

    parsed = json.loads(observability.JsonFormatter().format(record))

    assert parsed["request_id"] == "given"
    assert parsed["when"] == "2026-03-02 00:00:00+00:00"
    assert parsed["extra.ts"] == "clash" and parsed["ts"].endswith("Z")
    assert "ValueError: boom" in parsed["exception"]


def test_the_text_format_keeps_the_fields_readable(caplog):
    record = make_record(caplog, "login.failed", email="a@b.kz")

    line = observability.TextFormatter().format(record)

    assert line.endswith("INFO moldir.security: login.failed [email=a@b.kz]")


def test_log_format_follows_the_setting_else_the_terminal(app):
    app.config["LOG_FORMAT"] = "JSON"
    assert observability.log_format(app) == "json"
    app.config["LOG_FORMAT"] = "text"
    assert observability.log_format(app) == "text"


def test_odd_ids_in_a_jobs_meta_are_not_trusted(app, redis_connection):
    job = queue("default").enqueue(
        "tests.test_operations.record_request_id", meta={"request_id": "bad id\n"}
    )
    run_queue(app, "default")

    assert job.get_status(refresh=True) == "finished", job.exc_info
    assert job.return_value().startswith("cron-")


def record_request_id() -> str | None:
    from portal.queueing import job

    return job(observability.current_request_id)()


def test_outside_any_request_or_job_there_is_no_id():
    assert observability.current_request_id() is None
    assert observability.sane_request_id("a" * 64) == "a" * 64
    assert observability.sane_request_id("a" * 65) is None
