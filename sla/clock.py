"""The one clock of the system.

Everything that asks "what time is it?" asks `now()`. Tests move it with time-machine;
nothing sleeps through time. `travel` lets the seed and benchmarks write history.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

_fixed: datetime | None = None


_run: tuple[float, datetime, float] | None = None


def run_from(value: str | None) -> None:
    """Set the running clock from the MOLDIR_CLOCK setting, "<unix time>,<ISO instant>,<rate>"
    (benches and fault tests only; empty: the real clock). `create_app` calls it.

    Worker processes cannot be handed a time-machine; with this in their environment every
    process of a run reads the same clock: the ISO instant at that unix time, then running
    `rate` times as fast. Never set in production.
    """
    global _run
    if not value:
        _run = None
        return
    real, at, rate = value.split(",")
    _run = float(real), datetime.fromisoformat(at).astimezone(UTC), float(rate)


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
