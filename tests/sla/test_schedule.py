"""`sla/schedule.py` declares the sweep in RQ's cron registry, as `rq cron` loads it."""

from rq.cron import CronScheduler
from rq.job import Job

from sla import schedule
from tests.sla.stories import almaty as at
from tests.sla.stories import escalations, open_office, run_worker, submit


def _loaded(connection) -> CronScheduler:
    scheduler = CronScheduler(connection=connection, name="test-cron")
    # A dotted module path, as `rq cron sla.schedule` passes it: RQ imports (or reloads)
    # the module, whose `rq.cron.register` calls land in this scheduler.
    scheduler.load_config_from_file("sla.schedule")
    return scheduler


def _sweep(jobs):
    (job,) = [job for job in jobs if job.func_name == "sla.jobs.sweep_job"]
    return job


def test_the_sweep_is_registered_on_the_sla_queue_every_few_seconds(redis_connection):
    job = _sweep(_loaded(redis_connection).get_jobs())
    assert job.func_name == "sla.jobs.sweep_job"
    assert job.queue_name == "sla"
    assert job.cron is None
    assert job.interval == schedule.SWEEP_INTERVAL_SECONDS
    assert 0 < job.interval <= 10
    assert job.job_options["job_timeout"] <= 300


def test_loading_twice_does_not_register_twice(redis_connection):
    once = len(_loaded(redis_connection).get_jobs())
    assert len(_loaded(redis_connection).get_jobs()) == once


def test_the_scheduled_job_sweeps_through_a_worker(app, make, travel, redis_connection):
    office = open_office(make, target_days=5)
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)
    travel(at(2026, 2, 6, 14, 0))

    scheduler = _loaded(redis_connection)
    enqueued = _sweep(scheduler.enqueue_jobs())
    assert scheduler.enqueue_jobs() == []  # not again within the interval
    run_worker(app)

    assert escalations(request) == [("at_risk", 0, office.employee.id)]
    (job_id,) = enqueued.get_job_ids(redis_connection)
    job = Job.fetch(job_id, connection=redis_connection)
    assert job.return_value()["fired"] == {"at_risk": 1}
