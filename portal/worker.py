"""RQ workers that build the Flask app once, before they fork work horses.

`rq worker --worker-class portal.worker.AppWorker ...` in production; without it each job
would import and build the whole app in its fresh work horse (seconds, not milliseconds).
"""

from __future__ import annotations

from rq.worker import SimpleWorker, Worker

from portal import observability, queueing


class AppWorker(Worker):
    """The forking worker (a crashed or stuck job cannot take the worker down)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        queueing.preload_app()
        observability.adopt_rq_logging()


class AppSimpleWorker(SimpleWorker):
    """Runs jobs in its own process: fastest, for short jobs such as the outbox relay."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        queueing.preload_app()
        observability.adopt_rq_logging()
