"""The order lookup form: an order number and the email it was placed with (guest orders)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length


class LookupForm(FlaskForm):
    number = StringField("Order number", validators=[DataRequired("Enter the order number from your receipt."),
                                                     Length(max=40)],
                         description="As on your receipt, e.g. FO-ABCD-EFGH-JKLM.")
    email = EmailField("Email address", validators=[DataRequired("Enter the email address you ordered with."),
                                                    Length(max=254)])
