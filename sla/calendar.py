"""Working calendar for SLA deadlines: weekends, public holidays and office hours.

Deadlines in the portal are promised in *working days* and shifted by paused time in
*working seconds*, so both need one shared notion of "when is the akimat open". This module
is deliberately free of Flask and the database so it can be used (and tested) on its own.

Arithmetic on instants is done in UTC, so it stays exact even in zones with DST; results are
returned in the calendar's zone. Asia/Almaty has no DST and has been UTC+5 since 2024-03-01
(tzdata >= 2024a).
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

__all__ = ["EXTRA_HOLIDAY_LABEL", "WorkingCalendar"]

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_SATURDAY, _SUNDAY = 5, 6
#: Label used by :meth:`WorkingCalendar.holiday_name` for extra holidays given without a name.
EXTRA_HOLIDAY_LABEL = "Additional day off"


# The rules that date a country's moving holidays, on the package's lunar calendar: a date
# is estimated until the package holds the decreed one (Kurban Ait is KZ's only such day).
_LUNAR_RULES = ("eid_al_adha_dates", "eid_al_fitr_dates")


def _estimated_dates(package: holidays.HolidayBase, year: int) -> frozenset[date]:
    lunar = getattr(package, "_islamic_calendar", None)
    if lunar is None:
        return frozenset()
    return frozenset(
        day
        for rule in _LUNAR_RULES
        if hasattr(lunar, rule)
        for day, estimated in getattr(lunar, rule)(year)
        if estimated and day.year == year and day in package
    )


def _named_package(country: str, year: int, language: str | None, translate: Callable | None):
    """The package's holidays of `year` with names in `language` (one the package speaks),
    or in English passed through `translate` (for a language it does not speak). Names
    never carry the package's "(estimated)" label: that is a flag, not a name."""
    cls = type(holidays.country_holidays(country))
    if translate is not None:
        base = cls

        class Translated(base):  # each part of a name (a holiday, "%s (observed)") in turn
            def _init_translation(self) -> None:
                super()._init_translation()
                english = self.tr
                self.tr = lambda message: translate(english(message))

        cls, language = Translated, "en_US"
    try:
        return cls(years=year, language=language, islamic_show_estimated=False)
    except TypeError:  # a country without lunar holidays
        return cls(years=year, language=language)


def _as_dates(values: Iterable[date], what: str) -> frozenset[date]:
    out = set()
    for value in values:
        # A datetime is a date subclass but never equal to one: it would silently never match.
        if not isinstance(value, date) or isinstance(value, datetime):
            raise TypeError(f"{what} must contain datetime.date objects, got {value!r}")
        out.add(value)
    return frozenset(out)


def _check_date(d: date) -> date:
    if not isinstance(d, date) or isinstance(d, datetime):
        raise TypeError(f"expected a datetime.date (not a datetime), got {d!r}")
    return d


def _to_utc(t: datetime) -> datetime:
    if not isinstance(t, datetime):
        raise TypeError(f"expected a datetime, got {t!r}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()} is ambiguous; pass an aware datetime")
    return t.astimezone(UTC)


def _non_negative(value: int, what: str) -> int:
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    return value


