from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional


class RegisterForm(FlaskForm):
    kind = RadioField(
        _l("I apply as"),
        choices=[("company", _l("a business (BIN)")), ("citizen", _l("a citizen (IIN)"))],
        default="company",
        validators=[DataRequired()],
    )
    full_name = StringField(_l("Your full name"), validators=[DataRequired(), Length(max=200)])
    identifier = StringField(
        _l("BIN or IIN (12 digits)"), validators=[DataRequired(), Length(min=12, max=20)]
    )
    company_name = StringField(_l("Company name"), validators=[Optional(), Length(max=200)])
    member_role = SelectField(
        _l("Your role, if the business is registered already"),
        choices=[
            ("employee", _l("employee")),
            ("accountant", _l("accountant")),
            ("lawyer", _l("lawyer (power of attorney)")),
        ],
        default="employee",
    )
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    # Length and the common-password list: portal/services/passwords.py (one rule, one message).
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1000)])
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class MarkReadForm(FlaskForm):
    pass


class ProfileForm(FlaskForm):
    notify_email = BooleanField(_l("Email me"))
    notify_sms = BooleanField(_l("Send me SMS"))
    phone = StringField(
        _l("Mobile phone number"),
        validators=[Optional(), Length(max=24)],
        render_kw={"inputmode": "tel", "autocomplete": "tel", "placeholder": "+7XXXXXXXXXX"},
    )
    locale = SelectField(
        _l("Language of messages"),
        choices=[("ru", "Русский"), ("kk", "Қазақша"), ("en", "English")],
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])


class SetPasswordForm(FlaskForm):
    """A new password, from a reset link or an invitation (rules: portal/services/passwords.py)."""

    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=1000)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )


class ChangeEmailForm(FlaskForm):
    email = EmailField(
        _l("New email address"), validators=[DataRequired(), Email(), Length(max=254)]
    )
    password = PasswordField(_l("Current password"), validators=[DataRequired()])


class ConfirmEmailForm(FlaskForm):
    """Confirm a new address (a button, so that a mail scanner opening the link changes
    nothing)."""
