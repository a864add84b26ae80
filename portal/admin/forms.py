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
    TextAreaField,
    widgets,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from portal.models import ROLE_LABELS


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes (a multiple select is hard to use on a phone)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


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


# --- the catalogue -----------------------------------------------------------------------

LANGUAGE_LABELS = (("ru", _l("in Russian")), ("kk", _l("in Kazakh")), ("en", _l("in English")))
CODE_HINT = _l("Latin letters, digits, _ or -; it cannot be changed later.")


def _texts(form_class, name: str, label, required: bool, area: bool = False, max_length=200):
    """Three fields `<name>_ru`, `<name>_kk`, `<name>_en` on the form class."""
    kind = TextAreaField if area else StringField
    for lang, in_language in LANGUAGE_LABELS:
        validators = [DataRequired() if required else Optional(), Length(max=max_length)]
        setattr(
            form_class,
            f"{name}_{lang}",
            kind(_LabelIn(label, in_language), validators=validators),
        )


class _LabelIn:
    """'Name (in Kazakh)', rendered in the reader's language when the page is."""

    def __init__(self, label, in_language):
        self.label, self.in_language = label, in_language

    def __str__(self) -> str:
        return f"{self.label} ({self.in_language})"


class DepartmentForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=16)])
    head = StringField(
        _l("Head of department (email of a person with the head role)"),
        validators=[Optional(), Length(max=254)],
    )
    active = BooleanField(_l("Active (a retired department takes no new services)"))


_texts(DepartmentForm, "name", _l("Name"), True)


FORMAT_CHOICES = [("pdf", "PDF"), ("jpeg", "JPEG"), ("png", "PNG")]


class DocumentTypeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)])
    formats = MultiCheckboxField(_l("Accepted formats"), choices=FORMAT_CHOICES)
    max_size_mb = IntegerField(
        _l("Largest file (MB; empty: the site's limit)"),
        validators=[Optional(), NumberRange(1, 100)],
    )
    multiple_files = BooleanField(_l("Several files allowed (e.g. a multi-page scan)"))
    active = BooleanField(_l("Active (a retired type is not offered for new services)"))


_texts(DocumentTypeForm, "name", _l("Name"), True)
_texts(DocumentTypeForm, "note", _l("Note to the applicant"), False, area=True, max_length=1000)


APPLICANT_CHOICES = [
    ("both", _l("businesses and citizens")),
    ("business", _l("businesses only (BIN)")),
    ("citizen", _l("citizens only (IIN)")),
]
RESULT_CHOICES = [
    ("permit", _l("a permit")),
    ("licence", _l("a licence")),
    ("certificate", _l("a certificate")),
    ("letter", _l("a letter")),
]


class ServiceDetailsForm(FlaskForm):
    department = SelectField(_l("Department"), choices=[])
    applicants = SelectField(_l("Who may apply"), choices=APPLICANT_CHOICES)
    fee_tenge = IntegerField(
        _l("Fee in tenge (empty: free of charge)"),
        validators=[Optional(), NumberRange(0, 100_000_000)],
    )
    result_form = SelectField(_l("The applicant receives"), choices=RESULT_CHOICES)
    required_documents = MultiCheckboxField(_l("Required documents"), choices=[])
    optional_documents = MultiCheckboxField(_l("Optional documents"), choices=[])


_texts(ServiceDetailsForm, "title", _l("Title"), True)
_texts(ServiceDetailsForm, "description", _l("Description"), True, area=True, max_length=4000)
_texts(ServiceDetailsForm, "legal_basis", _l("Legal basis"), False, max_length=1000)


class NewServiceForm(ServiceDetailsForm, PolicyForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)])


class ServiceStatusForm(FlaskForm):
    action = SelectField(
        choices=[("retire", "retire"), ("restore", "restore"), ("delete", "delete")]
    )
