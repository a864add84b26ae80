"""Pages anyone may see: the home page, the service catalogue, the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import current_user

from portal.extensions import db
from portal.models import Department, Service
from portal.services import accounts
from portal.services.catalogue import active_service

bp = Blueprint("public", __name__, template_folder="templates")


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site paths; anything else goes to `fallback`."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    # Browsers read a backslash as "/", so /\evil.example would leave the site.
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return fallback
    return target


@bp.get("/")
def home():
    if current_user.is_authenticated:
        if current_user.role in ("staff", "head"):
            return redirect(url_for("staff.queue"))
        if current_user.role in ("supervisor", "admin"):
            return redirect(url_for("supervisor.requests"))
    return render_template("public/home.html")


@bp.get("/services")
def catalogue():
    departments = db.session.scalars(
        sa.select(Department)
        .join(Service)
        .where(Service.active.is_(True))
        .distinct()
        .order_by(Department.id)
    ).all()
    return render_template("public/catalogue.html", departments=departments)


@bp.get("/services/<code>")
def service(code: str):
    found = active_service(code)
    if found is None:
        abort(404)
    return render_template("public/service.html", service=found)


@bp.get("/lang/<code>")
def set_language(code: str):
    if code not in ("ru", "kk", "en"):
        abort(404)
    session["lang"] = code
    if current_user.is_authenticated and current_user.locale != code:
        accounts.set_locale(current_user, code)
    return redirect(safe_next(request.args.get("next"), url_for("public.home")))
