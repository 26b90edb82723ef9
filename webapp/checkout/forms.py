"""The checkout form: how the order reaches the customer (post, or collect in store: chosen on the page by a GET
form, carried here in a hidden field), where to ship (a saved address or a new one; none to collect), whether
the wallet pays, and the one-time token that makes a resubmitted form find the order it already made."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField
from wtforms.validators import AnyOf, Length, Optional, Regexp, ValidationError

from ..models.orders import DELIVERY_METHODS, DeliveryMethod
from ..services.people.accounts import ADDRESS_PATTERNS


def _pattern(name: str) -> Regexp:
    pattern, message = ADDRESS_PATTERNS[name]
    return Regexp(pattern, message=message)


class CheckoutForm(FlaskForm):
    """Ship to a saved address, or to a new one (validated only when chosen)."""

    # No Optional(): it would stop the checks when the choice is missing, and a POST without one would reach
    # the order with no address at all (a 500). Missing means a new address, checked like one.
    delivery_method = HiddenField(default=DeliveryMethod.POST,
                                  validators=[AnyOf([str(m) for m in DELIVERY_METHODS], "Choose a delivery method.")])
    address_id = RadioField("Ship to", default="new", validate_choice=False, choices=[])
    full_name = StringField("Recipient name", validators=[Optional(), Length(max=120)])
    line1 = StringField("Address line 1", validators=[Optional(), Length(max=200)])
    line2 = StringField("Address line 2", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[Optional(), Length(max=100)])
    region = StringField("State / region", validators=[Optional(), Length(max=100)])
    postcode = StringField("Postcode", validators=[Optional(), Length(max=20), _pattern("postcode")])
    country = StringField("Country code", validators=[Optional(), _pattern("country")])
    phone = StringField("Phone", validators=[Optional(), Length(max=40), _pattern("phone")])
    save_address = BooleanField("Save this address to my account")
    use_wallet = BooleanField("Pay with my wallet")
    # One token per rendered form: submitting it twice (double click, back and resubmit) makes one order.
    token = HiddenField(validators=[Optional(), Regexp(r"^[A-Za-z0-9_\-]{16,64}$")])

    REQUIRED = ("full_name", "line1", "city", "postcode", "country")

    @property
    def collect(self) -> bool:
        return self.delivery_method.data == DeliveryMethod.COLLECT

    def validate_address_id(self, field):
        if self.collect:
            return  # collected in store: no address needed
        if field.data not in (None, "", "new") and field.data not in {str(value) for value, _ in field.choices}:
            raise ValidationError("Not a valid choice.")
        if field.data in (None, "", "new"):
            missing = [name for name in self.REQUIRED if not (getattr(self, name).data or "").strip()]
            for name in missing:
                getattr(self, name).errors = list(getattr(self, name).errors) + ["This field is required."]
            if missing:
                raise ValidationError("Please complete the new address.")
