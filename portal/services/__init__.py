"""Services: the rules, as plain functions over the ORM.

Views, jobs and CLI commands call these; each public function that changes data owns its
transaction (it commits, or rolls back and raises).
"""


class ServiceError(Exception):
    """A rule said no. `message` is for the person; `field` names the form field, if any."""

    def __init__(self, message, field: str | None = None, code: str = "invalid"):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.code = code


class NotVisible(LookupError):
    """The object does not exist for this person (shown as a 404, never as a 403)."""
