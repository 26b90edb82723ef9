"""Forms for the account pages: profile, addresses, email and password, two-factor set-up, closing the account,
holds, plans and wallet top-ups."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from ..address_forms import CountryField
from ..security import DatabaseIntegerField, FiniteDecimalField
from ..services.people import accounts, addresses
from ..services.platform import money


class ProfileForm(FlaskForm):
    full_name = StringField("Full name", validators=[Optional(), Length(max=120)])


def _pattern(name: str) -> Regexp:
    pattern, message = accounts.ADDRESS_PATTERNS[name]
    return Regexp(pattern, message=message)


class AddressForm(FlaskForm):
    full_name = StringField("Recipient name", validators=[DataRequired(), Length(max=120)])
    line1 = StringField("Address line 1", validators=[DataRequired(), Length(max=200)])
    line2 = StringField("Address line 2", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[DataRequired(), Length(max=100)])
    region = StringField("State / region", validators=[Optional(), Length(max=100)])
    postcode = StringField("Postcode", validators=[DataRequired(), Length(max=20), _pattern("postcode")])
    country = CountryField()
    phone = StringField("Phone", validators=[Optional(), Length(max=40), _pattern("phone")])
    is_default = BooleanField("Use as my default address")

    def validate_country(self, field):
        problem = addresses.country_problem(field.data)
        if problem:
            raise ValidationError(problem)

    def validate_postcode(self, field):
        problem = addresses.postcode_problem(self.country.data, field.data)
        if problem:
            raise ValidationError(problem)


class EmailChangeForm(FlaskForm):
    email = EmailField("New email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Current password", validators=[DataRequired()])


class CodeForm(FlaskForm):
    code = StringField("6-digit code", validators=[DataRequired(), Length(min=6, max=7)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD)],
                             description=f"At least {accounts.MIN_PASSWORD} characters.")
    confirm = PasswordField("Repeat new password", validators=[DataRequired(), EqualTo("password", "The passwords do not match.")])


class TwoFactorSetupForm(FlaskForm):
    code = StringField("Code from your authenticator app", validators=[DataRequired(), Length(min=6, max=7)])


class PasswordConfirmForm(FlaskForm):
    password = PasswordField("Current password", validators=[DataRequired()])


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Current password", validators=[DataRequired()])
    confirm = BooleanField("I understand my account will be deleted and cannot be restored",
                           validators=[DataRequired(message="Tick the box to confirm.")])


class HoldForm(FlaskForm):
    book_id = DatabaseIntegerField(validators=[InputRequired(), NumberRange(min=1)])


class PlanForm(FlaskForm):
    tier = SelectField("Plan", choices=[SelectChoice("free", "Free"), SelectChoice("plus", "Plus"),
                                        SelectChoice("premium", "Premium")], validators=[InputRequired()])
    pay_with = SelectField("Pay with", default="wallet", validators=[Optional()],
                           choices=[SelectChoice("wallet", "My wallet"), SelectChoice("card", "Card")])


class TopUpForm(FlaskForm):
    amount = FiniteDecimalField("Amount", places=2, validators=[InputRequired(message="Enter an amount."),
                                                                NumberRange(min=0, max=100000)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.amount.label.text = f"Amount ({money.symbol()})"  # in the shop's currency (a setting)
