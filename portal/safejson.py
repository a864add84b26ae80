"""JSON bodies as the APIs read them: the standard parser, refusing what would break
later (a lone surrogate cannot be stored or hashed; deep nesting exhausts the stack) with a
400 and a message, instead of a 500 at some distance from the cause."""

from __future__ import annotations

from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

# Our bodies are three levels deep at most ({"items": [{...}]}): room to spare.
MAX_DEPTH = 32


class RefusedJSON(BadRequest):
    """A body that parses but that we will not take; `api_code` and the description are
    what the API's error envelope says."""

    def __init__(self, api_code: str, message: str):
        super().__init__(description=message)
        self.api_code = api_code


class CheckedJSONProvider(DefaultJSONProvider):
    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise _too_deep() from None
        check(value)
        return value


def _too_deep() -> RefusedJSON:
    return RefusedJSON(
        "too_deep", _("The JSON is nested too deeply: at most %(num)d levels.", num=MAX_DEPTH)
    )


def check(value) -> None:
    """Raise RefusedJSON if `value` nests deeper than MAX_DEPTH or holds a lone surrogate."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key)
                pending.append((inner, depth + 1))
        else:
            pending.extend((inner, depth + 1) for inner in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RefusedJSON(
            "invalid_text", _("The JSON holds text that is not valid Unicode (a lone surrogate).")
        ) from None
