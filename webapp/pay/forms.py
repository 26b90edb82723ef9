"""The test gateway's card form (what Stripe's hosted page asks for)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange


class CardForm(FlaskForm):
    card_number = StringField("Card number", validators=[DataRequired(), Length(max=23)])
    exp_month = IntegerField("Expiry month (MM)", validators=[DataRequired(), NumberRange(min=1, max=12)])
    exp_year = IntegerField("Expiry year (YYYY)", validators=[DataRequired(), NumberRange(min=2000, max=2100)])
    cvc = StringField("CVC", validators=[DataRequired(), Length(min=3, max=4)])
    name = StringField("Name on card", validators=[DataRequired(), Length(max=120)])
