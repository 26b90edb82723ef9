"""API: your account: details and addresses. The rules are services.people.accounts' (as on /account)."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..extensions import db
from ..models import Address, User
from ..services.circulation import subscriptions
from ..services.commerce.checkout import ShippingAddress
from ..services.people import accounts, addresses
from .auth import current_user, own, token_required
from .errors import refusals
from .schemas import ApiSchema, ErrorSchema, Money, Text, money

blp = Blueprint("api_account", __name__, url_prefix="/api/v1", description="Your account: details and addresses.")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("This field is required.")


def _address_field(name: str, **kwargs: Any) -> ma.fields.String:
    """An address field as the saved addresses' column holds it: no longer than the column; a column that may not
    be empty is required and more than spaces (as the form); a coded field (postcode, country, phone) matches
    services.people.accounts.ADDRESS_PATTERNS."""
    column: Any = Address.__table__.c[name]  # a String column: its length
    validate: list[Any] = [ma.validate.Length(max=column.type.length)]
    if name in accounts.ADDRESS_PATTERNS:
        pattern, message = accounts.ADDRESS_PATTERNS[name]
        validate.append(ma.validate.Regexp(pattern, error=message))
    if column.nullable:
        return ma.fields.String(allow_none=True, validate=validate, **kwargs)
    metadata = {"pattern": r"\S", **kwargs.pop("metadata", {})}
    return ma.fields.String(required=True, validate=[*validate, _not_blank], metadata=metadata, **kwargs)


class MeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    full_name = ma.fields.String(required=True, allow_none=True)
    role = ma.fields.String(required=True, metadata={"description": "customer, author or admin."})
    email_verified = ma.fields.Boolean(required=True)
    two_factor = ma.fields.Boolean(required=True, metadata={"description": "Two-factor sign-in is on."})
    wallet = Money(required=True)
    plan = ma.fields.String(required=True, metadata={"description": "free, plus or premium."})
    created_at = ma.fields.DateTime(required=True)


class MePatchSchema(ApiSchema):
    full_name = Text(120, allow_none=True,
                     metadata={"description": "Your name; empty or null clears it (the username is shown)."})


class PostalAddressSchema(ApiSchema):
    """A postal address as sent, to save (POST /me/addresses) or to ship to (checkout, buy now): the rules of
    the address forms on the website (services.people.accounts). Loaded with its text trimmed, empty optional
    fields as null and the country in capitals, as accounts.save_address stores it."""

    full_name = _address_field("full_name", metadata={"description": "The recipient."})
    line1 = _address_field("line1")
    line2 = _address_field("line2")
    city = _address_field("city")
    region = _address_field("region")
    postcode = _address_field("postcode")
    country = _address_field("country", metadata={"description": "A country's ISO 3166 code (two letters), e.g. US, "
                                                                 "GB, DE.", "example": "US"})
    phone = _address_field("phone")

    @ma.validates_schema
    def _known_country_and_postcode(self, data: dict[str, Any], **_: Any) -> None:
        """The website's rules (services.people.addresses): a real country, and a postcode that fits it where the
        country's postcode format is known."""
        country = (data.get("country") or "").strip().upper()
        if not country:
            return  # reported as missing (or not matching its pattern) already
        problem = addresses.country_problem(country)
        if problem:
            raise ma.ValidationError(problem, "country")
        problem = addresses.postcode_problem(country, data.get("postcode"))
        if problem:
            raise ma.ValidationError(problem, "postcode")

    @ma.post_load
    def _trimmed(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        for name in accounts.ADDRESS_FIELDS:
            value = (data.get(name) or "").strip() or None
            data[name] = value.upper() if name == "country" and value else value
        return data


def ship_to(data: dict[str, Any]) -> ShippingAddress:
    """Where an order goes, from a PostalAddressSchema's data."""
    return ShippingAddress(**{name: data[name] for name in accounts.ADDRESS_FIELDS})


class AddressInSchema(PostalAddressSchema):
    """A postal address to save in your address book."""

    is_default = ma.fields.Boolean(load_default=False,
                                   metadata={"description": "Use it as your default (your first address is)."})


class ShippingAddressSchema(ma.Schema):
    """A postal address as the API shows it: where an order goes (orders, staff orders); a saved address adds its
    id (AddressSchema)."""

    full_name = ma.fields.String(required=True)
    line1 = ma.fields.String(required=True)
    line2 = ma.fields.String(required=True, allow_none=True)
    city = ma.fields.String(required=True)
    region = ma.fields.String(required=True, allow_none=True)
    postcode = ma.fields.String(required=True)
    country = ma.fields.String(required=True)
    phone = ma.fields.String(required=True, allow_none=True)


class AddressSchema(ShippingAddressSchema):
    id = ma.fields.Integer(required=True)
    is_default = ma.fields.Boolean(required=True)


def me(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "email": user.email, "full_name": user.full_name,
            "role": user.role, "email_verified": user.is_verified, "two_factor": user.has_2fa,
            "wallet": money(user.wallet_balance_cents), "plan": str(subscriptions.tier_name_of(user.id)),
            "created_at": user.created_at}


@blp.get("/me")
@token_required()
@blp.response(200, MeSchema)
def get_me() -> dict[str, Any]:
    """Your account: name, email, role, two-factor sign-in, wallet balance and plan."""
    return me(current_user())


@blp.patch("/me")
@token_required()
@blp.arguments(MePatchSchema)
@blp.response(200, MeSchema)
def patch_me(data: dict[str, Any]) -> dict[str, Any]:
    """Change your name. (Email, password and two-factor sign-in are changed on the website.)"""
    user = current_user()
    if "full_name" in data:
        with refusals():
            accounts.update_profile(user, data["full_name"])
        db.session.commit()
    return me(user)


@blp.get("/me/addresses")
@token_required()
@blp.response(200, AddressSchema(many=True))
def list_addresses() -> list[Address]:
    """Your saved addresses, the default one marked."""
    return list(current_user().addresses)


@blp.post("/me/addresses")
@token_required()
@blp.arguments(AddressInSchema)
@blp.response(201, AddressSchema)
def create_address(data: dict[str, Any]) -> Address:
    """Save a new address (your first one becomes the default)."""
    address = accounts.save_address(current_user(), data)
    db.session.commit()
    return address


@blp.delete("/me/addresses/<int:address_id>")
@token_required()
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema, description="No such address among yours.")
def delete_address(address_id: int) -> None:
    """Remove one of your addresses (orders keep their own copy of where they went)."""
    accounts.delete_address(current_user(), own(Address, address_id, "That address"))
    db.session.commit()

