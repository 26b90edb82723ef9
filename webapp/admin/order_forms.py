"""Forms for the admin orders screens: the list's filters and the staff actions on an order (mark paid, ship,
deliver, cancel, refund)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, Form, IntegerField, SearchField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..models import ORDER_STATUSES
from ..services.commerce.orders import REFUND_TO
from .forms import DateRange


class OrderFilterForm(DateRange, Form):
    q = SearchField("Customer or order", validators=[Optional(), Length(max=100)],
                    description="Order number, email or username")
    status = SelectField("Status", validators=[Optional()],
                         choices=[SelectChoice("", "Any status"), SelectChoice("sales", "Sales (paid, shipped or delivered)")]
                         + [SelectChoice(s, s.replace("_", " ").capitalize()) for s in ORDER_STATUSES])
    dates = SelectField("Dates", validators=[Optional()],
                        choices=[SelectChoice("created", "Placed"), SelectChoice("paid", "Paid")])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100000)])


_REFUND_CHOICES = [SelectChoice(k, v) for k, v in REFUND_TO.items()]


class MarkPaidForm(FlaskForm):
    reference = StringField("Payment reference or note",
                            validators=[DataRequired("Enter the payment reference or a note."), Length(max=200)],
                            description="Required, e.g. the bank transfer reference.")


class ShipForm(FlaskForm):
    tracking = StringField("Tracking number or note (optional)", validators=[Optional(), Length(max=200)])


class DeliverForm(FlaskForm):
    """A bare POST with a CSRF token."""


class CancelForm(FlaskForm):
    cancel_reason = TextAreaField("Reason for cancelling",
                                  validators=[DataRequired("Enter the reason for cancelling."), Length(max=200)])
    cancel_refund_to = SelectField("If paid, refund to", choices=_REFUND_CHOICES, default="card")


class RefundForm(FlaskForm):
    refund_reason = TextAreaField("Reason for the refund",
                                  validators=[DataRequired("Enter the reason for the refund."), Length(max=200)])
    refund_to = SelectField("Refund to", choices=_REFUND_CHOICES, default="card")
