"""Each board's table as a report: its rows and its columns, declared once for the page,
the XLSX and the CSV (portal/reports.py, portal/exports.py)."""

from __future__ import annotations

from operator import attrgetter, itemgetter

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.lifecycle import state_label
from portal.reports import DATETIME, DECIMAL, INTEGER, PERCENT, Column, Report
from portal.services import escalations
from portal.timefmt import sla_label
from sla import deadlines


def verdict_label(excused: bool | None) -> str:
    if excused is None:
        return _("not decided")
    return _("yes") if excused else _("no")


def _name(person) -> str | None:
    return person.full_name if person else None


def _hours_left(request) -> float | None:
    if request.paused_since or request.due_at is None:
        return None
    return round(deadlines.working_seconds_left(request) / 3600, 1)


QUEUE_COLUMNS = [
    Column(_l("Reference"), attrgetter("reference")),
    Column(_l("Service"), lambda r: r.service.title),
    Column(_l("Status"), lambda r: state_label(r.state)),
    Column(_l("SLA"), lambda r: sla_label(r.sla_state)),
    Column(_l("Accountable employee"), lambda r: _name(r.assignee)),
    Column(_l("Due"), attrgetter("due_at"), DATETIME),
    Column(_l("Working hours left"), _hours_left, DECIMAL),
]


def queue_report(scope: str, rows) -> Report:
    title = _l("My queue") if scope == "mine" else _l("Department queue")
    return Report(f"queue-{scope}", title, QUEUE_COLUMNS, rows)


TEAM_COLUMNS = [
    Column(_l("Employee"), attrgetter("name")),
    Column(_l("Open"), attrgetter("open"), INTEGER),
    Column(_l("At risk"), attrgetter("at_risk"), INTEGER),
    Column(_l("Overdue"), attrgetter("overdue"), INTEGER),
    Column(_l("Paused"), attrgetter("paused"), INTEGER),
    Column(_l("Completed this cycle"), attrgetter("completed"), INTEGER),
    Column(_l("Completed on time this cycle"), attrgetter("on_time"), INTEGER),
    Column(_l("On-time rate"), attrgetter("on_time_percent"), PERCENT),
]


def team_report(rows) -> Report:
    return Report("team", _l("Team board"), TEAM_COLUMNS, rows)


BREACH_COLUMNS = [
    Column(_l("Reference"), lambda e: e.request.reference),
    Column(_l("Department"), lambda e: e.request.department.name),
    Column(_l("Service"), lambda e: e.request.service.title),
    Column(_l("Accountable employee"), lambda e: _name(e.accountable)),
    Column(_l("Escalation"), lambda e: escalations.level_label(e.level)),
    Column(_l("Fired"), attrgetter("fired_at"), DATETIME),
    Column(_l("Deadline"), attrgetter("due_at"), DATETIME),
    Column(_l("Acknowledged"), attrgetter("acknowledged_at"), DATETIME),
    Column(_l("Acknowledged by"), lambda e: _name(e.acknowledged_by)),
    Column(_l("Reason"), lambda e: e.reason_code and escalations.reason_label(e.reason_code)),
    Column(_l("Note"), attrgetter("note")),
    Column(_l("Excused"), lambda e: verdict_label(e.excused)),
]


def breach_report(rows) -> Report:
    return Report("breaches", _l("Breach board"), BREACH_COLUMNS, rows)


TREND_COLUMNS = [
    Column(_l("Kind"), itemgetter(0)),
    Column(_l("Name"), itemgetter(1)),
    Column(_l("Completed"), itemgetter(2), INTEGER),
    Column(_l("On-time rate"), itemgetter(3), PERCENT),
    Column(_l("Days (median)"), itemgetter(4), DECIMAL),
]


def trends_report(found: dict) -> Report:
    """The trends' four tables in one sheet, each row saying which table it belongs to."""
    rows = [(_("week"), w.label, w.completed, w.on_time_percent, None) for w in found["weeks"]]
    for kind, group in ((_("department"), "departments"), (_("service"), "services")):
        rows += [
            (kind, f.label, f.completed, f.on_time_percent, f.median_days) for f in found[group]
        ]
    rows += [
        (_("approval stage"), stage, count, None, days) for stage, days, count in found["approvals"]
    ]
    return Report("trends", _l("Trends"), TREND_COLUMNS, rows)


def _figure(name: str):
    """A figure of the row's `Figures` (the second item of the cycle's and the board's rows)."""
    return lambda row: getattr(row[1], name)


# What the cycle report and the public board both say of a group's completed requests.
FIGURE_COLUMNS = [
    Column(_l("Completed"), _figure("completed"), INTEGER),
    Column(_l("On-time rate"), _figure("on_time_percent"), PERCENT),
    Column(_l("Working days (median)"), _figure("median_days"), DECIMAL),
]
CYCLE_COLUMNS = [
    Column(_l("Kind"), itemgetter(0)),
    Column(_l("Name"), _figure("label")),
    Column(_l("Department"), itemgetter(2)),
    *FIGURE_COLUMNS,
    Column(_l("Breaches excused"), _figure("excused"), INTEGER),
    Column(_l("Breaches not excused"), _figure("not_excused"), INTEGER),
    Column(_l("Breaches without a verdict"), _figure("undecided"), INTEGER),
]


def cycle_report(report: dict) -> Report:
    """A cycle's results, per employee then per department, in one sheet."""
    rows = [(_("employee"), f, f.extra.get("department")) for f in report["people"]]
    rows += [(_("department"), f, f.label) for f in report["departments"]]
    return Report(
        f"cycle-{report['cycle'].number}", _l("12-week cycle results"), CYCLE_COLUMNS, rows
    )


PUBLIC_COLUMNS = [
    Column(_l("Department"), lambda row: row[0].name),
    Column(_l("Service"), _figure("label")),
    *FIGURE_COLUMNS,
    Column(_l("Open"), _figure("open"), INTEGER),
    Column(_l("Overdue"), _figure("overdue"), INTEGER),
    Column(_l("Approval, working days on average"), _figure("approval_days"), DECIMAL),
    Column(_l("Last updated"), itemgetter(2), DATETIME),
]


def public_report(found: dict) -> Report:
    rows = [
        (entry["department"], row, found["computed_at"])
        for entry in found["departments"]
        for row in entry["services"]
    ]
    return Report("board", _l("Transparency board"), PUBLIC_COLUMNS, rows)
