"""The public transparency board: no login, no personal data, figures only."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from portal import exports
from portal.services.boards import public, reports

bp = Blueprint("transparency", __name__, template_folder="templates")


@bp.get("/board")
def board():
    found = public.public_board()
    fmt = exports.requested_format(request.args)
    if fmt:
        return exports.export(reports.public_report(found), fmt)
    page = render_template("transparency/board.html", found=found)
    # The page header names a signed-in person: only anonymous pages may be shared by caches.
    shared = "public" if not current_user.is_authenticated else "private"
    return page, 200, {"Cache-Control": f"{shared}, max-age=60"}
