"""The request page says how late a request is, and speaks to the person reading it: the
words about the clock waiting on "you" are for the applicant who is being waited on."""

from __future__ import annotations

import re

import pytest

from portal.extensions import db
from portal.models import Role
from portal.services import requests as request_service
from portal.services.requests import Upload
from tests.conftest import pdf_file
from tests.helpers import main, sign_in
from tests.sla.stories import almaty


def _fact(page: str, term: str) -> str | None:
    found = re.search(rf"<dt>{re.escape(term)}</dt><dd>(.*?)</dd>", page, re.S)
    return " ".join(found.group(1).split()) if found else None


@pytest.fixture
def office(make, travel):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=1)
    service.intake_days = None
    db.session.commit()
    employee = make.employee(department, name="Aigerim Nurlanova")
    supervisor = make.overseer(Role.SUPERVISOR)
    applicant = make.applicant()
    travel(almaty(2026, 2, 2, 10, 0))  # Monday: due Tuesday 18:00
    request = request_service.submit(applicant, service, "shop", [Upload(charter.id, pdf_file())])
    return {
        "reference": request.reference,
        "charter": charter,
        "employee": employee,
        "supervisor": supervisor,
        "applicant": applicant,
    }


PAGES = {
    "employee": "/staff/requests/{}",
    "supervisor": "/supervisor/requests/{}",
    "applicant": "/my/requests/{}",
}


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (almaty(2026, 2, 3, 17, 30), "30 min"),  # half an hour before the deadline
        (almaty(2026, 2, 3, 19, 0), "overdue since 2/3/26, 6:00 PM"),  # no office time yet
        (almaty(2026, 2, 4, 9, 25), "overdue by 25 min"),
        (almaty(2026, 2, 4, 11, 0), "overdue by 2 h"),
        (almaty(2026, 2, 7, 12, 0), "overdue by 3 working days"),  # Saturday
    ],
)
def test_every_reader_sees_how_overdue_a_request_is(office, client, travel, moment, expected):
    travel(moment)
    for who, path in PAGES.items():
        sign_in(client, office[who])
        left = _fact(main(client.get(path.format(office["reference"]))), "Time left")
        assert left == expected, who
        assert "0 h" not in left


def test_overdue_reads_in_russian_and_kazakh(office, client, travel):
    travel(almaty(2026, 2, 4, 11, 0))
    sign_in(client, office["employee"], lang="ru")
    page = main(client.get(PAGES["employee"].format(office["reference"])))
    assert _fact(page, "Оставшееся время") == "просрочено на 2 ч"
    sign_in(client, office["applicant"], lang="kk")
    page = main(client.get(PAGES["applicant"].format(office["reference"])))
    assert "мерзімі 2 сағ. өтіп кетті" in page


def test_the_applicant_is_told_about_waiting_only_while_waited_on(office, client, travel):
    reference = office["reference"]
    mine = "While waiting for you"
    theirs = "While waiting for the applicant"

    sign_in(client, office["applicant"])
    assert mine not in main(client.get(PAGES["applicant"].format(reference)))  # not asked yet

    request_service.request_documents(
        office["employee"], reference, [(office["charter"].id, "The scan is unreadable")]
    )
    page = main(client.get(PAGES["applicant"].format(reference)))
    assert _fact(page, mine) == "the clock stops and resumes when you answer"
    for who in ("employee", "supervisor"):
        sign_in(client, office[who])
        page = main(client.get(PAGES[who].format(reference)))
        assert mine not in page and "when you answer" not in page, who
        assert _fact(page, theirs) == "the clock stops and resumes when the applicant answers"

    request_service.withdraw(office["applicant"], reference, "Not needed any more")
    for who, path in PAGES.items():
        sign_in(client, office[who])
        page = main(client.get(path.format(reference)))
        assert mine not in page and theirs not in page, who  # decided: nothing waits
