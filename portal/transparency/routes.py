"""The public transparency board: no login, no personal data, figures only."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from portal.csvexport import csv_response, wants_csv
from portal.services import boards

bp = Blueprint("transparency", __name__, template_folder="templates")


@bp.get("/board")
def board():
    found = boards.public_board()
    if wants_csv(request.args):
        return csv_response(
            "board.csv",
            [
                _("Department"),
                _("Service"),
                _("Completed"),
                _("On-time rate"),
                _("Working days (median)"),
                _("Open"),
                _("Overdue"),
                _("Approval, working days on average"),
                _("Last updated"),
            ],
            (
                (
                    entry["department"].name,
                    row.label,
                    row.completed,
                    row.on_time_percent,
                    row.median_days,
                    row.open,
                    row.overdue,
                    row.approval_days,
                    found["computed_at"].isoformat(),
                )
                for entry in found["departments"]
                for row in entry["services"]
            ),
        )
    page = render_template("transparency/board.html", found=found)
    # The page header names a signed-in person: only anonymous pages may be shared by caches.
    shared = "public" if not current_user.is_authenticated else "private"
    return page, 200, {"Cache-Control": f"{shared}, max-age=60"}
