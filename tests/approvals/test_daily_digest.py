"""The daily stand-up digest: counted from the queue, sent each working morning, once."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from rq.cron import CronScheduler

from notifications import templates
from notifications.outbox import OutboxMessage
from portal.extensions import db
from portal.models import CalendarOverride, Role, ServiceRequest
from portal.queueing import enqueue, queue
from portal.services import digest
from sla import deadlines, schedule
from sla.jobs import daily_digest_job
from tests.helpers import main, sign_in
from tests.sla.stories import InProcessWorker, almaty

LONG_AGO = almaty(2026, 1, 20, 10, 0)


@pytest.fixture
def desks(make):
    """Two departments with hand-built queues; the digest is read on Wednesday 4 February."""
    licensing, roads = make.department(), make.department()
    permit, repair = make.service(licensing), make.service(roads)
    applicant = make.applicant()
    people = {
        "head": make.employee(licensing, role=Role.HEAD, name="Dana Head"),
        "staff": make.employee(licensing, name="Aigerim Staff"),
        "roads_head": make.employee(roads, role=Role.HEAD, name="Roads Head"),
        "supervisor": make.overseer(),
    }
    n = 0

    def add(service, state="in_review", due_at=None, sla_state="on_track", **fields):
        nonlocal n
        n += 1
        db.session.add(
            ServiceRequest(
                reference=f"T-{n:04d}",
                service=service,
                department_id=service.department_id,
                applicant=applicant,
                description="hand-built",
                state=state,
                submitted_at=fields.pop("submitted_at", LONG_AGO),
                due_at=due_at or almaty(2026, 2, 20, 18, 0),
                sla_state=sla_state,
                **fields,
            )
        )

    add(permit, due_at=almaty(2026, 2, 4, 15, 0))  # due today
    add(  # due today too, but waiting on the applicant: not theirs to do today
        permit,
        state="awaiting_documents",
        due_at=almaty(2026, 2, 4, 17, 0),
        sla_state="paused",
        paused_since=almaty(2026, 2, 2, 10, 0),
    )
    add(permit, due_at=almaty(2026, 2, 5, 18, 0), sla_state="at_risk")
    add(permit, due_at=almaty(2026, 2, 3, 18, 0), sla_state="breached")
    add(permit, state="submitted", submitted_at=almaty(2026, 2, 3, 12, 0))  # new since Tuesday
    add(permit, state="submitted", submitted_at=almaty(2026, 2, 2, 23, 0))  # Monday: not new
    add(permit, state="in_approval")
    add(permit, state="approved", due_at=almaty(2026, 2, 4, 12, 0), sla_state="met")  # closed
    add(repair, due_at=almaty(2026, 1, 30, 18, 0), sla_state="breached")
    db.session.commit()
    return licensing, roads, people


def _counts(department, day):
    return digest.department_digest(department, day).counts


def test_a_departments_digest_counts_its_queue(desks):
    licensing, roads, _ = desks
    counts = _counts(licensing, date(2026, 2, 4))
    assert counts == digest.Counts(
        due_today=1, at_risk=1, breached=1, new=1, waiting=1, in_approval=1
    )
    assert _counts(roads, date(2026, 2, 4)) == digest.Counts(breached=1)
    assert digest.summary(date(2026, 2, 4)).total == digest.Counts(
        due_today=1, at_risk=1, breached=2, new=1, waiting=1, in_approval=1
    )


def test_on_monday_new_means_since_fridays_start(desks, make):
    licensing, _, _ = desks
    # Friday 6 February: new since Friday 00:00 includes the weekend.
    db.session.add(
        ServiceRequest(
            reference="T-FRI",
            service=licensing.services[0],
            department_id=licensing.id,
            applicant=make.applicant(),
            description="over the weekend",
            submitted_at=almaty(2026, 2, 7, 11, 0),
        )
    )
    db.session.commit()
    assert digest.previous_working_day(date(2026, 2, 9)) == date(2026, 2, 6)
    assert _counts(licensing, date(2026, 2, 9)).new == 1


def _outbox():
    db.session.expire_all()
    return db.session.execute(
        sa.select(OutboxMessage.recipient_id, OutboxMessage.channel, OutboxMessage.context)
        .where(OutboxMessage.template == "daily_digest")
        .order_by(OutboxMessage.id)
    ).all()


def _run_digest_jobs(app, times=1):
    jobs = [enqueue(daily_digest_job, queue_name="default") for _ in range(times)]
    InProcessWorker([queue("default")], connection=app.extensions["redis"]).work(burst=True)
    for job in jobs:
        assert job.get_status(refresh=True) == "finished", job.exc_info
    return [job.return_value() for job in jobs]


def test_every_head_and_the_supervisor_get_it_once_a_working_morning(desks, app, travel):
    licensing, roads, people = desks
    travel(almaty(2026, 2, 4, 8, 30))
    results = _run_digest_jobs(app, times=2)
    assert [r["sent"] for r in results] == [3, 0]

    rows = _outbox()
    recipients = [(r.recipient_id, r.channel) for r in rows]
    assert recipients == [
        (people["head"].id, "in_app"),
        (people["head"].id, "email"),
        (people["roads_head"].id, "in_app"),
        (people["roads_head"].id, "email"),
        (people["supervisor"].id, "in_app"),
        (people["supervisor"].id, "email"),
    ]
    head_context = rows[0].context
    assert head_context["counts"] == {
        "due_today": 1,
        "at_risk": 1,
        "breached": 1,
        "new": 1,
        "waiting": 1,
        "in_approval": 1,
    }
    assert head_context["path"] == "/staff/digest"
    assert rows[4].context["counts"]["breached"] == 2
    assert len(rows[4].context["rows"]) == 2

    travel(almaty(2026, 2, 4, 15, 0))  # later the same day: nothing more
    assert _run_digest_jobs(app)[0]["sent"] == 0
    travel(almaty(2026, 2, 5, 8, 30))  # the next morning: a new digest
    assert _run_digest_jobs(app)[0]["sent"] == 3
    assert len(_outbox()) == 12


@pytest.mark.parametrize(
    "moment",
    [
        almaty(2026, 2, 7, 9, 0),  # Saturday
        almaty(2026, 3, 9, 9, 0),  # Monday, the day off for 8 March (a Sunday)
        almaty(2026, 2, 4, 8, 0),  # a working day, but before the digest's time
        almaty(2026, 2, 4, 18, 30),  # and after the office closed
    ],
)
def test_no_digest_on_a_day_off_or_outside_the_morning(desks, app, travel, moment):
    travel(moment)
    (result,) = _run_digest_jobs(app)
    assert result["sent"] == 0 and result["skipped"]
    assert _outbox() == []


def test_the_admins_calendar_decides_what_a_working_day_is(desks, app, travel):
    db.session.add_all(
        [
            CalendarOverride(day=date(2026, 2, 4), kind="holiday", name="Decree: day off"),
            CalendarOverride(day=date(2026, 2, 7), kind="working", name="Decree: transfer"),
        ]
    )
    db.session.commit()
    deadlines.invalidate()
    travel(almaty(2026, 2, 4, 9, 0))
    assert _run_digest_jobs(app)[0]["sent"] == 0
    travel(almaty(2026, 2, 7, 9, 0))  # a Saturday made a working day
    assert _run_digest_jobs(app)[0]["sent"] == 3


def test_the_digest_reads_in_three_languages(desks, app, travel):
    travel(almaty(2026, 2, 4, 8, 30))
    _run_digest_jobs(app)
    head_context = _outbox()[0].context
    supervisor_context = _outbox()[-1].context
    ru = templates.render("daily_digest", "ru", head_context, "https://moldir.test")
    assert "срок сегодня: 1" in ru.body and "4 февраля 2026" in ru.subject
    assert ru.link == "https://moldir.test/staff/digest"
    kk = templates.render("daily_digest", "kk", supervisor_context, "https://moldir.test")
    assert "барлық бөлімдер" in kk.subject and "Бөлім" in kk.body
    en = templates.render("daily_digest", "en", supervisor_context, "https://moldir.test")
    assert "overdue: 2" in en.body and "Open: https://moldir.test/supervisor/digest" in en.body


def test_the_digest_is_on_the_schedule(redis_connection):
    scheduler = CronScheduler(connection=redis_connection, name="test-cron")
    scheduler.load_config_from_file("sla.schedule")
    (job,) = [j for j in scheduler.get_jobs() if j.func_name == "sla.jobs.daily_digest_job"]
    assert job.cron == schedule.DIGEST_CRON
    assert job.queue_name == "default"


def test_heads_and_the_supervisor_read_todays_digest(desks, client, travel):
    licensing, roads, people = desks
    travel(almaty(2026, 2, 4, 10, 0))
    sign_in(client, people["head"])
    page = main(client.get("/staff/digest"))
    assert licensing.name_en in page and "T-0001" in page and "T-0004" in page
    assert "T-0009" not in page  # another department's

    sign_in(client, people["staff"])
    assert client.get("/staff/digest").status_code == 403
    assert client.get("/supervisor/digest").status_code == 403

    sign_in(client, people["supervisor"])
    page = main(client.get("/supervisor/digest"))
    assert licensing.name_en in page and roads.name_en in page


def test_the_digest_counts_the_almaty_day_not_utcs():
    # 00:30 in Almaty on the 4th is still the 3rd in UTC.
    assert digest.local_day(almaty(2026, 2, 4, 0, 30)) == date(2026, 2, 4)


def test_the_digest_lands_in_the_heads_inbox_with_a_link(desks, app, client, travel):
    _, _, people = desks
    travel(almaty(2026, 2, 4, 8, 30))
    _run_digest_jobs(app)
    sign_in(client, people["head"], lang="ru")
    page = main(client.get("/inbox"))
    assert "Планёрка" in page and 'href="/staff/digest"' in page
    page = main(client.get("/staff/digest"))
    assert "Срок сегодня" in page and "Ждут заявителей" in page
