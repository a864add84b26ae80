"""Time spent on approvals, per sign-off, in working hours: what the boards compare."""

from __future__ import annotations

from portal.services import approvals
from tests.approvals.conftest import steps
from tests.sla.stories import almaty


def _hand_built(chancery, travel):
    """Two requests sent Monday 10:00 (office 09:00-18:00):
    A: head after 4 h, legal Tuesday 10:00 (8 h + 1 h = 9 h);
    B: head after 2 h, legal returns after 1 h."""
    travel(almaty(2026, 2, 2, 9, 0))
    first, second = chancery.submit("A"), chancery.submit("B")
    travel(almaty(2026, 2, 2, 10, 0))
    chancery.to_approval(first)
    chancery.to_approval(second)
    a_head, a_legal = steps(first)
    b_head, b_legal = steps(second)
    travel(almaty(2026, 2, 2, 11, 0))
    approvals.answer(chancery.lawyer, b_legal.id, "return", "Wrong annex")
    travel(almaty(2026, 2, 2, 12, 0))
    # B's head step was cancelled by the return: it is not counted.
    travel(almaty(2026, 2, 2, 14, 0))
    approvals.answer(chancery.head, a_head.id, "approve")
    travel(almaty(2026, 2, 3, 10, 0))
    approvals.answer(chancery.lawyer, a_legal.id, "approve")
    return first, second


def test_approval_time_by_stage_and_by_service(chancery, travel):
    _hand_built(chancery, travel)
    rows = {row.stage: row for row in approvals.approval_time()}

    head = rows["role:head"]
    assert (head.answered, head.median_hours, head.average_hours) == (1, 4.0, 4.0)
    legal = rows[f"department:{chancery.legal.id}"]
    assert (legal.answered, legal.median_hours, legal.average_hours) == (2, 5.0, 5.0)
    assert legal.returned == 1 and legal.by_silence == 0
    assert legal.label == chancery.legal.name_ru  # no request: the default language

    (service,) = approvals.approval_time(by="service")
    assert (service.stage, service.answered) == (chancery.service.id, 3)
    assert (service.median_hours, service.average_hours) == (4.0, 4.67)  # 4, 9 and 1 h


def test_approval_time_filters_by_department_and_period(chancery, travel, make):
    _hand_built(chancery, travel)
    assert approvals.approval_time(department_id=make.department().id) == []
    mine = approvals.approval_time(department_id=chancery.department.id)
    assert {row.stage for row in mine} == {"role:head", f"department:{chancery.legal.id}"}

    # Answers given on Tuesday only: the lawyer's approval of A.
    tuesday = approvals.approval_time(
        since=almaty(2026, 2, 3, 0, 0), until=almaty(2026, 2, 4, 0, 0)
    )
    assert [(r.stage, r.answered, r.median_hours) for r in tuesday] == [
        (f"department:{chancery.legal.id}", 1, 9.0)
    ]
