from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional


def submit_form_for(document_types):
    """A submission form with one upload per required document."""

    class SubmitForm(FlaskForm):
        description = TextAreaField(
            _l("What do you need? (short description)"),
            validators=[DataRequired(), Length(max=4000)],
        )

    for document_type in document_types:
        setattr(
            SubmitForm,
            f"doc_{document_type.id}",
            FileField(document_type.name, validators=[Optional()]),
        )
    return SubmitForm


def answer_form_for(document_request):
    """Upload what the employee asked for: one file per item."""

    class AnswerForm(FlaskForm):
        pass

    for item in document_request.items:
        setattr(
            AnswerForm,
            f"doc_{item.document_type_id}",
            FileField(item.document_type.name, validators=[Optional()]),
        )
    return AnswerForm


class WithdrawForm(FlaskForm):
    reason = StringField(_l("Why (optional)"), validators=[Optional(), Length(max=500)])


# --- a business's people -------------------------------------------------------------------

MEMBER_ROLE_CHOICES = [
    ("employee", _l("employee")),
    ("accountant", _l("accountant")),
    ("lawyer", _l("lawyer (power of attorney)")),
]


class DecideForm(FlaskForm):
    """The owner's answer to someone asking to join: accept (as a role) or decline."""

    decision = RadioField(
        _l("Answer"),
        choices=[("accept", _l("Let them in")), ("decline", _l("Decline"))],
        validators=[DataRequired()],
    )
    role = SelectField(_l("Role in the business"), choices=MEMBER_ROLE_CHOICES)


class ConfirmForm(FlaskForm):
    """An irreversible step (removing a member, handing over): ticked to confirm."""

    confirmed = BooleanField(
        _l("I understand and confirm"),
        validators=[DataRequired(_l("Tick the box to confirm."))],
    )


class InviteForm(FlaskForm):
    email = EmailField(_l("Their email"), validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField(_l("Role in the business"), choices=MEMBER_ROLE_CHOICES)


class PowerOfAttorneyForm(FlaskForm):
    file = FileField(_l("Power of attorney (PDF, JPEG or PNG)"), validators=[Optional()])
    valid_until = DateField(_l("Valid until (inclusive)"), validators=[DataRequired()])


class JoinByInvitationForm(FlaskForm):
    full_name = StringField(_l("Your full name"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(
        _l("Password (at least 10 characters)"), validators=[DataRequired(), Length(min=10)]
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
