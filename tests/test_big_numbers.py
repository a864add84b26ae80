"""Numbers no row can have get a 404 or are ignored, never a 500 (SQL integer overflow)."""

import pytest

from portal.models import Role
from tests.conftest import csrf_token

BIG = "99999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/staff/queue?service={BIG}&page={BIG}",
        f"/staff/requests/SHY-2026-000001/documents/{BIG}",
    ],
)
def test_staff_pages_survive_huge_numbers(make, login, path):
    department = make.department()
    client = login(make.employee(department))
    assert client.get(path).status_code in (200, 404)


@pytest.mark.parametrize(
    "path",
    [
        f"/supervisor/requests?department={BIG}&page={BIG}",
        f"/supervisor/breaches?department={BIG}&service={BIG}&person={BIG}&page={BIG}",
        f"/supervisor/cycles?cycle={BIG}",
    ],
)
def test_supervisor_pages_survive_huge_numbers(make, login, path):
    client = login(make.overseer(Role.SUPERVISOR))
    assert client.get(path).status_code in (200, 404)


def test_admin_posts_survive_huge_numbers(make, login):
    client = login(make.overseer(Role.ADMIN))
    token = csrf_token(client, "/admin/calendar")
    assert (
        client.post(f"/admin/calendar/{BIG}/remove", data={"csrf_token": token}).status_code == 404
    )
    assert client.get(f"/admin/calendar?year={BIG}").status_code in (200, 404)


def test_a_calendar_counts_a_sunday_first_of_january_as_a_weekend():
    from datetime import date

    from sla.calendar import WorkingCalendar

    # 1 January 2023 was a Sunday; Saudi Arabia has no public holiday on it.
    assert not WorkingCalendar(country="SA", tz="Asia/Riyadh").is_working_day(date(2023, 1, 1))


@pytest.mark.parametrize(
    "query", ["to=9999-12-31", "from=0001-01-01", "from=0001-01-01&format=csv"]
)
def test_the_breach_board_ignores_dates_out_of_range(make, login, query):
    client = login(make.overseer(Role.SUPERVISOR))
    assert client.get(f"/supervisor/breaches?{query}").status_code == 200


def test_open311_xml_drops_characters_xml_cannot_carry():
    from xml.etree import ElementTree

    from portal.open311.formats import xml_document

    body = xml_document("service_requests", "request", [{"description": "bad\x0bchar\x00"}])
    root = ElementTree.fromstring(body)  # noqa: S314  (our own output)
    assert root.find("request/description").text == "badchar"
