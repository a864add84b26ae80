"""Stories for the SLA working calendar (no app, no database)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendar import EXTRA_HOLIDAY_LABEL, WorkingCalendar
from tests.factories import ALMATY, almaty

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

KZ = WorkingCalendar()
# A zone with DST, to check that office-hour arithmetic works on instants, not wall clocks.
DE = WorkingCalendar(country="DE", tz=BERLIN, opens=time(8, 30), closes=time(17))
# Overrides, to check the properties hold whatever the day-off source is.
KZ_DECREED = WorkingCalendar(
    extra_holidays={date(2026, 4, 3), date(2026, 12, 31), date(2027, 1, 5)},
    extra_working_days={date(2026, 3, 21), date(2026, 12, 26), date(2027, 1, 4)},
)
CALENDARS = st.sampled_from([KZ, DE, KZ_DECREED])

FAST = settings(max_examples=200, deadline=None, database=None)


# ---------------------------------------------------------------- 2026 holidays

KZ_2026_DAYS_OFF = [
    date(2026, 1, 1),
    date(2026, 1, 2),
    date(2026, 1, 7),
    date(2026, 3, 8),
    date(2026, 3, 9),
    date(2026, 3, 21),
    date(2026, 3, 22),
    date(2026, 3, 23),
    date(2026, 3, 24),
    date(2026, 3, 25),
    date(2026, 5, 1),
    date(2026, 5, 7),
    date(2026, 5, 9),
    date(2026, 5, 11),
    date(2026, 5, 27),
    date(2026, 7, 6),
    date(2026, 8, 30),
    date(2026, 8, 31),
    date(2026, 10, 25),
    date(2026, 10, 26),
    date(2026, 12, 16),
]


@pytest.mark.parametrize("day", KZ_2026_DAYS_OFF, ids=str)
def test_kazakh_public_holidays_of_2026_are_days_off(day: date) -> None:
    assert not KZ.is_working_day(day)
    assert KZ.holiday_name(day)


def test_only_the_expected_weekdays_are_off_in_2026() -> None:
    day, weekdays_off = date(2026, 1, 1), set()
    while day.year == 2026:
        if day.weekday() < 5 and not KZ.is_working_day(day):
            weekdays_off.add(day)
        day += timedelta(days=1)
    assert weekdays_off == {d for d in KZ_2026_DAYS_OFF if d.weekday() < 5}
    assert len(weekdays_off) == 15


def test_holiday_names_explain_days_off_but_not_plain_weekends() -> None:
    assert KZ.holiday_name(date(2026, 3, 24)) == "Nowruz Holiday (observed)"
    assert "Eid al-Adha" in KZ.holiday_name(date(2026, 5, 27))
    assert KZ.holiday_name(date(2026, 4, 4)) is None  # ordinary Saturday
    assert KZ.holiday_name(date(2026, 4, 6)) is None  # ordinary Monday


def test_weekend_workday_declared_by_the_package_is_a_working_day() -> None:
    # 2025: Friday 3 January off, worked on Sunday 5 January instead.
    assert not KZ.is_working_day(date(2025, 1, 3))
    assert KZ.is_working_day(date(2025, 1, 5))
    # 2024: Wednesday 8 May off, worked on Saturday 4 May instead.
    assert KZ.is_working_day(date(2024, 5, 4))
    assert not KZ.is_working_day(date(2024, 5, 8))


def test_almaty_is_utc_plus_five_since_2024() -> None:
    assert KZ.office_close_at(date(2026, 3, 27)).utcoffset() == timedelta(hours=5)
    assert KZ.office_close_at(date(2026, 7, 1)).utcoffset() == timedelta(hours=5)
    # Before the 2024-03-01 switch the city was on UTC+6: tzdata must be recent enough.
    assert KZ.office_close_at(date(2023, 6, 1)).utcoffset() == timedelta(hours=6)


# ---------------------------------------------------------------- deadlines in days


def test_deadline_skips_nauryz_holidays() -> None:
    due = KZ.add_working_days(almaty(2026, 3, 20, 15), 2)
    assert due == almaty(2026, 3, 27, 18)
    assert due.isoformat() == "2026-03-27T18:00:00+05:00"


def test_deadline_skips_the_may_holidays() -> None:
    # Thu 30 Apr; off: 1 May, weekend, 7 May, weekend, 11 May (Victory Day observed).
    assert KZ.add_working_days(almaty(2026, 4, 30, 10), 5) == almaty(2026, 5, 12, 18)


def test_deadline_skips_estimated_eid_al_adha() -> None:
    assert KZ.add_working_days(almaty(2026, 5, 26, 10), 1) == almaty(2026, 5, 28, 18)


def test_weekend_submission_counts_from_the_next_working_day() -> None:
    saturday = almaty(2026, 4, 4, 11)
    assert KZ.add_working_days(saturday, 1) == almaty(2026, 4, 6, 18)
    assert KZ.add_working_days(saturday, 0) == almaty(2026, 4, 6, 18)


def test_submission_after_hours_gets_the_same_deadline_as_during_hours() -> None:
    during, after = almaty(2026, 4, 2, 10), almaty(2026, 4, 2, 20)
    assert KZ.add_working_days(after, 1) == KZ.add_working_days(during, 1) == almaty(2026, 4, 3, 18)


def test_late_evening_utc_submission_belongs_to_the_next_almaty_day() -> None:
    # 20:00 UTC on Thursday is 01:00 on Friday in Almaty.
    due = KZ.add_working_days(datetime(2026, 4, 2, 20, tzinfo=UTC), 1)
    assert due == almaty(2026, 4, 6, 18)


def test_utc_submission_gets_the_same_deadline_expressed_in_almaty() -> None:
    from_utc = KZ.add_working_days(datetime(2026, 3, 20, 10, tzinfo=UTC), 2)
    assert from_utc == KZ.add_working_days(almaty(2026, 3, 20, 15), 2)
    assert from_utc.tzinfo == ALMATY
    assert isinstance(from_utc.tzinfo, ZoneInfo)
    assert from_utc.astimezone(UTC) == datetime(2026, 3, 27, 13, tzinfo=UTC)
    assert (from_utc.hour, from_utc.minute) == (18, 0)


def test_deadline_runs_across_new_year() -> None:
    # Dec 30, Dec 31, then 1-2 Jan holidays, weekend, 4 Jan (observed) -> 5 Jan 2027.
    assert KZ.add_working_days(almaty(2026, 12, 29, 10), 3) == almaty(2027, 1, 5, 18)


def test_zero_day_target_is_due_at_close_of_the_submission_day_or_next_working_day() -> None:
    assert KZ.add_working_days(almaty(2026, 4, 2, 10), 0) == almaty(2026, 4, 2, 18)
    # Even after hours: "today" is still today.
    assert KZ.add_working_days(almaty(2026, 4, 2, 21), 0) == almaty(2026, 4, 2, 18)
    assert KZ.add_working_days(almaty(2026, 3, 21, 10), 0) == almaty(2026, 3, 26, 18)


def test_extra_holiday_moves_the_deadline() -> None:
    decreed = WorkingCalendar(extra_holidays=[date(2026, 4, 3)])
    assert KZ.add_working_days(almaty(2026, 4, 2, 10), 1) == almaty(2026, 4, 3, 18)
    assert decreed.add_working_days(almaty(2026, 4, 2, 10), 1) == almaty(2026, 4, 6, 18)
    assert decreed.holiday_name(date(2026, 4, 3)) == EXTRA_HOLIDAY_LABEL


def test_extra_holidays_can_carry_a_name() -> None:
    decreed = WorkingCalendar(extra_holidays={date(2026, 4, 3): "Mourning day"})
    assert not decreed.is_working_day(date(2026, 4, 3))
    assert decreed.holiday_name(date(2026, 4, 3)) == "Mourning day"


def test_extra_working_saturday_counts() -> None:
    decreed = WorkingCalendar(extra_working_days=[date(2026, 4, 4)])
    assert decreed.is_working_day(date(2026, 4, 4))
    assert decreed.add_working_days(almaty(2026, 4, 3, 10), 1) == almaty(2026, 4, 4, 18)
    assert decreed.holiday_name(date(2026, 4, 4)) is None


def test_extra_working_day_wins_over_everything() -> None:
    decreed = WorkingCalendar(
        extra_holidays=[date(2026, 3, 23), date(2025, 1, 5)],
        extra_working_days=[date(2026, 3, 23), date(2026, 3, 24)],
    )
    assert decreed.is_working_day(date(2026, 3, 23))  # holiday, extra holiday and extra working
    assert decreed.is_working_day(date(2026, 3, 24))  # package holiday
    assert decreed.holiday_name(date(2026, 3, 24)) is None
    assert not decreed.is_working_day(date(2025, 1, 5))  # extra holiday beats package workday
    assert decreed.add_working_days(almaty(2026, 3, 20, 15), 2) == almaty(2026, 3, 24, 18)


def test_working_days_between_counts_days_after_the_first_up_to_the_last() -> None:
    assert KZ.working_days_between(date(2026, 3, 20), date(2026, 3, 27)) == 2
    assert KZ.working_days_between(date(2026, 3, 20), date(2026, 3, 20)) == 0
    assert KZ.working_days_between(date(2026, 3, 27), date(2026, 3, 20)) == 0
    assert KZ.next_working_day(date(2026, 3, 20)) == date(2026, 3, 26)
    assert KZ.next_working_day(date(2026, 3, 26)) == date(2026, 3, 27)


# ---------------------------------------------------------------- office hours


def test_office_hours_are_half_open_and_only_on_working_days() -> None:
    assert KZ.office_open_at(date(2026, 4, 2)) == almaty(2026, 4, 2, 9)
    assert KZ.office_close_at(date(2026, 4, 2)) == almaty(2026, 4, 2, 18)
    assert KZ.is_office_hours(almaty(2026, 4, 2, 9))
    assert KZ.is_office_hours(almaty(2026, 4, 2, 17, 59, 59))
    assert not KZ.is_office_hours(almaty(2026, 4, 2, 18))
    assert not KZ.is_office_hours(almaty(2026, 4, 2, 8, 59, 59))
    assert not KZ.is_office_hours(almaty(2026, 3, 23, 12))  # Nauryz
    assert KZ.is_office_hours(datetime(2026, 4, 2, 4, tzinfo=UTC))  # 09:00 in Almaty


def test_a_working_day_is_as_long_as_the_office_is_open() -> None:
    assert WorkingCalendar().office_seconds_per_day == 9 * 3600
    short = WorkingCalendar(opens=time(9, 30), closes=time(13))
    assert short.office_seconds_per_day == 3 * 3600 + 1800
    monday = date(2026, 11, 30)
    opened, closed = short.office_open_at(monday), short.office_close_at(monday)
    assert short.working_seconds_between(opened, closed) == short.office_seconds_per_day


def test_next_office_moment_waits_for_the_next_opening() -> None:
    inside = almaty(2026, 4, 2, 12, 30)
    assert KZ.next_office_moment(inside) == inside
    assert KZ.next_office_moment(almaty(2026, 4, 2, 7)) == almaty(2026, 4, 2, 9)
    assert KZ.next_office_moment(almaty(2026, 3, 20, 18, 30)) == almaty(2026, 3, 26, 9)
    assert KZ.next_office_moment(datetime(2026, 4, 2, 7, 30, tzinfo=UTC)).tzinfo == ALMATY


def test_pause_over_nauryz_costs_only_office_hours() -> None:
    paused, resumed = almaty(2026, 3, 20, 17), almaty(2026, 3, 26, 10)
    assert KZ.working_seconds_between(paused, resumed) == 2 * 3600
    assert KZ.working_seconds_between(resumed, paused) == 0
    assert KZ.add_working_seconds(paused, 2 * 3600) == resumed


def test_paused_time_extends_the_deadline() -> None:
    due = KZ.add_working_days(almaty(2026, 3, 20, 15), 2)  # Fri 27 Mar 18:00
    paused = KZ.working_seconds_between(almaty(2026, 3, 26, 16), almaty(2026, 3, 30, 11))
    assert paused == 13 * 3600  # 2h Thursday + 9h Friday + 2h Monday
    assert KZ.add_working_seconds(due, paused) == almaty(2026, 3, 31, 13)


def test_shift_landing_exactly_on_closing_time_stays_there() -> None:
    assert KZ.add_working_seconds(almaty(2026, 3, 20, 17), 3600) == almaty(2026, 3, 20, 18)
    assert KZ.add_working_seconds(almaty(2026, 3, 20, 17), 3601) == almaty(2026, 3, 26, 9, 0, 1)


def test_zero_shift_returns_start_even_outside_office_hours() -> None:
    night = datetime(2026, 3, 22, 20, tzinfo=UTC)
    shifted = KZ.add_working_seconds(night, 0)
    assert shifted == night
    assert shifted.tzinfo == ALMATY


def test_shift_from_outside_office_hours_starts_at_the_next_opening() -> None:
    assert KZ.add_working_seconds(almaty(2026, 3, 21, 12), 60) == almaty(2026, 3, 26, 9, 1)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call",
    [
        lambda t: KZ.add_working_days(t, 1),
        lambda t: KZ.add_working_seconds(t, 1),
        lambda t: KZ.working_seconds_between(t, almaty(2026, 4, 2, 10)),
        lambda t: KZ.working_seconds_between(almaty(2026, 4, 2, 10), t),
        KZ.is_office_hours,
        KZ.next_office_moment,
    ],
    ids=[
        "add_working_days",
        "add_working_seconds",
        "between_start",
        "between_end",
        "is_office_hours",
        "next_office_moment",
    ],
)
def test_naive_datetime_is_rejected(call) -> None:
    with pytest.raises(ValueError, match="naive"):
        call(datetime(2026, 4, 2, 10))


def test_negative_targets_are_rejected() -> None:
    with pytest.raises(ValueError):
        KZ.add_working_days(almaty(2026, 4, 2, 10), -1)
    with pytest.raises(ValueError):
        KZ.add_working_seconds(almaty(2026, 4, 2, 10), -1)


def test_datetime_where_a_date_is_expected_is_rejected() -> None:
    with pytest.raises(TypeError):
        KZ.is_working_day(almaty(2026, 4, 2, 10))
    with pytest.raises(TypeError):
        WorkingCalendar(extra_holidays=[almaty(2026, 4, 3)])


def test_bad_configuration_is_rejected_up_front() -> None:
    with pytest.raises(ValueError):
        WorkingCalendar(opens=time(18), closes=time(9))
    with pytest.raises(ValueError):
        WorkingCalendar(country="XX")
    with pytest.raises(TypeError):
        WorkingCalendar(opens=time(9, tzinfo=UTC))


# ---------------------------------------------------------------- properties

instants = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2030, 12, 31),
    timezones=st.sampled_from([ALMATY, UTC, BERLIN, NEW_YORK]),
    allow_imaginary=False,
)
whole_second_instants = instants.map(lambda t: t.replace(microsecond=0))
day_targets = st.integers(min_value=0, max_value=400)
# Up to about three months of office time.
second_targets = st.integers(min_value=0, max_value=60 * 9 * 3600)
span_seconds = st.integers(min_value=0, max_value=120 * 24 * 3600)


def brute_force_working_days(cal: WorkingCalendar, after: date, through: date) -> int:
    days = (through - after).days
    return sum(cal.is_working_day(after + timedelta(days=i)) for i in range(1, days + 1))


@FAST
@given(cal=CALENDARS, start=instants, s=second_targets)
def test_measuring_a_shift_gives_back_the_shift(cal, start, s) -> None:
    end = cal.add_working_seconds(start, s)
    assert cal.working_seconds_between(start, end) == s
    assert end >= start
    if s > 0:  # and it is the earliest such instant
        assert cal.working_seconds_between(start, end - timedelta(microseconds=1)) < s


@FAST
@given(cal=CALENDARS, start=instants, s1=second_targets, s2=second_targets)
def test_shifts_are_monotonic_in_seconds(cal, start, s1, s2) -> None:
    s1, s2 = sorted((s1, s2))
    assert cal.add_working_seconds(start, s1) <= cal.add_working_seconds(start, s2)


@FAST
@given(cal=CALENDARS, start=instants, n1=day_targets, n2=day_targets)
def test_deadlines_are_monotonic_in_days(cal, start, n1, n2) -> None:
    n1, n2 = sorted((n1, n2))
    first, second = cal.add_working_days(start, n1), cal.add_working_days(start, n2)
    assert first <= second
    if n1 < n2:
        assert first < second


@FAST
@given(cal=CALENDARS, start=instants, n=day_targets)
def test_deadline_is_close_of_a_working_day_counting_exactly_n_days(cal, start, n) -> None:
    due = cal.add_working_days(start, n)
    submitted_on = start.astimezone(cal.tz).date()
    assert due.tzinfo is cal.tz
    assert due.timetz().replace(tzinfo=None) == cal.closes
    assert cal.is_working_day(due.date())
    if n == 0:
        assert due.date() >= submitted_on
        assert (due.date() == submitted_on) == cal.is_working_day(submitted_on)
        assert brute_force_working_days(cal, submitted_on, due.date() - timedelta(days=1)) == 0
    else:
        assert brute_force_working_days(cal, submitted_on, due.date()) == n
        assert cal.working_days_between(submitted_on, due.date()) == n


@FAST
@given(cal=CALENDARS, start=instants, length=st.integers(min_value=0, max_value=10))
def test_days_off_never_count(cal, start, length) -> None:
    # Find the first run of days off on/after the drawn date and measure across all of it.
    first = start.astimezone(cal.tz).date()
    while cal.is_working_day(first):
        first += timedelta(days=1)
    last = first
    while not cal.is_working_day(last + timedelta(days=1)) and (last - first).days < length:
        last += timedelta(days=1)
    a = datetime.combine(first, time(0), tzinfo=cal.tz)
    b = datetime.combine(last + timedelta(days=1), time(0), tzinfo=cal.tz)
    assert cal.working_seconds_between(a, b) == 0
    assert cal.working_days_between(first - timedelta(days=1), last) == 0
    assert not cal.is_office_hours(a + (b - a) / 2)


@FAST
@given(cal=CALENDARS, a=whole_second_instants, gaps=st.lists(span_seconds, min_size=2, max_size=2))
def test_working_time_adds_up_over_consecutive_spans(cal, a, gaps) -> None:
    b = a + timedelta(seconds=gaps[0])
    c = b + timedelta(seconds=gaps[1])
    whole = cal.working_seconds_between(a, c)
    assert whole == cal.working_seconds_between(a, b) + cal.working_seconds_between(b, c)
    assert 0 <= whole <= (c - a).total_seconds()


@FAST
@given(cal=CALENDARS, t=instants)
def test_next_office_moment_is_t_exactly_when_the_office_is_open(cal, t) -> None:
    moment = cal.next_office_moment(t)
    assert moment >= t
    assert cal.is_office_hours(moment)
    assert (moment == t) == cal.is_office_hours(t)
    assert cal.working_seconds_between(t, moment) == 0
