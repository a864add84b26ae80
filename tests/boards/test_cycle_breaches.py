"""The 12-week report (tied to bonuses) counts each breach once, for the person accountable
when it happened, with the supervisor's verdict where there is one."""

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Escalation, Role
from portal.services import boards
from portal.services import requests as request_service
from portal.services.requests import Upload
from sla import sweep
from tests.conftest import pdf_file
from tests.sla.stories import almaty


def test_a_breach_stays_with_who_was_accountable_and_the_supervisor_has_the_last_word(make, travel):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=1)
    service.intake_days = None
    service.supervisor_after_days = 1
    db.session.commit()
    xena = make.employee(department, name="Xena")
    head = make.employee(department, Role.HEAD, name="Head")
    make.overseer(Role.SUPERVISOR)
    applicant = make.applicant()

    travel(almaty(2026, 2, 2, 10, 0))  # Monday: due Tuesday 18:00
    request = request_service.submit(applicant, service, "shop", [Upload(charter.id, pdf_file())])
    assert request.assignee_id == xena.id
    sweep.sweep(now=almaty(2026, 2, 3, 18, 0, 1))  # breached: the head is told
    travel(almaty(2026, 2, 4, 10, 0))
    yuri = make.employee(department, name="Yuri")
    request_service.reassign(head, request.reference, yuri.id, "Xena is away")
    sweep.sweep(now=almaty(2026, 2, 4, 18, 0, 1))  # still open: the supervisor is told

    # The head has no verdict yet; the supervisor excuses it.
    supervisor_rung = db.session.scalar(
        sa.select(Escalation).where(Escalation.level == "supervisor")
    )
    supervisor_rung.excused = True
    db.session.commit()

    report = boards.cycle_report(1)
    people = {f.key: f for f in report["people"]}
    assert (people[xena.id].excused, people[xena.id].not_excused) == (1, 0)
    assert people[xena.id].undecided == 0
    assert yuri.id not in people or people[yuri.id].excused + people[yuri.id].undecided == 0
    (by_department,) = report["departments"]
    assert (by_department.excused, by_department.not_excused, by_department.undecided) == (1, 0, 0)
