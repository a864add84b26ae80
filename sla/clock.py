"""The one clock of the system.

Everything that asks "what time is it?" asks `now()`. Tests move it with time-machine;
nothing sleeps through time. `travel` lets the seed and benchmarks write history.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

_fixed: datetime | None = None


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    if _fixed is not None:
        return _fixed
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
