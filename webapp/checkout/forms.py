"""The checkout form: how the order reaches the customer (post, or collect in store: chosen on the page by a GET
form, carried here in a hidden field), where to ship (a saved address or a new one; none to collect), the email
a guest's receipt goes to, whether the wallet pays, and the one-time token that makes a resubmitted form find
the order it already made."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, RadioField, StringField
from wtforms.validators import AnyOf, Length, Optional, Regexp, ValidationError

from ..address_forms import CountryField, address_problems
from ..models.orders import DELIVERY_METHODS, DeliveryMethod
from ..services.people import accounts
from ..services.people.accounts import ADDRESS_PATTERNS

# What a bounce keeps (webapp.checkout.drafts): everything typed except the one-time token. No card data is
# ever on this form (the provider's page takes it).
DRAFT_FIELDS = ("email", "address_id", "full_name", "line1", "line2", "city", "region", "postcode", "country",
                "phone", "save_address", "use_wallet")


def _pattern(name: str) -> Regexp:
    pattern, message = ADDRESS_PATTERNS[name]
    return Regexp(pattern, message=message)


class CheckoutForm(FlaskForm):
    """Ship to a saved address, or to a new one (validated only when chosen). `for_guest`: an email is asked."""

    # No Optional(): it would stop the checks when the choice is missing, and a POST without one would reach
    # the order with no address at all (a 500). Missing means a new address, checked like one.
    delivery_method = HiddenField(default=DeliveryMethod.POST,
                                  validators=[AnyOf([str(m) for m in DELIVERY_METHODS], "Choose a delivery method.")])
    email = EmailField("Email address", validators=[Optional(), Length(max=254)],
                       description="Your receipt and order updates go here.")
    address_id = RadioField("Ship to", default="new", validate_choice=False, choices=[])
    full_name = StringField("Recipient name", validators=[Optional(), Length(max=120)])
    line1 = StringField("Address line 1", validators=[Optional(), Length(max=200)])
    line2 = StringField("Address line 2", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[Optional(), Length(max=100)])
    region = StringField("State / region", validators=[Optional(), Length(max=100)])
    postcode = StringField("Postcode", validators=[Optional(), Length(max=20), _pattern("postcode")])
    country = CountryField()
    phone = StringField("Phone", validators=[Optional(), Length(max=40), _pattern("phone")])
    save_address = BooleanField("Save this address to my account")
    use_wallet = BooleanField("Pay with my wallet")
    # One token per rendered form: submitting it twice (double click, back and resubmit) makes one order.
    token = HiddenField(validators=[Optional(), Regexp(r"^[A-Za-z0-9_\-]{16,64}$")])

    REQUIRED = ("full_name", "line1", "city", "postcode", "country")

    def __init__(self, *args: Any, for_guest: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.for_guest = for_guest

    @property
    def collect(self) -> bool:
        return self.delivery_method.data == DeliveryMethod.COLLECT

    @property
    def new_address(self) -> bool:
        return (self.address_id.data or "").strip() in ("", "new")

    def validate_address_id(self, field):
        if self.collect:
            return  # collected in store: no address needed
        if not self.new_address and field.data not in {str(value) for value, _ in field.choices}:
            raise ValidationError("Not a valid choice.")

    def validate(self, extra_validators=None) -> bool:
        """The field checks, then what depends on several fields (run last: a field's own check clears its
        errors when it runs): the guest's email, and a new address complete, its country and postcode."""
        ok = super().validate(extra_validators)
        if self.for_guest:
            typed = (self.email.data or "").strip()
            problems = ["Enter your email address: your receipt goes there."] if not typed else \
                accounts.email_format_errors(typed)
            if problems:
                self.email.errors = [*self.email.errors, *problems]
                ok = False
        if not self.collect and self.new_address:
            missing = [name for name in self.REQUIRED if not (getattr(self, name).data or "").strip()]
            for name in missing:
                getattr(self, name).errors = [*getattr(self, name).errors, "This field is required."]
            if missing:
                self.form_errors.append("Please complete the new address.")
            if missing or address_problems(self.country, self.postcode):
                ok = False
        return ok
