"""Faults: a worker killed mid-job, Redis wiped, PostgreSQL crashed, and nothing is lost.

The scenario of `bench/faults.py` with fewer requests: real workers and `rq cron` against
a private PostgreSQL and Redis (started here, never the shared ones), the SLA clock moved
forward through a working week, the faults injected while jobs run. Every request, event,
escalation, outbox row, in-app notice and email that should exist exists exactly once.

It runs in the PostgreSQL + Redis stage (DATABASE_URL and REDIS_URL set): about 2 min.
"""

from __future__ import annotations

import os

import pytest

from bench import faults

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgresql")
        or not os.environ.get("REDIS_URL"),
        reason="the fault suite runs with PostgreSQL and a real Redis (DATABASE_URL, REDIS_URL)",
    ),
]

REQUESTS = 120
RATE = 3600  # an SLA hour per real second: the week's 76 hours in 76 s


@pytest.fixture(scope="module")
def outcome():
    missing = faults.missing_tools()
    if missing:
        pytest.skip("the fault suite needs " + ", ".join(missing))
    result = faults.run(n=REQUESTS, rate=RATE, timeout=120)
    print(faults.table(result))
    return result


def test_every_fault_was_injected_while_jobs_ran(outcome):
    assert [f.what for f in outcome.faults] == [
        "flushall",
        "kill relay",
        "kill sweep",
        "restart postgres",
    ]


def test_nothing_owed_is_lost_and_nothing_is_done_twice(outcome):
    lines = {
        what: (want, found, missing, dup, extra)
        for what, want, found, missing, dup, extra in outcome.rows
    }
    assert lines["requests"] == (REQUESTS, REQUESTS, 0, 0, 0)
    broken = {
        what: line
        for what, line in lines.items()
        if not what.startswith("emails received") and any(line[2:])
    }
    assert broken == {}
    assert lines["outbox rows not sent"][1] == 0


def test_each_email_arrives_once_but_for_smtps_own_window(outcome):
    """A second copy is allowed only where SMTP allows no better: the worker died between
    the server's 250 and the receipt (then it bears the same Message-ID)."""
    for what in ("emails received (by Message-ID)", "emails received (by recipient, key)"):
        ((_, want, found, missing, duplicated, unexpected),) = [
            row for row in outcome.rows if row[0] == what
        ]
        assert (missing, unexpected) == (0, 0), what
        assert duplicated <= outcome.window_duplicates, what
    assert outcome.problems == []
