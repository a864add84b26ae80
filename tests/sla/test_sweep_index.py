"""The sweep reads only the rows that are due, through the `next_check_at` index."""

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Event, ServiceRequest
from portal.services import requests as request_service
from sla import sweep
from tests.sla.stories import almaty as at
from tests.sla.stories import escalations, open_office

INDEX = "ix_service_request_next_check_at"


@pytest.fixture
def two_hundred_open(make, travel):
    """200 open requests submitted on Monday 2 February 10:00; 3 have a 1-day target.

    The 3 urgent ones and one routine one (20 days) go through `submit`; the other 196
    routine ones are copies of that one as `submit` left it, inserted in one statement.
    """
    office = open_office(make)
    department = office.service.department
    slow = make.service(department, [], target_days=20)
    fast = make.service(department, [], target_days=1)
    travel(at(2026, 2, 2, 10, 0))
    due = [request_service.submit(office.applicant, fast, f"urgent {n}", []) for n in range(3)]
    routine = request_service.submit(office.applicant, slow, "routine", [])
    columns = [c.key for c in ServiceRequest.__table__.columns if c.key not in ("id", "reference")]
    row = {key: getattr(routine, key) for key in columns}
    db.session.execute(
        sa.insert(ServiceRequest), [{**row, "description": f"routine {n}"} for n in range(196)]
    )
    db.session.commit()
    # The 1-day requests are at risk from Tuesday 13:45 (75 % of 17 office hours); the
    # 20-day ones not for weeks.
    travel(at(2026, 2, 3, 14, 0))
    return due


def test_the_sweep_checks_only_the_due_rows_through_the_index(two_hundred_open):
    assert db.session.scalar(sa.select(sa.func.count(ServiceRequest.id))) == 200
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM service_request" in statement and "next_check_at <=" in statement:
            statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        result = sweep.sweep()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)

    assert result.checked == 3
    assert result.fired == {"at_risk": 3}
    assert sorted(_at_risk_events()) == sorted(r.id for r in two_hundred_open)
    assert len(escalations()) == 3
    assert sweep.sweep().checked == 0

    assert statements, "the sweep did not read service_request by next_check_at"
    plan = _plan(*statements[0])
    assert INDEX in plan, plan


def _plan(statement, parameters) -> str:
    """The database's plan for the sweep's own due-rows statement, as sent."""
    dialect = db.engine.dialect.name
    with db.engine.connect() as connection:
        if dialect == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " | ".join(row[-1] for row in rows)
            assert f"SEARCH service_request USING INDEX {INDEX}" in plan, plan
            return plan
        if dialect == "postgresql":
            # With a few hundred rows PostgreSQL may rightly prefer a sequential scan; what
            # matters here is that the index can serve this query, so forbid the other way.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plan = " | ".join(row[0] for row in rows)
            connection.rollback()
            assert "Seq Scan on service_request" not in plan, plan
            return plan
        pytest.skip(f"no plan check for {dialect}")


def _at_risk_events():
    with db.engine.connect() as connection:
        return connection.scalars(
            sa.select(Event.request_id).where(Event.kind == "sla_at_risk")
        ).all()
