"""The periodic schedule, declared in one place: `rq cron sla.schedule`."""

from rq import cron

from notifications.jobs import redrive_job
from sla.jobs import daily_digest_job, sweep_job

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

# The daily stand-up digest. RQ reads cron expressions in the scheduler host's own time
# zone, and the government moves working days onto Saturdays, so a weekday-only cron at
# 08:30 Almaty would be wrong twice over: the job runs every half hour, and itself sends
# each working morning from 08:30 Almaty, once a day (idempotency key per person per date).
DIGEST_CRON = "0,30 * * * *"

cron.register(
    daily_digest_job,
    queue_name="default",
    cron=DIGEST_CRON,
    job_timeout=300,
    result_ttl=3600,
    failure_ttl=24 * 3600,
)
