"""The ways a message reaches a person, behind one interface.

A channel takes an `Outgoing` message and returns the provider's id for it, or raises
`TransientError` (try again later) or `PermanentError` (never will work: dead at once).
`open()`/`close()` bracket a relay run (all its batches): email keeps one SMTP connection.

Each channel carries the outbox row's idempotency key, so a re-delivery after a worker was
lost can be recognised where the channel allows it:
- in-app: the notice's `outbox_id` is unique; a second delivery is a no-op (exactly once).
- SMS: the key travels as the `Idempotency-Key` header; a gateway that honours it sends
  once (exactly once, as far as the gateway keeps its promise).
- email: the `Message-ID` is derived from the key, so a duplicate is recognisable by mail
  clients and servers that de-duplicate on it. SMTP itself has no idempotency: once the
  server has said 250 the mail is gone, and a client that dies before recording that can
  only guess. The relay narrows that window (see `notifications.relay`); it cannot close it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

from portal.privacy import pseudonym
from sla import clock

log = logging.getLogger(__name__)


class TransientError(Exception):
    """This attempt failed; a later one may work (4xx, a refused connection, a timeout)."""


class PermanentError(Exception):
    """This message can never be delivered as it is (5xx, no address, a broken template)."""


class ChannelDown(TransientError):
    """The channel itself is unreachable: the rest of the batch is not attempted."""


@dataclass(frozen=True)
class Outgoing:
    """One rendered message, ready for its channel."""

    outbox_id: int
    idempotency_key: str
    recipient_id: int | None  # None: an address with no account behind it
    request_id: int | None
    template: str
    context: dict
    address: str | None
    language: str
    subject: str
    body: str
    short: str


class Channel:
    """The interface every channel implements."""

    name = "channel"

    def open(self) -> None:
        """Get ready for a batch (connect, log in)."""

    def send(self, message: Outgoing) -> str:
        """Deliver one message; the provider's id for it."""
        raise NotImplementedError

    def close(self) -> None:
        """The batch is over."""


# --- in-app -------------------------------------------------------------------------------


class InAppChannel(Channel):
    """The portal's own inbox: a notice, once per outbox row."""

    name = "in_app"

    def send(self, message: Outgoing) -> str:
        import sqlalchemy as sa

        from notifications.inbox import Notice
        from portal.extensions import db

        notice_id = db.session.scalar(
            sa.select(Notice.id).where(Notice.outbox_id == message.outbox_id)
        )
        if notice_id is None:
            # Only the relay holding this row's claim gets here; the unique `outbox_id`
            # backs the check all the same.
            notice = Notice(
                user_id=message.recipient_id,
                request_id=message.request_id,
                kind=message.template,
                payload=message.context,
                outbox_id=message.outbox_id,
                created_at=clock.now(),
            )
            db.session.add(notice)
            db.session.flush()
            notice_id = notice.id
        return f"notice:{notice_id}"


# --- email --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    starttls: bool
    use_ssl: bool
    user: str | None
    password: str | None
    sender: str
    timeout: float


@functools.cache
def _domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "moldir.local"


@functools.cache
def _address_header(address: str) -> str:
    name, addr = parseaddr(address)
    return formataddr((name, addr), charset="utf-8") if name else addr


