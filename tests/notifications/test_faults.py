"""Faults: two relays at once, a worker killed mid-send, a Redis wiped clean.

Whatever happens, every message owed goes out, and (SMTP permitting) once.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from notifications import jobs, relay
from notifications.channels import SmtpEmailChannel
from notifications.outbox import OutboxMessage
from portal.extensions import db
from portal.queueing import enqueue
from portal.services import requests as request_service
from sla import clock
from tests.notifications.conftest import outbox_rows, queued_relays, run_relay_worker

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

LEASE = timedelta(seconds=300)


class WorkerKilled(BaseException):
    """What the relay would feel of a SIGKILL: nothing it can catch or clean up after."""


def _owe_mail(office, requests: int = 1) -> list:
    return [office.submit(f"shop {n}") for n in range(requests)]


def _assert_each_key_once(smtp, expected: int) -> None:
    keys = Counter(smtp.keys())
    assert len(keys) == expected, keys
    assert set(keys.values()) == {1}, {k: n for k, n in keys.items() if n > 1}


# --- two relays at once -----------------------------------------------------------------


def test_two_relay_jobs_through_a_real_worker_send_once(app, smtp, office):
    _owe_mail(office, 3)  # each commit queued a relay (one waits; the rest were folded)
    enqueue(jobs.relay_job, queue_name="notifications")
    enqueue(jobs.relay_job, queue_name="notifications")
    assert queued_relays(app) == 3

    run_relay_worker(app)

    _assert_each_key_once(smtp, 9)
    assert {(row.status, row.attempts) for row in outbox_rows(channel="email")} == {("sent", 1)}


@pytest.mark.commits  # two threads, two connections
def test_two_relays_running_at_once_send_each_message_once(app, smtp, office):
    _owe_mail(office, 8)
    app.config["NOTIFY_BATCH_SIZE"] = 3
    start = threading.Barrier(2)
    results, errors = [], []

    def work():
        try:
            with app.app_context():
                start.wait(timeout=10)
                results.append(relay.deliver_due())
                db.session.remove()
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.sent for r in results) == 24
    _assert_each_key_once(smtp, 24)
    assert {(row.status, row.attempts) for row in outbox_rows(channel="email")} == {("sent", 1)}


@pytest.mark.commits  # two sessions, two connections
def test_on_postgresql_a_second_claim_skips_the_rows_the_first_holds(app, office):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has a single writer")
    _owe_mail(office, 2)
    now = clock.now()
    with Session(db.engine) as first, Session(db.engine) as second:
        taken = first.execute(relay.claim_statement(4, now)).all()  # not committed: locked
        others = second.execute(relay.claim_statement(10, now)).all()
        second.commit()
        first.commit()
    assert len(taken) == 4 and len(others) == 2
    assert not {row.id for row in taken} & {row.id for row in others}
    assert {row.attempts for row in outbox_rows(channel="email")} == {1}


def test_a_worker_whose_claim_was_taken_over_cannot_mark_the_row(app, office, travel):
    _owe_mail(office)
    app.config["NOTIFY_KICK_RELAY"] = False
    old_claims = relay.claim(10)
    travel(clock.now() + LEASE + timedelta(seconds=1))
    relay.redrive()  # the re-drive thinks the first worker lost
    new_claims = relay.claim(10)
    assert [(c.id, c.attempts) for c in new_claims] == [(c.id, 2) for c in old_claims]

    relay._mark_delivered([(old_claims[0], "late")], clock.now())  # the first worker, late
    db.session.commit()
    (row,) = outbox_rows(id=old_claims[0].id)
    assert (row.status, row.attempts, row.provider_id) == ("sending", 2, None)


# --- a worker killed between "sent" and "marked sent" ------------------------------------


def test_a_worker_killed_after_sending_does_not_send_again(app, smtp, office, travel, monkeypatch):
    _owe_mail(office)
    app.config["NOTIFY_KICK_RELAY"] = False

    def killed(*args, **kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(relay, "_mark_delivered", killed)
        with pytest.raises(WorkerKilled):
            relay.deliver_due()
    db.session.rollback()
    _assert_each_key_once(smtp, 3)
    assert {row.status for row in outbox_rows(channel="email")} == {"sending"}

    # Within the lease the re-drive leaves the claim alone: the worker may be slow.
    travel(clock.now() + LEASE - timedelta(seconds=1))
    assert relay.redrive().as_dict() == {
        "reconciled": 0,
        "requeued": 0,
        "dead": 0,
        "due": 0,
        "kicked": False,
    }
    travel(clock.now() + timedelta(seconds=2))
    enqueue(jobs.redrive_job, queue_name="notifications")
    run_relay_worker(app)

    _assert_each_key_once(smtp, 3)
    rows = outbox_rows(channel="email")
    assert {row.status for row in rows} == {"sent"}
    assert [row.provider_id for row in rows] == [m["Message-ID"] for m in smtp.messages]


def test_a_worker_killed_mid_batch_sends_the_rest_once_after_the_redrive(
    app, smtp, office, travel, monkeypatch
):
    _owe_mail(office, 3)
    app.config["NOTIFY_KICK_RELAY"] = False
    real_send = SmtpEmailChannel.send
    calls = []

    def dies_on_the_fourth(channel, message):
        calls.append(message.outbox_id)
        if len(calls) == 4:
            raise WorkerKilled
        return real_send(channel, message)

    with monkeypatch.context() as patch:
        patch.setattr(SmtpEmailChannel, "send", dies_on_the_fourth)
        with pytest.raises(WorkerKilled):
            relay.deliver_due()
    db.session.rollback()
    assert len(smtp.messages) == 3

    travel(clock.now() + LEASE + timedelta(seconds=1))
    counts = relay.redrive()
    assert (counts.reconciled, counts.requeued, counts.due, counts.kicked) == (3, 6, 6, True)
    run_relay_worker(app)

    _assert_each_key_once(smtp, 9)
    rows = outbox_rows(channel="email")
    assert {row.status for row in rows} == {"sent"}
    # The three that had gone out were marked, not sent again: one attempt each.
    assert sorted(row.attempts for row in rows) == [1, 1, 1, 2, 2, 2, 2, 2, 2]


def test_a_kill_and_a_lost_receipt_together_resend_with_the_same_message_id(
    app, smtp, office, travel, monkeypatch
):
    """The one case SMTP leaves open: at least once, recognisably the same message."""
    _owe_mail(office)
    app.config["NOTIFY_KICK_RELAY"] = False
    with monkeypatch.context() as patch:
        patch.setattr(
            relay, "_mark_delivered", lambda *a, **k: (_ for _ in ()).throw(WorkerKilled())
        )
        with pytest.raises(WorkerKilled):
            relay.deliver_due()
    db.session.rollback()
    app.extensions["redis"].flushdb()  # the receipts are gone with it

    travel(clock.now() + LEASE + timedelta(seconds=1))
    assert relay.redrive().requeued == 3
    run_relay_worker(app)

    ids = Counter(m["Message-ID"] for m in smtp.messages)
    assert len(ids) == 3 and set(ids.values()) == {2}


def test_a_stale_claim_on_its_last_attempt_is_dead(app, office, travel):
    _owe_mail(office)
    app.config.update(NOTIFY_MAX_ATTEMPTS=1, NOTIFY_KICK_RELAY=False)
    relay.claim(10)
    travel(clock.now() + LEASE + timedelta(seconds=1))
    assert relay.redrive().dead == 3
    assert {(r.status, r.last_error) for r in outbox_rows(channel="email")} == {
        ("dead", "the worker was lost during delivery")
    }


# --- Redis wiped clean ----------------------------------------------------------------------


def test_redis_flushed_midway_every_owed_message_still_goes_out_after_the_redrive(
    app, smtp, office, travel
):
    request, other = _owe_mail(office, 2)
    assert queued_relays(app) == 1
    travel(clock.now() + timedelta(hours=1))
    request_service.request_documents(
        office.employee, request.reference, [(office.document.id, "The scan is unreadable")]
    )
    app.extensions["redis"].flushdb()  # the queued relay is gone
    run_relay_worker(app)
    assert smtp.messages == []

    enqueue(jobs.redrive_job, queue_name="notifications")  # what the cron does every 30 s
    run_relay_worker(app)

    _assert_each_key_once(smtp, 7)
    asked = [m for m in smtp.to(office.applicant.email) if "нужны документы" in m["Subject"]]
    assert len(asked) == 1
    assert "The scan is unreadable" in asked[0].get_content()
    assert {row.status for row in outbox_rows(channel="email")} == {"sent"}
    assert other.reference


def test_the_redrive_queues_the_relay_for_rows_left_pending(app, smtp, office):
    app.config["NOTIFY_KICK_RELAY"] = False
    _owe_mail(office)
    assert queued_relays(app) == 0

    counts = relay.redrive()
    assert (counts.due, counts.kicked) == (3, True)
    assert queued_relays(app) == 1
    run_relay_worker(app)
    _assert_each_key_once(smtp, 3)
    assert relay.redrive().as_dict() == {
        "reconciled": 0,
        "requeued": 0,
        "dead": 0,
        "due": 0,
        "kicked": False,
    }


def test_the_redrive_runs_every_30_seconds_on_the_notifications_queue(redis_connection):
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=redis_connection, name="test-cron")
    scheduler.load_config_from_file("sla.schedule")
    (redrive,) = [j for j in scheduler.get_jobs() if j.func_name.endswith("redrive_job")]
    assert redrive.func_name == "notifications.jobs.redrive_job"
    assert (redrive.queue_name, redrive.interval) == ("notifications", 30)


def test_flask_notifications_relay_delivers_what_is_pending(app, smtp, office, runner):
    app.config["NOTIFY_KICK_RELAY"] = False
    _owe_mail(office)
    result = runner.invoke(args=["notifications", "relay"])
    assert result.exit_code == 0, result.output
    assert "sent 3, retrying 0, dead 0" in result.output
    assert "pending 0, sending 0, sent 6" in result.output
    _assert_each_key_once(smtp, 3)
    assert (
        db.session.scalar(
            sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.status == "sent")
        )
        == 6
    )
