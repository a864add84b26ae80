from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length


class NewTokenForm(FlaskForm):
    name = StringField(
        _l("Token name (what it is for)"), validators=[DataRequired(), Length(max=80)]
    )


class RevokeTokenForm(FlaskForm):
    token_id = HiddenField(validators=[DataRequired()])
