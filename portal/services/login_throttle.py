"""Login throttling that slows a password guesser without locking the owner out.

Failures are counted per (account, client address) pair: after n failures from one
address at one account, that pair waits 2^n seconds (capped at LOGIN_RATE_LIMIT_BACKOFF_MAX)
before its next attempt is even looked at. A stranger guessing from elsewhere therefore
never holds up the owner at their own address. Two flat bounds stay behind it, counting
failures only (Flask-Limiter, in portal/auth/routes.py): per address across accounts
(LOGIN_RATE_LIMIT_IP, against spraying) and per account across every address
(LOGIN_RATE_LIMIT_ACCOUNT, high, against a guesser with many addresses).

The counts live in Redis, beside the limiter's; times come from the one clock, so tests
move time instead of waiting. Redis down: nobody is throttled (as the limiter does).
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError

from portal.queueing import redis_connection
from sla import clock

log = logging.getLogger(__name__)

_PREFIX = "moldir:login-failures:"
# A pair quiet for this long starts from nothing again.
FORGET_AFTER = timedelta(days=1)


def _key(account: str, address: str) -> str:
    # `account` is already a pseudonym (portal.privacy): no address is stored in Redis.
    return f"{_PREFIX}{account}:{address}"


def delay_after(failures: int) -> int:
    """Seconds a pair waits after `failures` failures in a row."""
    if failures <= 0:
        return 0
    cap = int(current_app.config["LOGIN_RATE_LIMIT_BACKOFF_MAX"])
    return min(2 ** min(failures, 30), cap)


def seconds_to_wait(account: str, address: str) -> int:
    """How long this pair must still wait before its next attempt is checked (0: go on)."""
    try:
        found = redis_connection().hgetall(_key(account, address))
    except RedisError as error:
        log.warning("login throttle unreadable, not applied: %s", type(error).__name__)
        return 0
    if not found:
        return 0
    failures = int(found.get(b"failures", 0))
    last = float(found.get(b"last", 0))
    elapsed = clock.now().timestamp() - last
    if elapsed >= FORGET_AFTER.total_seconds():
        return 0
    left = delay_after(failures) - elapsed
    # Whole seconds, rounded up (after dropping float noise from the timestamps).
    return max(0, math.ceil(round(left, 3)))


def record_failure(account: str, address: str) -> int:
    """Count one more failure for this pair; how many it has now."""
    key = _key(account, address)
    now = clock.now().timestamp()
    try:
        connection = redis_connection()
        last = connection.hget(key, "last")
        if last is not None and now - float(last) >= FORGET_AFTER.total_seconds():
            connection.delete(key)
        with connection.pipeline() as pipe:
            pipe.hincrby(key, "failures", 1)
            pipe.hset(key, "last", repr(now))
            pipe.expire(key, int(FORGET_AFTER.total_seconds()))
            failures, *_rest = pipe.execute()
    except RedisError as error:
        log.warning("login throttle not written: %s", type(error).__name__)
        return 0
    return int(failures)


def record_success(account: str, address: str) -> None:
    """The owner got in from here: this pair starts from nothing."""
    try:
        redis_connection().delete(_key(account, address))
    except RedisError as error:
        log.warning("login throttle not cleared: %s", type(error).__name__)


def forget_account(account: str) -> None:
    """The owner proved they hold the mailbox (a password reset): every count against this
    account starts from nothing, from every address, and so does its flat bound."""
    from limits import parse_many

    from portal.extensions import limiter

    try:
        connection = redis_connection()
        for key in connection.scan_iter(match=_key(account, "*"), count=500):
            connection.delete(key)
    except RedisError as error:
        log.warning("login throttle not cleared: %s", type(error).__name__)
    try:
        # Flask-Limiter's bucket of that limit: (its prefix,) key, "<endpoint>:<scope>".
        identifiers = [account, "auth.login:login-account"]
        if limiter._key_prefix:
            identifiers.insert(0, limiter._key_prefix)
        for item in parse_many(current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"]):
            limiter.limiter.clear(item, *identifiers)
    except Exception as error:  # the limiter's storage away: it forgets on its own
        log.warning("login limit not cleared: %s", type(error).__name__)
