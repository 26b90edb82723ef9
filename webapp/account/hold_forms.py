"""Forms of /account/holds: pause a hold ("not needed until"), and "not needed after". Dates are parsed here; the
bounds are the service's (services.circulation.hold_dates), which names the field a refused date belongs to."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SubmitField
from wtforms.validators import Optional


class HoldPauseForm(FlaskForm):
    until = DateField("Not needed until (leave empty: until I resume)", validators=[Optional()])


class HoldNotNeededAfterForm(FlaskForm):
    not_needed_after = DateField("Not needed after", validators=[Optional()])
    clear = SubmitField("Clear the date")
