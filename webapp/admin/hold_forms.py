"""Forms for the admin holds screens: cancel with a reason, move up or down, extend the pick-up window.
The rules (bounds, states) are the service's (services.circulation.hold_staff); these parse and carry CSRF."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ..services.circulation.hold_staff import REASON_MAX


class HoldCancelForm(FlaskForm):
    reason = StringField("Reason (the customer is told)",
                         validators=[DataRequired("Give a reason: the customer is told it."),
                                     Length(max=REASON_MAX, message=f"Keep the reason under {REASON_MAX} characters.")])


class HoldMoveForm(FlaskForm):
    direction = SelectField("Direction", choices=[SelectChoice("up", "Up"), SelectChoice("down", "Down")],
                            validators=[InputRequired("Move up or down.")])


class HoldExtendForm(FlaskForm):
    days = IntegerField("Days", validators=[InputRequired("Enter a number of days."),
                                            NumberRange(min=1, max=365, message="Enter a number of days.")])
