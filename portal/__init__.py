"""Moldir: the portal (the only package that knows about HTTP)."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2
from flask import Flask, abort, g, has_request_context, render_template, request, session
from flask_babel import format_datetime
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from portal import config as settings
from portal import observability
from portal.downloads import DocumentAltered
from portal.extensions import babel, csrf, db, limiter, login_manager, migrate
from portal.queryargs import DbIntConverter
from portal.safejson import CheckedJSONProvider
from portal.services import NotVisible
from sla import clock

ROOT = Path(__file__).resolve().parent.parent
# Paths answered for machines (JSON or XML), errors included.
MACHINE_PREFIXES = ("/api/v1/", "/api/openapi.json", "/open311/")


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings from the environment, then `config` on top (tests)."""
    app = Flask(__name__, instance_relative_config=True)
    app.json = CheckedJSONProvider(app)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(settings.from_environment(Path(app.instance_path)))
    if config:
        app.config.from_mapping(config)
    clock.run_from(app.config["MOLDIR_CLOCK"])

    register_extensions(app)
    register_security(app)
    app.url_map.converters["int"] = DbIntConverter  # before any route is added
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    observability.init_app(app)
    return app


def select_locale() -> str:
    languages = ("ru", "kk", "en")
    if not has_request_context():  # jobs and CLI: messages in the default language
        return "ru"
    if request.path.startswith(MACHINE_PREFIXES):
        # The APIs keep no session: their callers say what they read in Accept-Language.
        return request.accept_languages.best_match(languages) or "en"
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return "ru"


def register_extensions(app: Flask) -> None:
    import notifications.inbox  # noqa: F401  (its tables belong to the metadata)
    from portal import queueing

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(
        app, locale_selector=select_locale, default_translation_directories="translations"
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    queueing.init_app(app)
    limiter.init_app(app)

    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please log in to see this page.")

    @login_manager.user_loader
    def load_user(user_id: str):
        # Only with a live login_session row: not revoked, not idle, not too old.
        from portal.services import sessions

        return sessions.load(user_id)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from sqlalchemy import event

        with app.app_context():

            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):
                # Web, worker and scheduler share one file: WAL plus a busy wait.
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=5000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()
                # pysqlite's own transaction handling starts transactions late and lets a
                # savepoint's RELEASE commit; SQLAlchemy's recipe: we say BEGIN ourselves.
                dbapi_connection.isolation_level = None

            @event.listens_for(db.engine, "begin")
            def _sqlite_begin(connection):
                connection.exec_driver_sql("BEGIN")


def register_security(app: Flask) -> None:
    from portal import security

    security.init_app(app)


