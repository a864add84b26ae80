"""The periodic schedule's process: RQ's cron scheduler, kept alive through Redis outages.

    python -m portal.cron --url redis://127.0.0.1:6379/0 [sla.schedule]

What `rq cron sla.schedule` does, except that RQ's loop ends at the first Redis error and
the process exits: here it waits with a capped backoff and carries on, registering itself
again when Redis comes back empty (the schedule itself lives in this process).
"""

from __future__ import annotations

import argparse
import sys
import time

from redis import Redis
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

from portal import config
from portal.worker import REDIS_DOWN, Backoff

DEFAULT_SCHEDULE = "sla.schedule"


class AppCronScheduler(CronScheduler):
    def start(self):
        self.log.info("CronScheduler %s: starting...", self.name)
        self._install_signal_handlers()
        backoff = Backoff()
        registered = False
        outage = False
        try:
            while True:
                try:
                    if not registered:
                        self.register_birth()
                        registered = True
                    if outage:
                        self.catch_up()
                        outage = False
                    if self.enqueue_jobs():
                        self.save()
                    # Re-creates the registration and the hash if Redis lost them.
                    self.heartbeat()
                    backoff.reset()
                    pause = self.calculate_sleep_interval()
                except REDIS_DOWN as error:
                    registered, outage = False, True
                    pause = backoff.next()
                    self.log.warning(
                        "CronScheduler %s: Redis unreachable (%s); retrying in %.1f s",
                        self.name,
                        error,
                        pause,
                    )
                if pause > 0:
                    time.sleep(pause)
        except (KeyboardInterrupt, StopRequested):
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            try:
                self.register_death()
            except REDIS_DOWN:
                pass  # the registration expires on its own
            self.log.info("CronScheduler %s: shutdown complete", self.name)

    def catch_up(self) -> None:
        """After an outage, run every interval job now: what Redis held (queued relays, the
        sweep's figures) may be gone, and the re-drive and the sweep rebuild it from the
        database. Cron-expression jobs keep their times."""
        for job in self._cron_jobs:
            if job.interval:
                job.latest_enqueue_time = None
                job.next_enqueue_time = None
        self.log.info("CronScheduler %s: Redis is back; running the interval jobs now", self.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portal.cron", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--url", "-u", default=None, help="Redis URL (default: REDIS_URL)")
    parser.add_argument(
        "--logging-level",
        "-l",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
    )
    parser.add_argument("schedule", nargs="?", default=DEFAULT_SCHEDULE)
    options = parser.parse_args(argv)

    url = options.url or config.redis_url()
    if not url:
        parser.error("no Redis: pass --url or set REDIS_URL")
    # Bounded waits: a Redis that stops answering is an error to retry, not a hang.
    connection = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    scheduler = AppCronScheduler(connection=connection, logging_level=options.logging_level)
    scheduler.load_config_from_file(options.schedule)
    scheduler.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
