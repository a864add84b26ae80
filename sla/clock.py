"""The one clock of the system.

Everything that asks "what time is it?" asks `now()`. Tests move it with time-machine;
nothing sleeps through time. `travel` lets the seed and benchmarks write history.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

_fixed: datetime | None = None


def _run_clock() -> tuple[float, datetime, float] | None:
    """MOLDIR_CLOCK="<unix time>,<ISO instant>,<rate>": for benches and fault tests only.

    Worker processes cannot be handed a time-machine; with this in their environment every
    process of a run reads the same clock: the ISO instant at that unix time, then running
    `rate` times as fast. Never set in production.
    """
    value = os.environ.get("MOLDIR_CLOCK")
    if not value:
        return None
    real, at, rate = value.split(",")
    return float(real), datetime.fromisoformat(at).astimezone(UTC), float(rate)


_run = _run_clock()


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    if _fixed is not None:
        return _fixed
    if _run is not None:
        real, at, rate = _run
        return at + timedelta(seconds=(time.time() - real) * rate)
    return datetime.now(UTC)


@contextlib.contextmanager
def travel(at: datetime) -> Iterator[None]:
    """Within the block, `now()` answers `at` (aware). Not for use in requests."""
    global _fixed
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    previous, _fixed = _fixed, at.astimezone(UTC)
    try:
        yield
    finally:
        _fixed = previous
