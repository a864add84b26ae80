"""The ops commands say what they did: `flask sla sweep` and `flask sla recompute`."""

import re
from datetime import date

from portal.extensions import db
from portal.models import CalendarOverride
from tests.sla.stories import almaty as at
from tests.sla.stories import clock_of, escalations, events, open_office, submit


def test_flask_sla_sweep_runs_one_sweep_and_reports_it(runner, make, travel):
    office = open_office(make, target_days=5)
    travel(at(2026, 2, 2, 10, 0))
    request = submit(office)

    travel(at(2026, 2, 6, 14, 0))  # at risk since 13:45
    result = runner.invoke(args=["sla", "sweep"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"checked 1 requests, fired \{'at_risk': 1\} in \d+\.\d ms\n", result.output
    ), result.output
    assert escalations(request) == [("at_risk", 0, office.employee.id)]

    again = runner.invoke(args=["sla", "sweep"])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("checked 0 requests, fired nothing in ")


def test_flask_sla_recompute_moves_open_deadlines_and_reports_it(runner, make, travel):
    office = open_office(make, target_days=5)
    travel(at(2026, 2, 2, 10, 0))
    first, second = submit(office), submit(office, "a second shop")
    travel(at(2026, 2, 4, 11, 0))
    db.session.add(CalendarOverride(day=date(2026, 2, 6), kind="holiday", name="Decree"))
    db.session.commit()

    result = runner.invoke(args=["sla", "recompute", "--reason", "decree 2026/6"])
    assert result.exit_code == 0, result.output
    assert result.output == "moved 2 open deadlines; largest shift +1 working days\n"
    assert clock_of(first).due_at == clock_of(second).due_at == at(2026, 2, 10, 18, 0)
    assert [e["reason"] for e in events(first, "deadline_recomputed")] == ["decree 2026/6"]

    again = runner.invoke(args=["sla", "recompute"])
    assert again.output == "moved 0 open deadlines; largest shift +0 working days\n"
    assert len(events(first, "deadline_recomputed")) == 1
