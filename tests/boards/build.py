"""Hand-built requests and escalations for the boards: every figure is known in advance."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import datetime, timedelta

from openpyxl import load_workbook

from portal.extensions import db
from portal.models import Escalation, ServiceRequest
from tests.factories import ALMATY, almaty  # noqa: F401  (the boards stories import it here)

DAY = 9 * 3600  # one working day of office time
# Cycle 1 runs from Monday 2026-01-05; cycle 4 from 2026-09-14 to 2026-12-06.
NOW = datetime(2026, 11, 30, 11, 0, tzinfo=ALMATY)  # a Monday, in cycle 4


class Requests:
    """Requests straight into the database, with the SLA columns the boards read."""

    numbers = itertools.count(900001)

    def __init__(self, applicant):
        self.applicant = applicant

    def add(
        self,
        service,
        assignee,
        state="in_review",
        sla="on_track",
        due=None,
        decided=None,
        worked_days=None,
        paused_days=0,
        submitted=None,
    ) -> ServiceRequest:
        submitted = submitted or NOW - timedelta(days=3)
        request = ServiceRequest(
            reference=f"SHY-2026-{next(self.numbers)}",
            service=service,
            department_id=service.department_id,
            applicant=self.applicant,
            business_id=self.applicant.business_id,
            assignee=assignee,
            description="hand-built",
            state=state,
            sla_state=sla,
            submitted_at=submitted,
            updated_at=submitted,
            stage_started_at=submitted,
            clock_started_at=submitted,
            due_at=due or NOW + timedelta(days=2),
            paused_since=NOW - timedelta(hours=2) if sla == "paused" else None,
            paused_working_seconds=paused_days * DAY,
            decided_at=decided,
            worked_seconds=None if worked_days is None else int(worked_days * DAY),
        )
        db.session.add(request)
        db.session.commit()
        return request


def escalate(request, level="head", fired=None, excused=None, acknowledged_by=None):
    escalation = Escalation(
        request=request,
        level=level,
        accountable_id=request.assignee_id,  # as the ladder records it
        due_at=request.due_at,
        fired_at=fired or NOW - timedelta(days=1),
        excused=excused,
        acknowledged_by=acknowledged_by,
        acknowledged_at=(fired or NOW) if acknowledged_by else None,
        reason_code="workload" if acknowledged_by else None,
    )
    db.session.add(escalation)
    db.session.commit()
    return escalation


def read_csv(response) -> list[list[str]]:
    """A CSV download as a Russian or Kazakh Excel reads it: `;` between cells, a BOM."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    body = response.get_data()
    assert body.startswith("\ufeff".encode()), "no byte-order mark for Excel"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def read_xlsx(response) -> list[list]:
    """An XLSX download's first sheet, cell values as a spreadsheet holds them."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == XLSX
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(response.get_data()))
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