class WorkingCalendar:
    """Working days and office hours of an administration.

    A date is a working day unless it is a Saturday/Sunday or a public holiday of ``country``
    according to the ``holidays`` package (including its observed/transferred days off).
    Weekend dates the package declares working (``weekend_workdays``, e.g. KZ 2025-01-05)
    are working days. On top of that, ``extra_holidays`` are days off and
    ``extra_working_days`` are working days (government-decreed transfers the package does
    not know yet). Precedence: extra working day > extra holiday > package > weekend rule.

    ``extra_holidays`` may also be a mapping ``{date: name}``; the names are reported by
    :meth:`holiday_name`.

    Office hours are ``[opens, closes)`` local time on working days. Holiday data are loaded
    lazily, one year at a time, and cached; instances are safe to share between threads.
    """

    def __init__(
        self,
        country: str = "KZ",
        tz: str | ZoneInfo = "Asia/Almaty",
        opens: time = time(9),
        closes: time = time(18),
        extra_holidays: Iterable[date] | Mapping[date, str] = (),
        extra_working_days: Iterable[date] = (),
    ) -> None:
        for name, value in (("opens", opens), ("closes", closes)):
            if not isinstance(value, time) or value.tzinfo is not None:
                raise TypeError(f"{name} must be a naive datetime.time, got {value!r}")
        if not opens < closes:
            raise ValueError(f"office must open before it closes ({opens} >= {closes})")
        # Fail fast on an unknown country instead of on the first deadline computation.
        try:
            holidays.country_holidays(country)
        except NotImplementedError as exc:
            raise ValueError(f"no holiday data for country {country!r}") from exc

        self._country = country
        self._tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self._opens = opens
        self._closes = closes
        self._extra_holidays = _as_dates(extra_holidays, "extra_holidays")
        self._extra_holiday_names: dict[date, str] = (
            {d: str(n) for d, n in extra_holidays.items()}
            if isinstance(extra_holidays, Mapping)
            else {}
        )
        self._extra_working_days = _as_dates(extra_working_days, "extra_working_days")
        self._days_off: dict[int, frozenset[date]] = {}
        self._names: dict[int, dict[date, str]] = {}
        self._estimated: dict[int, frozenset[date]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"WorkingCalendar(country={self._country!r}, tz={self._tz.key!r}, "
            f"opens={self._opens!r}, closes={self._closes!r}, "
            f"extra_holidays={len(self._extra_holidays)} dates, "
            f"extra_working_days={len(self._extra_working_days)} dates)"
        )

    @property
    def country(self) -> str:
        return self._country

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def opens(self) -> time:
        return self._opens

    @property
    def closes(self) -> time:
        return self._closes

    @property
    def office_seconds_per_day(self) -> int:
        """Seconds the office is open on a working day: one working day of an SLA."""
        opens = self._opens.hour * 3600 + self._opens.minute * 60 + self._opens.second
        closes = self._closes.hour * 3600 + self._closes.minute * 60 + self._closes.second
        return closes - opens

    # ------------------------------------------------------------------ year cache

    def _load_year(self, year: int) -> frozenset[date]:
        with self._lock:
            cached = self._days_off.get(year)
            if cached is not None:
                return cached
            # A fresh object per year: expanding a shared HolidayBase is not thread-safe.
            package = holidays.country_holidays(self._country, years=year)
            names = {d: name for d, name in package.items() if d.year == year}
            off = set(names)
            day = date(year, 1, 1)
            # From the Saturday on or before 1 January, so a Sunday 1 January is counted too.
            day -= timedelta(days=(day.weekday() - _SATURDAY) % 7)
            while day <= date(year, 12, 31):
                for weekend_day in (day, day + _ONE_DAY):
                    if weekend_day.year == year and weekend_day not in package.weekend_workdays:
                        off.add(weekend_day)
                day += timedelta(days=7)
            off.update(d for d in self._extra_holidays if d.year == year)
            off.difference_update(self._extra_working_days)
            frozen = frozenset(off)
            self._names[year] = names
            self._estimated[year] = _estimated_dates(package, year)
            self._days_off[year] = frozen
            return frozen

    def _is_working(self, d: date) -> bool:
        off = self._days_off.get(d.year)
        if off is None:
            off = self._load_year(d.year)
        return d not in off

    def _next_working(self, d: date) -> date:
        d += _ONE_DAY
        while not self._is_working(d):
            d += _ONE_DAY
        return d

    def _open_utc(self, d: date) -> datetime:
        return datetime.combine(d, self._opens, tzinfo=self._tz).astimezone(UTC)

    def _close_utc(self, d: date) -> datetime:
        return datetime.combine(d, self._closes, tzinfo=self._tz).astimezone(UTC)

    # ------------------------------------------------------------------ days

    def is_working_day(self, d: date) -> bool:
        """Whether the office works on local date ``d`` (weekends, holidays, overrides)."""
        return self._is_working(_check_date(d))

    def holiday_name(self, d: date) -> str | None:
        """Why ``d`` is a day off, for display; ``None`` for working days and plain weekends.

        Package names win over names given in ``extra_holidays``; extra holidays without a
        name are reported as ``EXTRA_HOLIDAY_LABEL``.
        """
        _check_date(d)
        if self._is_working(d):
            return None
        name = self._names[d.year].get(d)
        if name is None and d in self._extra_holidays:
            name = self._extra_holiday_names.get(d, EXTRA_HOLIDAY_LABEL)
        return name

    def holiday_names(
        self, year: int, language: str | None = None, translate: Callable[[str], str] | None = None
    ) -> dict[date, str]:
        """The package's holiday names of ``year`` in ``language``, one the package speaks
        (``holidays.KZ.supported_languages``: "kk", "en_US"); for another, ``translate`` is
        given each English part of a name ("Victory Day", "%s (observed)") and returns it
        translated (a gettext). Names of extra holidays are as given."""
        package = _named_package(self._country, year, language, translate)
        names = {d: name for d, name in package.items() if d.year == year}
        for d in self._extra_holidays:
            if d.year == year and d not in names:
                names[d] = self._extra_holiday_names.get(d, EXTRA_HOLIDAY_LABEL)
        return names

    def is_estimated(self, d: date) -> bool:
        """Whether ``d`` is a moving holiday whose date the package only estimates (a lunar
        date not yet decreed) and that no admin has confirmed as an extra holiday."""
        _check_date(d)
        self._is_working(d)  # loads the year
        return d in self._estimated[d.year] and d not in self._extra_holidays

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        return self._next_working(_check_date(d))

    def working_days_between(self, a: date, b: date) -> int:
        """Number of working days in ``(a, b]``; 0 when ``b <= a`` (no negative spans).

        This is how many working days a request submitted on ``a`` has used by ``b``.
        """
        _check_date(a)
        _check_date(b)
        count = 0
        d = a + _ONE_DAY
        while d <= b:
            if self._is_working(d):
                count += 1
            d += _ONE_DAY
        return count

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """Deadline for a target of ``n`` working days from submission at ``start``.

        The deadline is the close of office hours on the n-th working day after the local
        date of ``start``; the submission day itself never counts, whatever the hour. For
        ``n == 0`` it is the close of the submission day if that is a working day (even if
        ``start`` is already after hours), else of the next working day.

        Raises ``ValueError`` for a naive ``start`` or a negative ``n``.
        """
        d = _to_utc(start).astimezone(self._tz).date()
        n = _non_negative(n, "n")
        if n == 0:
            if not self._is_working(d):
                d = self._next_working(d)
        else:
            for _ in range(n):
                d = self._next_working(d)
        return self.office_close_at(d)

    # ------------------------------------------------------------------ office hours

    def office_open_at(self, d: date) -> datetime:
        """Opening instant on local date ``d`` (aware, calendar zone; working day or not)."""
        return self._open_utc(_check_date(d)).astimezone(self._tz)

    def office_close_at(self, d: date) -> datetime:
        """Closing instant on local date ``d`` (aware, calendar zone; working day or not)."""
        return self._close_utc(_check_date(d)).astimezone(self._tz)

    def is_office_hours(self, t: datetime) -> bool:
        """Whether the aware instant ``t`` falls in ``[opens, closes)`` of a working day."""
        u = _to_utc(t)
        d = u.astimezone(self._tz).date()
        return self._is_working(d) and self._open_utc(d) <= u < self._close_utc(d)

    def next_office_moment(self, t: datetime) -> datetime:
        """``t`` itself (in the calendar zone) if the office is open then, else next opening."""
        u = _to_utc(t)
        d = u.astimezone(self._tz).date()
        if self._is_working(d):
            if u < self._open_utc(d):
                return self._open_utc(d).astimezone(self._tz)
            if u < self._close_utc(d):
                return u.astimezone(self._tz)
        return self._open_utc(self._next_working(d)).astimezone(self._tz)

    def working_seconds_between(self, a: datetime, b: datetime) -> int:
        """Office-hour seconds in ``[a, b)``, floored to whole seconds; 0 when ``b <= a``.

        Used to measure how much SLA time a pause consumed. Iterates over days, never seconds.
        """
        a_u, b_u = _to_utc(a), _to_utc(b)
        if b_u <= a_u:
            return 0
        d = a_u.astimezone(self._tz).date()
        last = b_u.astimezone(self._tz).date()
        total = timedelta(0)
        while d <= last:
            if self._is_working(d):
                lo = max(a_u, self._open_utc(d))
                hi = min(b_u, self._close_utc(d))
                if hi > lo:
                    total += hi - lo
            d += _ONE_DAY
        return total // _ONE_SECOND

    def add_working_seconds(self, start: datetime, s: int) -> datetime:
        """Shift ``start`` by ``s`` office-hour seconds (e.g. to extend a deadline by a pause).

        For ``s > 0`` the result is the earliest instant ``t`` with
        ``working_seconds_between(start, t) == s``: time outside office hours is skipped, and
        a result landing exactly on a closing time stays there rather than jumping to the next
        opening. ``s == 0`` returns ``start`` unchanged (as the same instant in the calendar
        zone), even outside office hours. Raises ``ValueError`` for naive ``start`` or
        negative ``s``.
        """
        u = _to_utc(start)
        s = _non_negative(s, "s")
        if s == 0:
            return u.astimezone(self._tz)
        remaining = timedelta(seconds=s)
        d = u.astimezone(self._tz).date()
        while True:
            if self._is_working(d):
                lo = max(u, self._open_utc(d))
                hi = self._close_utc(d)
                if hi > lo:
                    available = hi - lo
                    if remaining <= available:
                        return (lo + remaining).astimezone(self._tz)
                    remaining -= available
            d += _ONE_DAY