def message_id(idempotency_key: str, sender: str) -> str:
    """The same key, the same Message-ID, on every attempt."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{_domain(sender)}>"


def _header_text(value: str) -> str:
    """A header value: as is when ASCII, else RFC 2047 encoded words (folded)."""
    value = " ".join(value.split())  # no CR/LF can reach a header
    if value.isascii():
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def email_bytes(message: Outgoing, sender: str) -> bytes:
    """The message as it goes on the wire: UTF-8 text, base64, the key in the headers.

    Written out directly rather than through `email.message.EmailMessage`, whose header
    folding costs more than the SMTP exchange itself.
    """
    headers = [
        ("From", _address_header(sender)),
        ("To", "".join(message.address.split())),
        ("Subject", _header_text(message.subject)),
        ("Date", format_datetime(clock.now())),
        ("Message-ID", message_id(message.idempotency_key, sender)),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Language", message.language),
        ("Auto-Submitted", "auto-generated"),
        ("X-Moldir-Key", message.idempotency_key),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    body = base64.encodebytes(message.body.encode()).replace(b"\n", b"\r\n")
    return head.encode("ascii") + b"\r\n" + body


class LoggingEmailChannel(Channel):
    """No SMTP_HOST configured: the email is written to the log instead of sent."""

    name = "email"

    def __init__(self, sender: str):
        self.sender = sender

    def send(self, message: Outgoing) -> str:
        if not message.address:
            raise PermanentError("no email address")
        ident = message_id(message.idempotency_key, self.sender)
        log.info(
            "email (not sent, no SMTP_HOST) to %s %s: %s",
            pseudonym(message.address, "email"),
            ident,
            message.subject,
        )
        return f"log:{ident}"


class SmtpEmailChannel(Channel):
    """Email over SMTP (smtplib): one connection for a relay run, re-opened when it drops."""

    name = "email"

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._envelope_from = parseaddr(settings.sender)[1]
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        if self._smtp is not None:
            return
        s = self.settings
        try:
            if s.use_ssl:
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password or "")
        except smtplib.SMTPAuthenticationError as error:
            raise ChannelDown(f"SMTP login refused: {error.smtp_code}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise ChannelDown(f"SMTP {s.host}:{s.port} unreachable: {error}") from error
        self._smtp = smtp

    def close(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (OSError, smtplib.SMTPException):
            self._smtp.close()
        self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def send(self, message: Outgoing) -> str:
        if not message.address:
            raise PermanentError("no email address")
        data = email_bytes(message, self.settings.sender)
        self.open()
        try:
            refused = self._smtp.sendmail(self._envelope_from, [message.address], data)
        except smtplib.SMTPSenderRefused as error:
            # Our MAIL_FROM refused: a setting to fix, not a bad message. Retry later.
            self._drop()
            raise ChannelDown(f"sender refused: {error.smtp_code}") from error
        except smtplib.SMTPRecipientsRefused as error:
            code = next(iter(error.recipients.values()))[0]
            self._reset()
            raise (PermanentError if code >= 500 else TransientError)(
                f"recipient refused: {code}"
            ) from error
        except smtplib.SMTPResponseException as error:
            self._reset()
            raise (PermanentError if error.smtp_code >= 500 else TransientError)(
                f"SMTP {error.smtp_code}: {error.smtp_error!r}"
            ) from error
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._drop()
            raise TransientError(f"SMTP connection lost: {error}") from error
        if refused:
            raise TransientError(f"recipient refused: {refused}")
        return message_id(message.idempotency_key, self.settings.sender)

    def _reset(self) -> None:
        """After a refused message the connection is fine, its transaction is not."""
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()


# --- SMS ----------------------------------------------------------------------------------


class LoggingSmsChannel(Channel):
    """No SMS_GATEWAY_URL configured: the text is written to the log."""

    name = "sms"

    def send(self, message: Outgoing) -> str:
        if not message.address:
            raise PermanentError("no phone number")
        log.info(
            "sms (not sent, no SMS_GATEWAY_URL) to %s: %s",
            pseudonym(message.address, "phone"),
            message.short,
        )
        return f"log:{message.idempotency_key}"


class HttpSmsChannel(Channel):
    """An HTTP SMS gateway: POST JSON {to, text, reference} with a bearer token.

    The idempotency key goes as the `Idempotency-Key` header; the gateway's message id
    comes back as `id` (or `message_id`) in a JSON reply.
    """

    name = "sms"

    def __init__(self, url: str, token: str | None, timeout: float = 10.0):
        if not url.startswith(("https://", "http://")):
            raise ValueError("SMS_GATEWAY_URL must be an http(s) URL")
        self.url = url
        self.token = token
        self.timeout = timeout

    def send(self, message: Outgoing) -> str:
        if not message.address:
            raise PermanentError("no phone number")
        payload = json.dumps(
            {"to": message.address, "text": message.short, "reference": message.idempotency_key}
        ).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # The scheme was checked in __init__: http(s) only.
        http_request = urllib.request.Request(  # noqa: S310
            self.url, data=payload, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:  # noqa: S310  # nosec B310
                reply = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 429 or error.code >= 500:
                raise TransientError(f"SMS gateway {error.code}") from error
            raise PermanentError(f"SMS gateway {error.code}") from error
        except OSError as error:  # URLError and timeouts included
            raise ChannelDown(f"SMS gateway unreachable: {error}") from error
        try:
            answer = json.loads(reply or b"{}")
        except ValueError:
            answer = {}
        provider_id = None
        if isinstance(answer, dict):
            provider_id = answer.get("id") or answer.get("message_id")
        return str(provider_id or f"sms:{message.idempotency_key}")


# --- settings -----------------------------------------------------------------------------


def flag(value: object) -> bool:
    """A yes/no setting, whether given as a bool or as text ("1", "true", "yes", "on")."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def smtp_settings(config: Mapping) -> SmtpSettings:
    """SMTP as the app's settings (portal/config.py) say."""
    use_ssl = flag(config["SMTP_SSL"])
    starttls = flag(config["SMTP_STARTTLS"])
    default_port = 465 if use_ssl else 587 if starttls else 25
    return SmtpSettings(
        host=config["SMTP_HOST"] or None,
        port=int(config["SMTP_PORT"] or default_port),
        starttls=starttls,
        use_ssl=use_ssl,
        user=config["SMTP_USER"] or None,
        password=config["SMTP_PASSWORD"] or None,
        sender=config["MAIL_FROM"],
        timeout=float(config["SMTP_TIMEOUT"]),
    )


def from_config(config: Mapping) -> dict[str, Channel]:
    """The channels as configured: real ones where configured, logging ones otherwise."""
    smtp = smtp_settings(config)
    email = SmtpEmailChannel(smtp) if smtp.host else LoggingEmailChannel(smtp.sender)
    sms_url = config["SMS_GATEWAY_URL"]
    sms = (
        HttpSmsChannel(sms_url, config["SMS_GATEWAY_TOKEN"] or None)
        if sms_url
        else LoggingSmsChannel()
    )
    return {"in_app": InAppChannel(), "email": email, "sms": sms}
