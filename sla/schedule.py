"""The periodic schedule, declared in one place: `rq cron sla.schedule`."""

from rq import cron

from notifications.jobs import redrive_job
from sla.jobs import sweep_job

# A tick every few seconds costs one index probe when nothing is due.
SWEEP_INTERVAL_SECONDS = 2
# The outbox re-drive: settles claims of lost workers and re-queues the relay when rows
# are due (retries whose time has come, or work a wiped Redis forgot).
OUTBOX_REDRIVE_INTERVAL_SECONDS = 30

cron.register(
    sweep_job,
    queue_name="sla",
    interval=SWEEP_INTERVAL_SECONDS,
    job_timeout=120,
    result_ttl=60,
    failure_ttl=24 * 3600,
)
cron.register(
    redrive_job,
    queue_name="notifications",
    interval=OUTBOX_REDRIVE_INTERVAL_SECONDS,
    job_timeout=120,
    result_ttl=60,
    failure_ttl=24 * 3600,
)
