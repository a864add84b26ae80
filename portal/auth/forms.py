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
    password = PasswordField(
        _l("Password (at least 10 characters)"), validators=[DataRequired(), Length(min=10)]
    )
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
