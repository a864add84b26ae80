"""Fixtures for the SLA stories."""

import pytest

from sla import deadlines


@pytest.fixture(autouse=True)
def _fresh_calendar():
    """Every story reads the calendar from its own database.

    `deadlines.calendar()` is cached per process, and its age is measured on
    `time.monotonic()`, which time-machine moves too: travelling back in time would keep an
    earlier story's overrides alive. Drop the cache on both sides of each test.
    """
    deadlines.invalidate()
    yield
    deadlines.invalidate()
