from flask_babel import lazy_gettext as _l
from wtforms import RadioField

from portal.staff.forms import AcknowledgeForm


class VerdictForm(AcknowledgeForm):
    """The supervisor's acknowledgement: a reason, a note, and whether it is excused."""

    excused = RadioField(
        _l("Excused"),
        choices=[("", _l("not decided")), ("yes", _l("yes")), ("no", _l("no"))],
        default="",
    )
