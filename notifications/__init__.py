"""Notifications: who is told what, and how.

`notify()` is the one door: services call it inside their transaction, so a notice exists
exactly when the change that caused it does.
"""

from __future__ import annotations


def notify(user, template: str, *, request=None, context: dict | None = None,
           key: str) -> None:
    """Tell `user` about something, by `template`, once per `key` (an idempotency key).

    Adds rows to the caller's transaction; delivery happens after it commits.
    """
    from notifications import inbox

    if user is None:
        return
    inbox.notify(user, template, request, {**(context or {}), "key": key})
