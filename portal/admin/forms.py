from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from portal.timefmt import ROLE_LABELS


class OverrideForm(FlaskForm):
    day = DateField(_l("Date"), validators=[DataRequired()])
    kind = SelectField(
        _l("The day becomes"),
        choices=[("holiday", _l("a day off")), ("working", _l("a working day (transfer)"))],
    )
    name = StringField(_l("Name or decree"), validators=[DataRequired(), Length(max=200)])
    confirmed = HiddenField(default="")


class RemoveOverrideForm(FlaskForm):
    confirmed = HiddenField(default="")


class PolicyForm(FlaskForm):
    target_days = IntegerField(
        _l("Target (working days)"), validators=[InputRequired(), NumberRange(1, 365)]
    )
    waiting_policy = SelectField(
        _l("While waiting on the applicant"),
        choices=[
            ("pause", _l("pause: the clock stops")),
            ("run", _l("run: the time counts")),
            ("restart", _l("restart: the target starts again")),
        ],
    )
    at_risk_percent = IntegerField(
        _l("At risk when this share of the target is used (%)"),
        validators=[InputRequired(), NumberRange(1, 99)],
    )
    intake_days = IntegerField(
        _l("Completeness check (working days)"), validators=[Optional(), NumberRange(1, 60)]
    )
    approval_days = IntegerField(
        _l("Approvals (working days)"), validators=[Optional(), NumberRange(1, 60)]
    )
    warn_at_risk = BooleanField(_l("Warn the accountable employee when at risk"))
    escalate_to_head = BooleanField(_l("Escalate to the head of department on breach"))
    reply_days = IntegerField(
        _l("Working days the applicant has to send missing documents"),
        validators=[InputRequired(), NumberRange(1, 60)],
    )
    reminder_days = StringField(
        _l("Remind on these working days after asking (e.g. 2, 4, 6)"),
        validators=[Optional(), Length(max=60)],
    )
    supervisor_after_days = IntegerField(
        _l("Escalate to the supervisor this many working days after the breach"),
        validators=[Optional(), NumberRange(1, 60)],
    )
    # Approvals: who signs off after review; `approval_days` above is each sign-off's deadline.
    approvers = SelectMultipleField(_l("Approvers (sign-off after review)"), choices=[])
    silence_is_consent = BooleanField(
        _l("Silence is consent: an approval not given by its deadline counts as given")
    )
    confirmed = HiddenField(default="")


class RetryForm(FlaskForm):
    """A dead outbox row, given another set of attempts."""


class DisableAccountForm(FlaskForm):
    reason = StringField(
        _l("Why is this account disabled?"), validators=[DataRequired(), Length(max=200)]
    )


class EnableAccountForm(FlaskForm):
    """Let a disabled person log in again."""


class RevokePersonTokenForm(FlaskForm):
    """Revoke one of a person's API tokens (which one is in the URL)."""


ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role in ("staff", "head", "supervisor", "admin")]


def _department_id(value):
    return int(value) if value not in (None, "", "None") and str(value).isdecimal() else None


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="staff")
    # Choices: the departments, filled in by the view; empty for supervisors and admins.
    department_id = SelectField(
        _l("Department (staff and heads)"), choices=[], coerce=_department_id, validate_choice=False
    )


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    department_id = SelectField(
        _l("Department (staff and heads)"), choices=[], coerce=_department_id, validate_choice=False
    )
    reason = StringField(
        _l("Why does the role or department change?"),
        validators=[DataRequired(), Length(max=200)],
    )


class ResendInvitationForm(FlaskForm):
    """Send a person who has not set a password a new invitation link."""
