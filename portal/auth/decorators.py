"""Role checks for views."""

from __future__ import annotations

import functools

from flask import abort
from flask_login import current_user, login_required


def roles_required(*roles: str):
    """Logged in, and with one of `roles`; others get a 403."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
