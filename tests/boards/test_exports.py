"""What an office opens with a double click: every board's export as XLSX and as CSV with `;`
and a byte-order mark, read back the way a spreadsheet would, in the reader's language and
with times in the administration's zone; and the staff queue, one query for the page and
the API."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Role
from portal.services import tokens
from tests.boards.build import NOW, Requests, almaty, escalate, read_csv, read_xlsx
from tests.helpers import main, sign_in


def _city(make):
    land = make.department("LAND")
    plot = make.service(land, target_days=5)
    aigerim = make.employee(land, name="Aigerim Nurlanova")
    head = make.employee(land, Role.HEAD, name="Head Aliya")
    supervisor = make.overseer()
    return land, plot, aigerim, head, supervisor


def test_breaches_export_in_russian_with_local_times(make, client, travel):
    _land, plot, aigerim, _head, supervisor = _city(make)
    late = Requests(make.applicant()).add(
        plot, aigerim, sla="breached", due=almaty(2026, 11, 27, 18)
    )
    escalate(late, fired=almaty(2026, 11, 28, 9, 30), acknowledged_by=supervisor, excused=True)
    travel(NOW)
    sign_in(client, supervisor, lang="ru")

    sheet = read_xlsx(client.get("/supervisor/breaches?format=xlsx"))
    heading = sheet[0]
    assert heading[:3] == ["Номер заявки", "Отдел", "Услуга"], heading
    assert len(sheet) == 2 and len(sheet[1]) == len(heading)  # columns intact
    row = dict(zip(heading, sheet[1], strict=True))
    assert row["Номер заявки"] == late.reference
    fired = next(v for k, v in row.items() if isinstance(v, datetime) and v.hour == 9)
    assert (fired.hour, fired.minute) == (9, 30), "Almaty time, not UTC (04:30)"
    assert datetime(2026, 11, 27, 18) in row.values()  # the deadline, a date cell

    rows = read_csv(client.get("/supervisor/breaches?format=csv"))
    assert rows[0] == heading and len(rows[1]) == len(heading)
    assert rows[1][0] == late.reference
    assert "28.11.2026 09:30" in rows[1] and "27.11.2026 18:00" in rows[1]


def test_team_export_in_kazakh_keeps_numbers_as_numbers(make, client, travel):
    _land, plot, aigerim, head, _supervisor = _city(make)
    build = Requests(make.applicant())
    build.add(plot, aigerim, sla="breached")
    build.add(plot, aigerim, sla="at_risk")
    build.add(plot, aigerim, state="approved", sla="met", decided=NOW - timedelta(days=1))
    build.add(plot, aigerim, state="rejected", sla="missed", decided=NOW - timedelta(days=1))
    build.add(plot, aigerim, state="approved", sla="met", decided=NOW - timedelta(days=2))
    travel(NOW)
    sign_in(client, head, lang="kk")

    sheet = read_xlsx(client.get("/staff/team?format=xlsx"))
    assert "Қызметкер" in sheet[0], sheet[0]  # "Employee"
    aigerim_row = next(r for r in sheet[1:] if r[0] == "Aigerim Nurlanova")
    assert aigerim_row[1:4] == [2, 1, 1]  # open, at risk, overdue: numbers, not text
    assert aigerim_row[-1] == pytest.approx(2 / 3, abs=0.001)  # a percentage cell

    rows = read_csv(client.get("/staff/team?format=csv"))
    assert rows[0] == sheet[0]
    csv_row = next(r for r in rows[1:] if r[0] == "Aigerim Nurlanova")
    assert csv_row[1:4] == ["2", "1", "1"] and csv_row[-1] == "66,7"  # the Kazakh comma


@pytest.mark.parametrize(
    "path",
    [
        "/staff/queue",
        "/staff/department",
        "/supervisor/breaches",
        "/supervisor/trends",
        "/supervisor/cycles",
        "/board",
        "/staff/team",
    ],
)
def test_every_export_offers_both_formats_with_the_same_columns(make, client, travel, path):
    _land, plot, aigerim, head, supervisor = _city(make)
    build = Requests(make.applicant())
    late = build.add(plot, aigerim, sla="breached")
    escalate(late)
    build.add(plot, aigerim, state="approved", sla="met", decided=NOW, worked_days=2)
    travel(NOW)
    person = {"/staff/queue": aigerim, "/staff/department": aigerim, "/staff/team": head}
    sign_in(client, person.get(path, supervisor), lang="ru")

    page = client.get(path).get_data(as_text=True)
    assert "format=xlsx" in page and "Excel (XLSX)" in page and "format=csv" in page
    sheet = read_xlsx(client.get(f"{path}?format=xlsx"))
    rows = read_csv(client.get(f"{path}?format=csv"))
    assert rows[0] == [str(h) for h in sheet[0]]
    assert len(rows) == len(sheet) > 1
    assert {len(r) for r in rows} == {len(sheet[0])}


def test_a_cell_that_looks_like_a_formula_stays_text(make, client, travel):
    _land, plot, aigerim, _head, supervisor = _city(make)
    late = Requests(make.applicant()).add(plot, aigerim, sla="breached")
    escalation = escalate(late, acknowledged_by=supervisor)
    escalation.note = '=HYPERLINK("http://evil")'
    db.session.commit()
    travel(NOW)
    sign_in(client, supervisor, lang="en")

    sheet = read_xlsx(client.get("/supervisor/breaches?format=xlsx"))
    assert escalation.note in sheet[1]  # a string cell, not a formula
    rows = read_csv(client.get("/supervisor/breaches?format=csv"))
    assert "'" + escalation.note in rows[1]


# --- one queue for the page and the API ---------------------------------------------------


def test_queue_page_and_api_return_the_same_rows_in_the_same_order(make, client, travel, api):
    _land, plot, aigerim, _head, _supervisor = _city(make)
    other = make.service(plot.department, target_days=10)
    colleague = make.employee(plot.department, name="Bolat Serikov")
    build = Requests(make.applicant())
    made = [
        build.add(plot, aigerim, sla="on_track", due=NOW + timedelta(hours=hours))
        for hours in (30, 5, 70, 12, 50)
    ]
    made.append(build.add(other, aigerim, sla="breached", due=NOW - timedelta(days=1)))
    made.append(build.add(other, aigerim, state="awaiting_documents", sla="paused"))
    made.append(build.add(plot, colleague, sla="at_risk", due=NOW + timedelta(hours=1)))
    made.append(build.add(plot, aigerim, state="approved", sla="met", decided=NOW))
    references = [r.reference for r in made]
    travel(NOW)
    sign_in(client, aigerim)
    as_aigerim = api(aigerim)

    def page_references(query: str) -> list[str]:
        page = main(client.get(query))
        return sorted((r for r in references if r in page), key=page.index)

    cases = [
        ("mine", "", ""),
        ("mine", "order=-time_left", "order=-time_left"),
        ("mine", "sla=on_track", "sla=on_track"),
        ("mine", f"service={other.id}", f"service={other.code}"),
        ("department", "", ""),
        ("department", "state=awaiting_documents", "state=awaiting_documents"),
    ]
    for scope, page_query, api_query in cases:
        path = "/staff/queue" if scope == "mine" else "/staff/department"
        api_path = "/queue" if scope == "mine" else "/queue/department"
        on_page = page_references(f"{path}?{page_query}")
        body = as_aigerim.get(f"{api_path}?{api_query}&per_page=100").get_json()
        assert [item["reference"] for item in body["items"]] == on_page, (scope, page_query)
        assert body["total"] == len(on_page) > 0


def test_the_api_queue_says_which_filter_it_did_not_understand(make, travel, api):
    _land, _plot, aigerim, _head, _supervisor = _city(make)
    travel(NOW)
    response = api(aigerim).get("/queue?sla=late&service=NOPE")
    assert response.status_code == 400
    assert set(response.get_json()["error"]["fields"]) == {"sla", "service"}


def _statements_of(client, path: str) -> int:
    seen = []

    def count(*_args):
        seen.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


@pytest.mark.parametrize("path", ["/staff/department", "/api/v1/queue/department?per_page=100"])
def test_a_queue_page_costs_the_same_statements_for_5_and_50_rows(make, client, travel, path):
    _land, plot, aigerim, _head, _supervisor = _city(make)
    people = [aigerim] + [make.employee(plot.department) for _ in range(4)]
    build = Requests(make.applicant())
    for i in range(5):
        build.add(plot, people[i % 5], due=NOW + timedelta(hours=i + 1))
    travel(NOW)
    if path.startswith("/api"):
        _token, secret = tokens.create(aigerim, "count")
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    else:
        sign_in(client, aigerim)
    client.get(path)  # warm: the calendar, the session
    few = _statements_of(client, path)
    for i in range(45):
        build.add(plot, people[i % 5], due=NOW + timedelta(hours=i + 10))
    many = _statements_of(client, path)
    assert few > 3 and many == few, (few, many)
