"""Forms for the author area: the figures' period, the profile, and its buttons."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, Form, SelectChoice, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import Length, Optional

from ..services.insight import author_figures
from ..services.people import authors


class PeriodForm(Form):
    """GET filter for the dashboard (no CSRF: it changes nothing)."""

    period = SelectField("Period", default="12m", validators=[Optional()],
                         choices=[SelectChoice(k, v) for k, v in author_figures.PERIODS.items()])


class ProfileForm(FlaskForm):
    bio = TextAreaField("Bio", validators=[Optional(), Length(max=authors.BIO_MAX)],
                        description=f"Shown on your public author page; up to {authors.BIO_MAX:,} characters.")
    city = StringField("City", validators=[Optional(), Length(max=authors.CITY_MAX)])
    goodreads_url = URLField("Goodreads page", validators=[Optional(), Length(max=255)],
                             description=f"Optional. An https link on goodreads.com, e.g. {authors.GOODREADS_EXAMPLE}")
    photo = FileField("New photo", description="JPEG, PNG, WebP or GIF. It is resized and re-encoded; "
                                               "the current photo is replaced.")
    remove_photo = BooleanField("Remove my current photo")
    bank_account = StringField("Bank account number", validators=[Optional(), Length(max=64)],
                               description="An IBAN, or an account number of 6 to 34 digits. Leave empty to keep "
                                           "the current one. It is stored encrypted and never shown again in full.")


class ActionForm(FlaskForm):
    """A bare POST with a CSRF token (remove bank details)."""
