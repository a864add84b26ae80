from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
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

from portal import limits


def _upload_field(document_type, optional: bool = False):
    """One upload, or several for a type that takes a multi-page scan."""
    label = document_type.name
    if optional:
        label = _l("%(name)s (optional)", name=document_type.name)
    kind = MultipleFileField if document_type.multiple_files else FileField
    return kind(label, validators=[Optional()])


def submit_form_for(document_types, optional_types=()):
    """A submission form with an upload per required (and optional) document."""

    class SubmitForm(FlaskForm):
        description = TextAreaField(
            _l("What do you need? (short description)"),
            validators=[DataRequired(), Length(max=limits.DESCRIPTION)],
        )

    for document_type in document_types:
        setattr(SubmitForm, f"doc_{document_type.id}", _upload_field(document_type))
    for document_type in optional_types:
        setattr(SubmitForm, f"doc_{document_type.id}", _upload_field(document_type, True))
    return SubmitForm


def answer_form_for(document_request):
    """Upload what the employee asked for: one file per item."""

    class AnswerForm(FlaskForm):
        pass

    for item in document_request.items:
        setattr(AnswerForm, f"doc_{item.document_type_id}", _upload_field(item.document_type))
    return AnswerForm


class WithdrawForm(FlaskForm):
    reason = StringField(
        _l("Why (optional)"), validators=[Optional(), Length(max=limits.WITHDRAW_REASON)]
    )


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
