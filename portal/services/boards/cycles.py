"""12-week cycles: the reform's planning periods, counted from the configured first day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from portal import config
from sla import clock

CYCLE_WEEKS = 12


@dataclass(frozen=True)
class Cycle:
    number: int
    first_day: date
    last_day: date  # inclusive

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first_day, datetime.min.time(), zone)
        return start, start + timedelta(weeks=CYCLE_WEEKS)


def cycle_start() -> date:
    return config.cycle_start()


def cycle_of(day: date) -> Cycle:
    start = cycle_start()
    number = (day - start).days // (7 * CYCLE_WEEKS) + 1
    return cycle(number)


def cycle(number: int) -> Cycle:
    first = cycle_start() + timedelta(weeks=CYCLE_WEEKS * (number - 1))
    return Cycle(number, first, first + timedelta(weeks=CYCLE_WEEKS, days=-1))


def current_cycle(now: datetime | None = None) -> Cycle:
    return cycle_of((now or clock.now()).astimezone(config.zone()).date())


def cycles(now: datetime | None = None) -> list[Cycle]:
    """Every cycle from the first to the current one, newest first."""
    latest = max(current_cycle(now).number, 1)
    return [cycle(n) for n in range(latest, 0, -1)]
