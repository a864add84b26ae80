"""Anyone sees how each department keeps its deadlines, and nobody's personal data."""

from __future__ import annotations

from datetime import timedelta

from portal.extensions import db
from portal.models import ApprovalStep, Role
from tests.boards.build import NOW, Requests, almaty, read_csv
from tests.helpers import main


def _board(make):
    land = make.department("LAND")
    plot = make.service(land, target_days=5)
    permit = make.service(land, target_days=10)
    aigerim = make.employee(land, name="Aigerim Nurlanova")
    make.employee(land, Role.HEAD, name="Head Aliya")
    build = Requests(make.applicant(name="Daulet Seitkali"))
    build.add(
        plot, aigerim, state="approved", sla="met", decided=NOW - timedelta(days=3), worked_days=2
    )
    build.add(
        plot, aigerim, state="approved", sla="met", decided=NOW - timedelta(days=5), worked_days=3
    )
    build.add(
        plot,
        aigerim,
        state="rejected",
        sla="missed",
        decided=NOW - timedelta(days=9),
        worked_days=8,
    )
    # Long ago (more than 12 weeks): not on the board.
    build.add(
        plot,
        aigerim,
        state="approved",
        sla="missed",
        decided=almaty(2026, 6, 1, 12),
        worked_days=30,
    )
    build.add(plot, aigerim, sla="breached")
    build.add(plot, aigerim, sla="at_risk")
    sent = build.add(
        permit, aigerim, state="approved", sla="met", decided=NOW - timedelta(days=1), worked_days=4
    )
    db.session.add(
        ApprovalStep(
            request=sent,
            round=1,
            position=1,
            approver_role="head",
            requested_at=NOW - timedelta(days=4),
            due_at=NOW - timedelta(days=2),
            answered_at=NOW - timedelta(days=2),
            outcome="approved",
        )
    )
    db.session.commit()
    return land, plot, permit


def test_anyone_sees_the_board_without_personal_data(make, client, travel):
    land, plot, permit = _board(make)
    travel(NOW)
    client.get("/lang/en")
    response = client.get("/board")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    page = main(response)
    assert land.name_en in page and plot.title_en in page
    assert "Last updated" in page
    for personal in ("Daulet Seitkali", "Firm", "Aigerim Nurlanova", "Head Aliya", "SHY-2026"):
        assert personal not in page, personal

    rows = read_csv(client.get("/board?format=csv"))
    assert rows[0] == [
        "Department",
        "Service",
        "Completed",
        "On-time rate",
        "Working days (median)",
        "Open",
        "Overdue",
        "Approval, working days on average",
        "Last updated",
    ]
    by_service = {r[1]: r for r in rows[1:]}
    # plot: 3 completed in 12 weeks (2 on time), median of 2, 3, 8 days; 2 open, 1 overdue.
    assert by_service[plot.title_en][2:8] == ["3", "66.7", "3.0", "2", "1", ""]
    # The sign-off took Thursday 11:00 to Saturday 11:00: 7 h + 9 h of office time.
    assert by_service[permit.title_en][2:8] == ["1", "100.0", "4.0", "0", "0", "1.8"]
    body = "\n".join(",".join(r) for r in rows)
    assert "Aigerim" not in body and "Daulet" not in body


def test_the_board_is_computed_at_most_once_a_minute(make, client, travel):
    _land, plot, _permit = _board(make)
    travel(NOW)
    client.get("/lang/en")
    before = {r[1]: r for r in read_csv(client.get("/board?format=csv"))[1:]}
    Requests(make.applicant()).add(plot, None, sla="breached")
    cached = {r[1]: r for r in read_csv(client.get("/board?format=csv"))[1:]}
    assert cached[plot.title_en][5] == before[plot.title_en][5] == "2"
    client.application.extensions["public_board"]["stamp"] -= 61
    fresh = {r[1]: r for r in read_csv(client.get("/board?format=csv"))[1:]}
    assert fresh[plot.title_en][5] == "3"
