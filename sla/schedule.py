"""The periodic schedule, declared in one place: `rq cron sla.schedule`."""

from rq import cron

from sla.jobs import sweep_job

# A tick every few seconds costs one index probe when nothing is due.
SWEEP_INTERVAL_SECONDS = 2

cron.register(sweep_job, queue_name="sla", interval=SWEEP_INTERVAL_SECONDS, job_timeout=120,
              result_ttl=60, failure_ttl=24 * 3600)
