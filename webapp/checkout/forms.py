"""The checkout form: where to ship (a saved address or a new one), whether the wallet pays, and the one-time
token that makes a resubmitted form find the order it already made."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from ..services.people.accounts import ADDRESS_PATTERNS


def _pattern(name: str) -> Regexp:
    pattern, message = ADDRESS_PATTERNS[name]
    return Regexp(pattern, message=message)


class CheckoutForm(FlaskForm):
    """Ship to a saved address, or to a new one (validated only when chosen)."""

    # No Optional(): it would stop the checks when the choice is missing, and a POST without one would reach
    # the order with no address at all (a 500). Missing means a new address, checked like one.
    address_id = RadioField("Ship to", default="new", validate_choice=True, choices=[])
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

    def validate_address_id(self, field):
        if field.data in (None, "", "new"):
            missing = [name for name in self.REQUIRED if not (getattr(self, name).data or "").strip()]
            for name in missing:
                getattr(self, name).errors = list(getattr(self, name).errors) + ["This field is required."]
            if missing:
                raise ValidationError("Please complete the new address.")
