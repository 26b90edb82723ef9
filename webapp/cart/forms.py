"""Forms for the cart's buttons: add a book, change a line, a discount code."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..security import DatabaseIntegerField


class AddForm(FlaskForm):
    book_id = DatabaseIntegerField(validators=[InputRequired(), NumberRange(min=1)])
    mode = SelectField(choices=[SelectChoice("buy", "Buy"), SelectChoice("rent", "Rent")], default="buy")
    # No upper bound here: more than may be ordered is lowered to the limit by the cart, with a message.
    quantity = IntegerField("Quantity", default=1, validators=[Optional(), NumberRange(min=1)])
    days = IntegerField("Days", default=7, validators=[Optional(), NumberRange(min=1, max=365)])


class LineForm(FlaskForm):
    book_id = DatabaseIntegerField(validators=[InputRequired(), NumberRange(min=1)])
    mode = HiddenField(validators=[DataRequired()])
    quantity = IntegerField("Quantity", validators=[Optional(), NumberRange(min=0)])
    days = IntegerField("Days", validators=[Optional(), NumberRange(min=1, max=365)])
    new_mode = SelectField("Buy or rent", validators=[Optional()],
                           choices=[SelectChoice("", "—"), SelectChoice("buy", "Buy"), SelectChoice("rent", "Rent")])


class DiscountForm(FlaskForm):
    code = StringField("Discount code", validators=[DataRequired(message="Enter a code."), Length(max=40)])
