from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

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
