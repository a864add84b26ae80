"""Notifications: who is told what, and how.

`notify()` is the one door: services call it inside their transaction, so a message is
owed exactly when the change that caused it happened. The outbox (`outbox.py`) holds what
is owed, the relay (`relay.py`, run by RQ jobs in `jobs.py`) delivers it through the
channels (`channels.py`: email, in-app, SMS), in the words of `templates.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.outbox import OutboxMessage
    from portal.models import ServiceRequest, User


def notify(
    user: User | None,
    template: str,
    *,
    request: ServiceRequest | None = None,
    context: dict | None = None,
    key: str,
    channels: tuple[str, ...] | None = None,
    address: str | None = None,
) -> list[OutboxMessage]:
    """Tell `user` about something, by `template`, once per `key` (an idempotency key).

    Adds one outbox row per channel the person has chosen (in-app always; email unless
    switched off; SMS if chosen and a phone is set) to the caller's transaction: a
    rollback leaves nothing, a repeated key adds nothing. The in-app notice is part of the
    same transaction; email and SMS go out through the relay once the caller commits.
    Returns the rows added.

    `channels` overrides the person's choice (a password-reset link goes by email only,
    whatever they chose), and `address` the email address (a new address is confirmed
    by writing to it).
    """
    from notifications import outbox

    if user is None:
        return []
    return outbox.write(
        user,
        template,
        request=request,
        context=context,
        key=key,
        channels=channels,
        address=address,
    )


def notify_address(
    email: str, template: str, *, context: dict, language: str = "ru", key: str
) -> list[OutboxMessage]:
    """Email someone who has no account yet (an invitation), once per `key`.

    The same outbox and relay as `notify`, on the email channel only, to `email`.
    """
    from notifications import outbox

    return outbox.write_to_address(email, template, context=context, language=language, key=key)
