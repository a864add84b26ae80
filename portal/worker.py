"""RQ workers that build the Flask app once, before they fork work horses, and that outlive
a Redis outage.

`rq worker --worker-class portal.worker.AppWorker ...` in production; without it each job
would import and build the whole app in its fresh work horse (seconds, not milliseconds).

RQ's own worker retries a lost connection only while it waits for a job; anywhere else (a
heartbeat during a job, a registry clean-up, the suspension check) the error ends its work
loop and the process exits. Its scheduler child dies on the first error, and lives on as an
orphan, holding the scheduler lock, when the worker is SIGKILLed. Here the worker waits for
Redis with a capped backoff and starts its loop again (registered anew, as an empty Redis
needs), and the scheduler child rides out the outage and dies with its parent.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.scheduler import RQScheduler
from rq.worker import SimpleWorker, Worker, WorkerStatus

from portal import observability, queueing

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
# Waits between reconnection attempts: 0.5, 1, 2, 4, 5, 5, ... seconds.
FIRST_WAIT = 0.5
LONGEST_WAIT = 5.0
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send `sig` to this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


class Backoff:
    """Doubling waits, capped; `reset()` after a success."""

    def __init__(self, first: float = FIRST_WAIT, longest: float = LONGEST_WAIT):
        self.first, self.longest = first, longest
        self.current = first

    def next(self) -> float:
        wait = self.current
        self.current = min(self.current * 2, self.longest)
        return wait

    def reset(self) -> None:
        self.current = self.first


class AppScheduler(RQScheduler):
    """RQ's scheduler child (delayed jobs, retries) that survives an outage and its parent
    does not survive.

    Its locks keep RQ's short TTL (interval + 60 s, refreshed by each heartbeat); a child
    whose worker died releases them at once instead of refreshing them for ever.
    """

    parent_pid = 0

    def start(self):
        self.parent_pid = os.getpid()
        return super().start()

    def orphaned(self) -> bool:
        return bool(self.parent_pid) and os.getppid() != self.parent_pid

    def work(self):
        die_with_parent()
        self._install_signal_handlers()
        backoff = Backoff()
        registered = False
        while True:
            if self._stop_requested or self.orphaned():
                if self.orphaned():
                    self.log.warning("Scheduler: its worker is gone; releasing the locks")
                try:
                    self.stop()
                except REDIS_DOWN:
                    pass  # the locks expire on their own (interval + 60 s)
                return
            try:
                if not registered:
                    self.register_birth()
                    registered = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                # Refreshes the locks, or takes them again from an emptied Redis.
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                backoff.reset()
                wait = float(self.interval)
            except REDIS_DOWN as error:
                registered = False
                wait = backoff.next()
                self.log.warning(
                    "Scheduler: Redis unreachable (%s); retrying in %.1f s", error, wait
                )
            self._pause(wait)

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop_requested and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


class SelfHealing:
    """What both worker classes add to RQ's: reconnect, re-register, never give up on Redis."""

    # RQ's own backoff while waiting for a job doubles up to a minute; an outage of a few
    # seconds should not cost a minute of idleness afterwards.
    max_connection_wait_time = LONGEST_WAIT

    def work(self, *args, **kwargs):
        burst = kwargs.get("burst", args[0] if args else False)
        bounded = burst or kwargs.get("max_jobs") or kwargs.get("max_idle_time")
        backoff = Backoff()
        while True:
            started = time.monotonic()
            try:
                worked = super().work(*args, **kwargs)
            except REDIS_DOWN as error:  # only from teardown: the loop itself catches all
                self.log.warning("Worker %s: Redis lost during teardown: %s", self.name, error)
                worked = False
            if bounded or self._stop_requested:
                return worked
            # The loop ended without being asked to: Redis went away (or an unexpected
            # error). Finish the job in hand, wait for Redis, and start over.
            if time.monotonic() - started > 60:
                backoff.reset()
            try:
                self._settle_horse()
                if not self._await_redis(backoff):
                    return worked
                self._forget_registration()
            except StopRequested:
                return worked
            self.log.warning("Worker %s: Redis is back; starting again", self.name)

    def request_stop(self, signum, frame):
        # RQ raises StopRequested without noting it when idle; the loop above must know a
        # stop was asked for, not mistake it for a lost Redis.
        self._stop_requested = True
        super().request_stop(signum, frame)

    def _await_redis(self, backoff: Backoff) -> bool:
        """Ping with backoff until Redis answers (True) or a stop is requested (False)."""
        # Until the loop's own handlers are back, a signal stops us at the next check.
        signal.signal(signal.SIGTERM, self._stop_while_waiting)
        signal.signal(signal.SIGINT, self._stop_while_waiting)
        while not self._stop_requested:
            wait = backoff.next()
            deadline = time.monotonic() + wait
            while not self._stop_requested and time.monotonic() < deadline:
                time.sleep(0.2)
            try:
                self.connection.ping()
                return not self._stop_requested
            except REDIS_DOWN as error:
                self.log.warning(
                    "Worker %s: Redis unreachable (%s); retrying in %.1f s",
                    self.name,
                    error,
                    backoff.current,
                )
        return False

    def _stop_while_waiting(self, signum, frame):
        self._stop_requested = True

    def _settle_horse(self) -> None:
        """A job running in a work horse when the loop broke is let finish (its own job
        timeout bounds it); nothing else would collect it."""
        pid = getattr(self, "_horse_pid", 0)
        if not pid:
            return
        deadline = time.monotonic() + queueing.JOB_TIMEOUT + 60
        while time.monotonic() < deadline:
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            time.sleep(0.2)
        else:
            self.kill_horse()
        self._horse_pid = 0
        self._state = WorkerStatus.IDLE

    def _forget_registration(self) -> None:
        """Mark the old registration dead, so that bootstrap's register_birth() accepts the
        same name again when Redis kept its data (an emptied one has nothing to forget)."""
        try:
            self.register_death()
        except REDIS_DOWN:
            pass

    def teardown(self):
        """RQ's teardown, each step on its own: with Redis down, the first failing step
        must not leave the pubsub thread or the scheduler child behind."""
        if self.is_horse:
            return super().teardown()
        if self.scheduler:
            self.stop_scheduler()
            self.scheduler = None
        try:
            self.register_death()
        except REDIS_DOWN as error:
            self.log.warning("Worker %s: could not register death: %s", self.name, error)
        self.unsubscribe()

    def unsubscribe(self):
        if not self.pubsub_thread:
            return
        try:
            self.pubsub.unsubscribe()
        except REDIS_DOWN:
            pass
        self.pubsub_thread.stop()
        self.pubsub_thread.join(timeout=1)
        try:
            self.pubsub.close()
        except REDIS_DOWN:
            pass
        self.pubsub_thread = None

    def heartbeat(self, timeout=None, pipeline=None):
        """RQ's heartbeat; when the worker's hash had vanished (Redis emptied), register
        the worker again, so that it is listed (rq info, /healthz) as it really is."""
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        with self.connection.pipeline() as beat:
            super().heartbeat(timeout, pipeline=beat)
            created = beat.execute()[0]
        if created:
            with self.connection.pipeline() as again:
                again.hset(self.key, mapping=self.serialize())
                again.expire(self.key, timeout or self.worker_ttl + 60)
                worker_registration.register(self, again)
                again.execute()
            self.log.info("Worker %s: registered again (Redis had forgotten it)", self.name)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ):
        """RQ's own (rq/worker/base.py), with the scheduler class above."""
        self.scheduler = AppScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()


class AppWorker(SelfHealing, Worker):
    """The forking worker (a crashed or stuck job cannot take the worker down)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        queueing.preload_app()
        observability.adopt_rq_logging()


class AppSimpleWorker(SelfHealing, SimpleWorker):
    """Runs jobs in its own process: fastest, for short jobs such as the outbox relay."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        queueing.preload_app()
        observability.adopt_rq_logging()
