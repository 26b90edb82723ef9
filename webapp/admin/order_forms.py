"""Forms for the admin orders, discount codes and audit log screens."""
from __future__ import annotations

import re
from datetime import UTC

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    Form,
    IntegerField,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..models import ORDER_STATUSES
from ..services.commerce.discounts import KINDS, STATES, DiscountInput
from ..services.commerce.orders import REFUND_TO
from ..services.platform.audit import OBJECT_TYPES

_MONEY = re.compile(r"\$?(\d{1,9})(?:\.(\d{1,2}))?")


def parse_cents(text: str | None) -> int | None:
    """"12", "12.5", "$1,012.50" → cents; None when empty; ValueError when not an amount."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    match = _MONEY.fullmatch(text)
    if not match:
        raise ValueError("Enter an amount like 12.50.")
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def cents_text(cents: int | None) -> str:
    return "" if cents is None else f"{cents // 100}.{cents % 100:02d}"


class _DateRange:
    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")


# ---- orders ----

class OrderFilterForm(_DateRange, Form):
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


# ---- discount codes ----

class DiscountFilterForm(Form):
    q = SearchField("Search", validators=[Optional(), Length(max=40)])
    state = SelectField("State", validators=[Optional()],
                        choices=[SelectChoice("", "Any state")] + [SelectChoice(k, v) for k, v in STATES.items()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100000)])


class DiscountForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired("Enter a code."), Length(max=40)],
                       description="3–40 letters, digits, - or _; saved in capitals, unique whatever the case.")
    description = StringField("Description (optional)", validators=[Optional(), Length(max=200)])
    kind = SelectField("Kind", choices=[SelectChoice(k, v) for k, v in KINDS.items()])
    value = StringField("Value", validators=[DataRequired("Enter how much the code takes off.")],
                        description="Percent off: a whole number from 1 to 100. Amount off: e.g. 5.00.")
    min_subtotal = StringField("Minimum order (optional)", validators=[Optional()],
                               description="Goods after member discounts, e.g. 25.00.")
    starts_at = DateTimeLocalField("Starts (UTC, optional)", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    ends_at = DateTimeLocalField("Ends (UTC, optional)", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    max_uses = IntegerField("Total uses allowed (optional)", validators=[Optional()])
    max_uses_per_user = IntegerField("Uses per customer (optional)", validators=[Optional()])
    active = BooleanField("Active", default=True)

    def validate_value(self, field):
        text = (field.data or "").strip()
        if self.kind.data == "percent":
            number = text.rstrip("%").strip()
            if not (number.isascii() and number.isdigit() and len(number) <= 3):  # "²" is a digit to isdigit()
                raise ValidationError("A percentage must be a whole number from 1 to 100.")
            self.parsed_value = int(number)
        else:
            try:
                self.parsed_value = parse_cents(text)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None

    def validate_min_subtotal(self, field):
        try:
            self.parsed_min_subtotal = parse_cents(field.data) or 0
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    def to_input(self) -> DiscountInput:
        def utc(value):
            return value.replace(tzinfo=UTC) if value else None

        return DiscountInput(code=self.code.data or "", kind=self.kind.data, value=getattr(self, "parsed_value", None),
                             description=self.description.data, min_subtotal_cents=getattr(self, "parsed_min_subtotal", 0),
                             starts_at=utc(self.starts_at.data), ends_at=utc(self.ends_at.data),
                             max_uses=self.max_uses.data, max_uses_per_user=self.max_uses_per_user.data,
                             active=bool(self.active.data))

    @classmethod
    def for_code(cls, discount) -> DiscountForm:
        def local(value):
            return value.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0) if value else None

        return cls(code=discount.code, description=discount.description, kind=discount.kind,
                   value=str(discount.value) if discount.kind == "percent" else cents_text(discount.value),
                   min_subtotal=cents_text(discount.min_subtotal_cents) if discount.min_subtotal_cents else "",
                   starts_at=local(discount.starts_at), ends_at=local(discount.ends_at), max_uses=discount.max_uses,
                   max_uses_per_user=discount.max_uses_per_user, active=discount.active)


class DiscountActionForm(FlaskForm):
    """Activate, deactivate, delete: a bare POST with a CSRF token."""


# ---- audit log ----

class AuditFilterForm(_DateRange, Form):
    action = SearchField("Action", validators=[Optional(), Length(max=60)],
                         description="“order.” for every order action, or an exact one such as order.shipped")
    actor = SearchField("Who", validators=[Optional(), Length(max=254)],
                        description="Username, email, #id, or “system”")
    object_type = SelectField("Object", validators=[Optional()],
                              choices=[SelectChoice("", "Any object")] + [SelectChoice(t, t.replace("_", " ").capitalize()) for t in OBJECT_TYPES])
    object_id = SearchField("Object id", validators=[Optional(), Length(max=40)],
                            description="e.g. a user id or an order number")
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    before = StringField("Older than", validators=[Optional(), Length(max=60)])
