"""A breach stays with the person accountable when it fired: reassigning the request
afterwards moves the work, never the blame. Every board and export names the same person."""

from __future__ import annotations

from portal.extensions import db
from portal.models import Role
from portal.services import requests as request_service
from portal.services.requests import Upload
from sla import sweep
from tests.api.support import api  # noqa: F401  (fixture)
from tests.boards.build import almaty, read_csv
from tests.conftest import pdf_file
from tests.helpers import main, reassign, row_of, sign_in


def test_a_reassigned_breach_is_named_for_who_missed_it_everywhere(
    make,
    client,
    travel,
    api,  # noqa: F811  (the fixture imported above)
):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=1)
    service.intake_days = None
    service.supervisor_after_days = 1
    db.session.commit()
    xena = make.employee(department, name="Xena Omarova")
    head = make.employee(department, Role.HEAD, name="Head Aliya")
    supervisor = make.overseer(Role.SUPERVISOR)
    applicant = make.applicant()

    travel(almaty(2026, 2, 2, 10, 0))  # Monday: due Tuesday 18:00
    request = request_service.submit(applicant, service, "shop", [Upload(charter.id, pdf_file())])
    reference = request.reference
    assert request.assignee_id == xena.id
    sweep.sweep(now=almaty(2026, 2, 3, 18, 0, 1))  # breached under Xena: the head is told

    travel(almaty(2026, 2, 4, 10, 0))
    yuri = make.employee(department, name="Yuri Petrov")
    sign_in(client, head)
    assert reassign(client, reference, yuri.id, "Xena is away").status_code == 302
    sweep.sweep(now=almaty(2026, 2, 4, 18, 0, 1))  # still open: the supervisor is told

    travel(almaty(2026, 2, 5, 10, 0))
    # The head's team board: the escalation waiting for acknowledgement is Xena's.
    team = main(client.get("/staff/team"))
    assert "Xena Omarova" in row_of(team[team.index("escalation") :], reference)
    assert "Yuri Petrov" not in row_of(team[team.index("escalation") :], reference)
    # The stand-up: Yuri holds it now; the deadline was missed under Xena.
    digest = main(client.get("/staff/digest"))
    overdue = row_of(digest[digest.index('id="overdue-h"') :], reference)
    assert "Yuri Petrov" in overdue and "Xena Omarova" in overdue

    sign_in(client, supervisor)
    hers = main(client.get(f"/supervisor/breaches?person={xena.id}"))
    assert "2 escalations" in hers  # the head rung and the supervisor rung
    assert reference in hers
    assert "Yuri Petrov" not in hers[hers.index("<tbody>") :]
    his = main(client.get(f"/supervisor/breaches?person={yuri.id}"))
    assert reference not in his and "No breach matches." in his

    rows = read_csv(client.get("/supervisor/breaches?format=csv"))
    column = rows[0].index("Accountable employee")
    assert [r[column] for r in rows[1:]] == ["Xena Omarova", "Xena Omarova"]

    case = main(client.get(f"/supervisor/breaches/{reference}"))
    history = case[case.index('id="history-h"') : case.index('id="timeline-h"')]
    # at risk, head, supervisor: every rung fired while she held it or for her breach
    assert history.count("Accountable employee: Xena Omarova") == 3
    assert "Yuri Petrov" not in history

    cycle = read_csv(client.get("/supervisor/cycles?format=csv&cycle=1"))
    people = {r[1]: r for r in cycle[1:] if r[0] == "employee"}
    undecided = cycle[0].index("Breaches without a verdict")
    assert people["Xena Omarova"][undecided] == "1"
    assert "Yuri Petrov" not in people or people["Yuri Petrov"][undecided] == "0"

    # The API: the request is Yuri's now; its rungs stay Xena's (applicants see no ladder).
    for reader in (supervisor, head):
        body = api(reader).get(f"/requests/{reference}").get_json()
        assert body["accountable_employee"]["name"] == "Yuri Petrov"
        rungs = {e["level"]: e["accountable_employee"]["name"] for e in body["escalations"]}
        assert rungs == {
            "at_risk": "Xena Omarova",
            "head": "Xena Omarova",
            "supervisor": "Xena Omarova",
        }
    assert "escalations" not in api(applicant).get(f"/requests/{reference}").get_json()
