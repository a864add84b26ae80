"""Fixtures for the notification stories: a real SMTP server, a real SMS gateway, a worker.

The SMTP sink is aiosmtpd in a thread of this process, listening on 127.0.0.1; what it
accepted is kept as parsed messages. It can be told to refuse a recipient with any code.
The SMS gateway is a `http.server` in a thread that records each request.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from rq import SimpleWorker

from notifications.outbox import OutboxMessage
from portal.extensions import db
from portal.queueing import queue

ALMATY = ZoneInfo("Asia/Almaty")
# A Monday morning in the akimat, far from any holiday.
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=ALMATY)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SinkHandler:
    """Accepts mail (or refuses a recipient as told) and keeps what it accepted."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: dict[str, str] = {}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 2.0.0 Ok: queued"


@dataclass
class SmtpSink:
    host: str
    port: int
    handler: SinkHandler

    @property
    def messages(self) -> list:
        with self.handler.lock:
            return list(self.handler.messages)

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]

    def keys(self) -> list[str]:
        return [m["X-Moldir-Key"] for m in self.messages]

    def refuse(self, address: str, reply: str) -> None:
        self.handler.refuse[address] = reply

    def reset(self) -> None:
        with self.handler.lock:
            self.handler.messages.clear()
        self.handler.refuse.clear()


@pytest.fixture(scope="session")
def _smtp_server():
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSink("127.0.0.1", port, handler)
    controller.stop()


@pytest.fixture
def smtp(app, _smtp_server):
    """The SMTP sink, empty, and the app sending its email there."""
    _smtp_server.reset()
    app.config.update(
        SMTP_HOST=_smtp_server.host,
        SMTP_PORT=_smtp_server.port,
        MAIL_FROM="Moldir <no-reply@moldir.test>",
        BASE_URL="https://moldir.example.kz",
    )
    yield _smtp_server
    _smtp_server.reset()


@dataclass
class Gateway:
    """What the SMS gateway was sent, and what it answers next."""

    url: str
    calls: list[dict] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def sms_gateway(app):
    gateway = Gateway(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            gateway.calls.append({"headers": dict(self.headers), "body": body})
            reply = json.dumps({"id": f"gw-{len(gateway.calls)}"}).encode()
            self.send_response(gateway.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/messages"
    app.config.update(SMS_GATEWAY_URL=gateway.url, SMS_GATEWAY_TOKEN="gw-token")
    yield gateway
    server.shutdown()
    server.server_close()


# --- the office and its people ----------------------------------------------------------


@pytest.fixture
def office(make, travel):
    travel(MONDAY)
    return make.office(
        names={"employee": "Aigerim Bekova", "head": "Daniyar Head", "applicant": "Saule Karimova"}
    )


# --- the worker and what the database holds ---------------------------------------------


def run_relay_worker(app) -> SimpleWorker:
    """Work the `notifications` queue until it is empty, in this process."""
    worker = SimpleWorker([queue("notifications")], connection=app.extensions["redis"])
    worker.work(burst=True)
    return worker


def outbox_rows(**where) -> list:
    """Committed outbox rows, read on a connection of their own, in id order."""
    query = sa.select(OutboxMessage.__table__).order_by(OutboxMessage.id)
    for name, value in where.items():
        query = query.where(OutboxMessage.__table__.c[name] == value)
    with db.engine.connect() as connection:
        return connection.execute(query).all()


def queued_relays(app) -> int:
    return queue("notifications").count
