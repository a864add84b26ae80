"""One broken request does not stall the sweep for the others."""

from datetime import timedelta

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Escalation, ServiceRequest
from sla import ladder, sweep
from tests.sla.stories import almaty, open_office, submit


def test_a_request_that_fails_is_retried_later_and_the_rest_are_swept(
    app, make, travel, monkeypatch, caplog
):
    office = open_office(make, target_days=2)
    travel(almaty(2026, 2, 2, 10, 0))
    broken, healthy = submit(office), submit(office)
    real_advance = ladder.advance

    def advance(request, now=None, cal=None):
        if request.id == broken.id:
            raise RuntimeError("corrupt row")
        return real_advance(request, now, cal)

    monkeypatch.setattr(ladder, "advance", advance)
    now = almaty(2026, 2, 4, 18, 0, 1)  # both past their deadline
    result = sweep.sweep(now=now)

    assert result.failed == 1
    assert "corrupt row" in caplog.text
    db.session.expire_all()
    assert db.session.get(ServiceRequest, healthy.id).sla_state == "breached"
    assert db.session.get(ServiceRequest, broken.id).next_check_at == now + timedelta(
        seconds=sweep.RETRY_BROKEN_SECONDS
    )
    fired_for = db.session.scalars(sa.select(Escalation.request_id).distinct()).all()
    assert fired_for == [healthy.id]
