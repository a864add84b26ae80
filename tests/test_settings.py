"""Settings are read once, when the app is built: from the environment, then the mapping a
test (or a deployment's wsgi) hands `create_app`; everything else reads the app's."""

from __future__ import annotations

import ast
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from notifications import channels, relay, templates
from portal import create_app
from sla import clock, deadlines
from tests.notifications.conftest import outbox_rows

ROOT = Path(__file__).resolve().parent.parent
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def environment_says_otherwise(monkeypatch):
    """The environment names another mail server and zone: the test's mapping wins."""
    monkeypatch.setenv("SMTP_HOST", "mail.from-the-environment.test")
    monkeypatch.setenv("MOLDIR_TIMEZONE", "Europe/Berlin")


@pytest.mark.settings(
    SMTP_HOST="mail.akimat.test",
    SMTP_PORT=2525,
    MAIL_FROM="Akimat <akimat@moldir.test>",
    NOTIFY_BATCH_SIZE=7,
    TIMEZONE="Asia/Tokyo",
)
def test_the_mapping_reaches_the_email_channel_the_relay_and_the_time_zone(
    environment_says_otherwise, app, make, travel
):
    email = channels.from_config(app.config)["email"]
    assert isinstance(email, channels.SmtpEmailChannel)
    assert (email.settings.host, email.settings.port, email.settings.sender) == (
        "mail.akimat.test",
        2525,
        "Akimat <akimat@moldir.test>",
    )
    assert relay.RelaySettings.from_config(app.config).batch_size == 7

    # Working hours are Tokyo's: a request submitted on Monday morning there is due at
    # 18:00 Tokyo time, and the applicant's email says 18:00 (Almaty would read 14:00).
    travel(datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO))
    app.config["NOTIFY_KICK_RELAY"] = False
    office = make.office(names={"employee": "Aigerim Bekova"})
    request = office.submit()
    assert deadlines.calendar().tz == TOKYO
    due = request.due_at.astimezone(TOKYO)
    assert (due.hour, due.minute) == (18, 0)
    (receipt,) = [
        row
        for row in outbox_rows(channel="email", template="request_submitted")
        if row.recipient_id == office.applicant.id
    ]
    body = templates.render(receipt.template, "en", receipt.context, app.config["BASE_URL"]).body
    assert f"{due.day}, 2026, 18:00" in body or f"{due.day} 2026, 18:00" in body, body
    assert "14:00" not in body


def test_the_run_clock_is_read_when_the_app_is_built_not_at_import(monkeypatch):
    monkeypatch.setenv("MOLDIR_CLOCK", f"{time.time()},2026-02-09T15:00:00+05:00,1")
    try:
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
        assert abs(clock.now() - datetime(2026, 2, 9, 10, 0, tzinfo=UTC)).total_seconds() < 60

        monkeypatch.delenv("MOLDIR_CLOCK")
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
        assert abs(clock.now() - datetime.now(UTC)).total_seconds() < 60
    finally:
        clock.run_from("")


# Entry points that hand the environment on to the processes they start.
MAY_READ_THE_ENVIRONMENT = {"portal/config.py", "portal/devserver.py"}


def test_only_the_settings_module_reads_the_environment():
    readers = []
    for package in ("portal", "sla", "notifications"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if name in MAY_READ_THE_ENVIRONMENT:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                    and node.attr in ("environ", "getenv", "environb")
                ):
                    readers.append(f"{name}:{node.lineno}")
    assert readers == []
