"""Forms for the admin discount-code screens: the list's filters, the code's editor, and its buttons."""
from __future__ import annotations

from datetime import UTC, datetime

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Form,
    IntegerField,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..models import DiscountCode
from ..services.commerce.discounts import KINDS, STATES, DiscountInput
from ..services.platform import money


def _cents(text: str | None) -> int | None:
    """An amount typed into the form as cents (None when empty), in the wording the form has always used."""
    try:
        return money.parse(text)
    except money.MoneyError:
        raise ValidationError(f"Enter an amount like {money.plain(1250)}.") from None


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
    # (the descriptions of value and min_subtotal show amounts in the shop's currency: set in __init__)
    value = StringField("Value", validators=[DataRequired("Enter how much the code takes off.")])
    min_subtotal = StringField("Minimum order (optional)", validators=[Optional()])
    starts_at = DateTimeLocalField("Starts (UTC, optional)", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    ends_at = DateTimeLocalField("Ends (UTC, optional)", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    max_uses = IntegerField("Total uses allowed (optional)", validators=[Optional()])
    max_uses_per_user = IntegerField("Uses per customer (optional)", validators=[Optional()])
    active = BooleanField("Active", default=True)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.parsed_value: int | None = None  # the value and minimum as numbers, once validated
        self.parsed_min_subtotal = 0
        self.value.description = ("Percent off: a whole number from 1 to 100. "
                                  f"Amount off: e.g. {money.plain(500)}.")
        self.min_subtotal.description = f"Goods after member discounts, e.g. {money.plain(2500)}."

    def validate_value(self, field: StringField) -> None:
        text = (field.data or "").strip()
        if self.kind.data == "percent":
            number = text.rstrip("%").strip()
            if not (number.isascii() and number.isdigit() and len(number) <= 3):  # "²" is a digit to isdigit()
                raise ValidationError("A percentage must be a whole number from 1 to 100.")
            self.parsed_value = int(number)
        else:
            self.parsed_value = _cents(text)

    def validate_min_subtotal(self, field: StringField) -> None:
        self.parsed_min_subtotal = _cents(field.data) or 0

    def to_input(self) -> DiscountInput:
        def utc(value: datetime | None) -> datetime | None:
            return value.replace(tzinfo=UTC) if value else None

        return DiscountInput(code=self.code.data or "", kind=self.kind.data, value=self.parsed_value,
                             description=self.description.data, min_subtotal_cents=self.parsed_min_subtotal,
                             starts_at=utc(self.starts_at.data), ends_at=utc(self.ends_at.data),
                             max_uses=self.max_uses.data, max_uses_per_user=self.max_uses_per_user.data,
                             active=bool(self.active.data))

    @classmethod
    def for_code(cls, discount: DiscountCode) -> DiscountForm:
        """The editor filled in from a saved code (times shown in UTC, to the minute)."""
        def local(value: datetime | None) -> datetime | None:
            return value.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0) if value else None

        return cls(code=discount.code, description=discount.description, kind=discount.kind,
                   value=str(discount.value) if discount.kind == "percent" else money.plain(discount.value),
                   min_subtotal=money.plain(discount.min_subtotal_cents) if discount.min_subtotal_cents else "",
                   starts_at=local(discount.starts_at), ends_at=local(discount.ends_at), max_uses=discount.max_uses,
                   max_uses_per_user=discount.max_uses_per_user, active=discount.active)


class DiscountActionForm(FlaskForm):
    """Activate, deactivate, delete: a bare POST with a CSRF token."""
