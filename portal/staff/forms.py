from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal import limits
from portal.services import requests as request_service


class ActForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    reason = TextAreaField(
        _l("Reason"), validators=[Optional(), Length(max=limits.DECISION_REASON)]
    )


def ask_form_for(document_types):
    """Tick what is missing and say why, per document type."""

    class AskForm(FlaskForm):
        pass

    for document_type in document_types:
        setattr(AskForm, f"want_{document_type.id}", BooleanField(document_type.name))
        setattr(
            AskForm,
            f"reason_{document_type.id}",
            StringField(
                _l("Why it is needed"),
                validators=[Optional(), Length(max=limits.DOCUMENT_REASON)],
            ),
        )
    return AskForm


class ReassignForm(FlaskForm):
    assignee = SelectField(_l("New accountable employee"), coerce=int)
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])


class BulkReassignForm(ReassignForm):
    """Several requests (ticked as `references`) to one employee, with one reason."""


def reassign_form(found, formdata=None) -> ReassignForm:
    """The reassign form of one request: its department's other caseworkers to choose from."""
    form = ReassignForm() if formdata else ReassignForm(formdata=None)
    form.assignee.choices = [
        (u.id, u.full_name) for u in request_service.colleagues(found) if u.id != found.assignee_id
    ]
    return form


def _reason_choices():
    from portal.services.escalations import REASON_CODES

    return [(code, label) for code, label in REASON_CODES.items()]


class AcknowledgeForm(FlaskForm):
    reason_code = SelectField(_l("Reason"), choices=_reason_choices, validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class StepForm(FlaskForm):
    """An approver's answer: approve, or return to review with a comment."""

    decision = HiddenField(validators=[DataRequired()])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])
