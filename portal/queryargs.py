"""Numbers from URLs and query strings, bounded to what the database's integers hold."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

DB_INT_MAX = 2**31 - 1


def db_int(value: str) -> int:
    """For `request.args.get(name, type=db_int)`: out of range is as good as missing."""
    number = int(value)
    if not 0 <= number <= DB_INT_MAX:
        raise ValueError(value)
    return number


class DbIntConverter(IntegerConverter):
    """`<int:id>` that 404s on numbers no row can have, instead of overflowing in SQL."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(url_map, *args, **kwargs)
