from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal import limits


def submit_form_for(document_types):
    """A submission form with one upload per required document."""

    class SubmitForm(FlaskForm):
        description = TextAreaField(
            _l("What do you need? (short description)"),
            validators=[DataRequired(), Length(max=limits.DESCRIPTION)],
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
    reason = StringField(
        _l("Why (optional)"), validators=[Optional(), Length(max=limits.WITHDRAW_REASON)]
    )