def register_blueprints(app: Flask) -> None:
    from portal.admin import catalogue as _admin_catalogue  # noqa: F401  (its routes on admin's bp)
    from portal.admin.routes import bp as admin_bp
    from portal.api.docs import bp as api_docs_bp
    from portal.api.routes import bp as api_bp
    from portal.api.tokens import bp as api_tokens_bp
    from portal.applicant.business_routes import bp as business_bp
    from portal.applicant.routes import bp as applicant_bp
    from portal.auth.routes import bp as auth_bp
    from portal.open311.routes import bp as open311_bp
    from portal.public.routes import bp as public_bp
    from portal.staff.routes import bp as staff_bp
    from portal.supervisor.routes import bp as supervisor_bp
    from portal.transparency.routes import bp as transparency_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(applicant_bp)
    app.register_blueprint(business_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(supervisor_bp)
    app.register_blueprint(admin_bp)
    # Token-authenticated, no cookies: nothing for CSRF to protect.
    csrf.exempt(api_bp)
    csrf.exempt(open311_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_docs_bp)
    app.register_blueprint(api_tokens_bp)
    app.register_blueprint(open311_bp)
    app.register_blueprint(transparency_bp)


def register_errorhandlers(app: Flask) -> None:
    from flask_babel import gettext as _
    from sqlalchemy.exc import IntegrityError
    from werkzeug.exceptions import Conflict

    def page(status: int, title: str, message: str):
        return render_template("error.html", status=status, title=title, message=message), status

    def machine_error(error, status: int):
        """On the APIs' paths, errors no blueprint caught (unknown path or method) as data."""
        if not request.path.startswith(MACHINE_PREFIXES):
            return None
        from werkzeug.exceptions import HTTPException, default_exceptions

        if not isinstance(error, HTTPException):
            error = default_exceptions[status]()
        if request.path.startswith("/open311/"):
            from portal.open311.routes import http_error

            return http_error(error)
        from portal.api.errors import from_http_exception

        return from_http_exception(error)

    @app.errorhandler(NotVisible)
    @app.errorhandler(404)
    def not_found(_error):
        if (answer := machine_error(_error, 404)) is not None:
            return answer
        return page(404, _("Not found"), _("There is nothing here, or it is not yours to see."))

    @app.errorhandler(403)
    def forbidden(_error):
        return page(403, _("Not allowed"), _("Your account may not open this page."))

    @app.errorhandler(405)
    def method_not_allowed(_error):
        if (answer := machine_error(_error, 405)) is not None:
            return answer
        return page(405, _("Not allowed"), _("This address does not accept that kind of request."))

    @app.errorhandler(413)
    def too_large(_error):
        if (answer := machine_error(_error, 413)) is not None:
            return answer
        return page(413, _("Too large"), _("The files sent together are too large."))

    @app.errorhandler(DocumentAltered)
    def document_altered(_error):
        # Our stored file, not the caller's doing: a 5xx, and the alert is already logged.
        title = _("This document cannot be sent")
        message = _(
            "The stored file is not the one received at upload, so it is not sent. "
            "The administration has been alerted."
        )
        if request.path.startswith(MACHINE_PREFIXES):
            from portal.api.errors import error_response

            return error_response(500, "document_altered", message)
        return page(500, title, message)

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return page(
            400, _("Form expired"), _("The form was stale or incomplete. Please try again.")
        )

    @app.errorhandler(400)
    def bad_request(_error):
        if (answer := machine_error(_error, 400)) is not None:
            return answer
        return page(400, _("Bad request"), _("The request could not be understood."))

    @app.errorhandler(500)
    def server_error(_error):
        db.session.rollback()
        if (answer := machine_error(_error, 500)) is not None:
            return answer
        return page(500, _("Something went wrong"), _("We have been told. Please try again later."))

    @app.errorhandler(IntegrityError)
    def conflict(_error):
        # A unique row written by someone else between our check and our commit (two
        # registrations with one email at once): nothing of ours was kept.
        db.session.rollback()
        message = _("Someone else saved the same thing at the same moment. Nothing was changed.")
        refusal = Conflict(description=message)
        refusal.api_code = "conflict"  # the API's envelope says this message, not the generic one
        if (answer := machine_error(refusal, 409)) is not None:
            return answer
        return page(409, _("Changed meanwhile"), message)


def _per_render(translate):
    """A filter whose words depend on the reader's language, evaluated on every render.

    Jinja folds a filter over a constant (`{{ 'at_risk' | sla_label }}`) into the compiled
    template, so its words would be the language of whoever compiled it; a filter that
    takes the render context is never folded.
    """

    @functools.wraps(translate)
    @jinja2.pass_context
    def per_render(_context, value, *args, **kwargs):
        return translate(value, *args, **kwargs)

    return per_render


def register_template_helpers(app: Flask) -> None:
    from portal import lifecycle, timefmt

    # Globals, not context: macros imported from _macros.html do not see the context.
    app.jinja_env.globals.update(
        state_label=lifecycle.state_label,
        action_label=lambda a: str(lifecycle.ACTION_LABELS.get(a, a)),
    )

    @app.context_processor
    def inject():
        return {
            "current_lang": select_locale(),
            "languages": (("ru", "Русский"), ("kk", "Қазақша"), ("en", "English")),
        }

    @app.template_filter("localdt")
    def localdt(value, fmt="medium"):
        if value is None:
            return "—"
        return format_datetime(value, fmt)

    @app.template_filter("localdate")
    def localdate(value, fmt="medium"):
        from flask_babel import format_date

        return "—" if value is None else format_date(value, fmt)

    from portal.services import approvals, escalations

    for name, translate in {
        "time_left": timefmt.time_left,
        "event_text": timefmt.event_text,
        "sla_label": timefmt.sla_label,
        "notice_text": timefmt.notice_text,
        "office_hours": timefmt.office_hours,
        "escalation_level": escalations.level_label,
        "reason_label": escalations.reason_label,
        "role_label": approvals.role_name,
    }.items():
        app.add_template_filter(_per_render(translate), name)

    @app.template_global()
    def stage_deadline(req):
        """(label, when) of the current stage's own deadline, or None."""
        from sla.ladder import stage_deadline as deadline

        found = deadline(req)
        if found is None:
            return None
        return str(timefmt.STAGE_LABELS[found[0]]), found[1]

    @app.template_global()
    def visible_events(req) -> list:
        """The request's timeline as the signed-in person may read it."""
        from portal.services import access

        if not current_user.is_authenticated:
            return []
        return access.visible_events(current_user, req)

    @app.template_global()
    def event_visible(event, part: str) -> bool:
        """Whether the signed-in person sees this event's actor or reason."""
        from portal.services import access

        if not current_user.is_authenticated:
            return False
        if part == "actor":
            return access.sees_event_actor(current_user, event)
        return access.sees_event_reason(current_user, event)

    @app.template_global()
    def unread_notices() -> int:
        from notifications import inbox

        if not current_user.is_authenticated:
            return 0
        return inbox.unread_count(current_user)

    @app.template_global()
    def request_endpoint() -> str:
        """Where a person opens a request, by their role."""
        role = current_user.role if current_user.is_authenticated else "applicant"
        return {
            "applicant": "applicant.detail",
            "staff": "staff.detail",
            "head": "staff.detail",
        }.get(role, "supervisor.detail")

    @app.before_request
    def _remember_path():
        g.path = request.path

    @app.before_request
    def _refuse_nul_characters():
        # PostgreSQL text cannot hold NUL: a lookup or insert with one would end in a 500.
        values = [request.path]
        values += [v for _, v in request.args.items(multi=True)]
        values += [v for _, v in request.form.items(multi=True)]
        if any("\x00" in value for value in values):
            abort(400)


def register_commands(app: Flask) -> None:
    from notifications.cli import notifications_cli
    from portal.audit import audit_cli
    from portal.seed import seed_command
    from sla.cli import sla_cli

    app.cli.add_command(seed_command)
    app.cli.add_command(sla_cli)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(audit_cli)
