"""API: the author's own area: the profile linked to the caller's account (bio, city, Goodreads link, bank details
shown masked only) and the sales figures of their own books (services.insight.author_figures).

As on /author: the profile always comes from the caller's account, never from the request (no route takes an
author id), so nobody reaches another author's figures or bank details. An author account the shop has not yet
linked to a profile answers 404 author_not_linked; an admin without a profile of their own 403."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..clients import client_ip
from ..extensions import db
from ..links import public_url
from ..models import Author
from ..services.insight import author_figures
from ..services.people import authors
from ..services.platform import uploads
from .auth import current_user, token_required
from .errors import fail, refusals
from .schemas import ApiSchema, ErrorSchema, Money, Text, money

blp = Blueprint("api_author", __name__, url_prefix="/api/v1/author",
                description="Authors: your own profile and the sales figures of your books.")

NOT_LINKED = ("Your account is an author account, but the shop has not linked it to your author profile yet. "
              "Please contact the shop.")


def _author() -> Author:
    """The caller's own author profile (the only one this area shows)."""
    user = current_user()
    author = authors.for_user(user)
    if author is None:
        if user.role == "author":
            fail(404, "author_not_linked", NOT_LINKED)
        fail(403, "forbidden", "Your account has no author profile: the admin panel is the way in.")
    return author


class AuthorProfileSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True, metadata={"description": "As printed on the books (set by the shop)."})
    slug = ma.fields.String(required=True)
    bio = ma.fields.String(required=True, allow_none=True)
    city = ma.fields.String(required=True, allow_none=True)
    goodreads_url = ma.fields.String(required=True, allow_none=True)
    photo_url = ma.fields.String(required=True, allow_none=True)
    bank_account = ma.fields.String(required=True, allow_none=True,
                                    metadata={"description": "Masked (\"•••• 1234\") when on file, else null. "
                                                             "Never shown in full.", "example": "•••• 4432"})


class AuthorProfilePatchSchema(ApiSchema):
    bio = Text(authors.BIO_MAX, allow_none=True)
    city = Text(authors.CITY_MAX, allow_none=True)
    goodreads_url = Text(255, allow_none=True, metadata={"description": f"An https link on goodreads.com, e.g. "
                                                                        f"{authors.GOODREADS_EXAMPLE}"})
    bank_account = Text(64, allow_none=True,
                        metadata={"description": "An IBAN, or an account number of 6 to 34 digits; stored encrypted "
                                                 "and never shown again in full. Empty or absent keeps the current "
                                                 "one."})
    remove_photo = ma.fields.Boolean(load_default=False)


def profile_out(author: Author) -> dict[str, Any]:
    photo = uploads.url_args(author.photo_path, "full")
    return {"id": author.id, "name": author.name, "slug": author.slug, "bio": author.bio, "city": author.city,
            "goodreads_url": author.goodreads_url, "photo_url": public_url("main.media", **photo) if photo else None,
            "bank_account": authors.masked_bank_account(author)}


@blp.get("/profile")
@token_required("author")
@blp.response(200, AuthorProfileSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Your author account is not linked to a profile yet "
                                                       "(code author_not_linked).")
def get_profile() -> dict[str, Any]:
    """Your author profile (bank details masked)."""
    return profile_out(_author())


@blp.patch("/profile")
@token_required("author")
@blp.arguments(AuthorProfilePatchSchema)
@blp.response(200, AuthorProfileSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Your author account is not linked to a profile yet "
                                                       "(code author_not_linked).")
def patch_profile(data: dict[str, Any]) -> dict[str, Any]:
    """Change your bio, city, Goodreads link or bank details, or remove your photo; fields left out stay as they
    are. (A new photo is uploaded on the website.)"""
    author = _author()
    with refusals():
        to_delete = authors.update_profile(
            author, actor=current_user(), bio=data.get("bio", author.bio), city=data.get("city", author.city),
            goodreads_url=data.get("goodreads_url", author.goodreads_url), remove_photo=data["remove_photo"],
            bank_account=data.get("bank_account"), ip=client_ip())
    db.session.commit()
    for stored in to_delete:
        uploads.delete(stored)
    return profile_out(author)


class AuthorSalesArgs(ApiSchema):
    period = ma.fields.String(load_default="12m", validate=ma.validate.OneOf(list(author_figures.PERIODS)),
                              metadata={"description": "; ".join(f"{k}: {v}" for k, v in
                                                                 author_figures.PERIODS.items())})


class SalesPointSchema(ma.Schema):
    label = ma.fields.String(required=True, metadata={"example": "Mar 2026"})
    sold = ma.fields.Integer(required=True)
    rented = ma.fields.Integer(required=True)
    revenue = Money(required=True)


class SalesTotalsSchema(ma.Schema):
    sold = ma.fields.Integer(required=True)
    rented = ma.fields.Integer(required=True)
    revenue = Money(required=True)


class AuthorBookFiguresSchema(ma.Schema):
    book_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True, metadata={"description": "Still sold."})
    co_authors = ma.fields.Integer(required=True, metadata={"description": "Other authors of the book (its "
                                                                           "figures count in full for each)."})
    sold = ma.fields.Integer(required=True)
    rented = ma.fields.Integer(required=True)
    revenue = Money(required=True)
    available = ma.fields.Integer(required=True, metadata={"description": "Copies in stock now."})


class AuthorSalesSchema(ma.Schema):
    period = ma.fields.String(required=True)
    period_label = ma.fields.String(required=True)
    since = ma.fields.DateTime(required=True)
    generated_at = ma.fields.DateTime(required=True)
    series = ma.fields.List(ma.fields.Nested(SalesPointSchema), required=True,
                            metadata={"description": "Per month (12m) or day (30d), oldest first."})
    totals = ma.fields.Nested(SalesTotalsSchema, required=True)
    books = ma.fields.List(ma.fields.Nested(AuthorBookFiguresSchema), required=True,
                           metadata={"description": "Your books, by revenue."})


@blp.get("/sales")
@token_required("author")
@blp.arguments(AuthorSalesArgs, location="query")
@blp.response(200, AuthorSalesSchema)
@blp.alt_response(404, schema=ErrorSchema, description="Your author account is not linked to a profile yet "
                                                       "(code author_not_linked).")
def sales(args: dict[str, Any]) -> dict[str, Any]:
    """Copies sold and rented and revenue of your own books (paid orders), per month or day, in total and per
    book."""
    view = author_figures.figures(_author(), args["period"])
    return {
        "period": view.period, "period_label": author_figures.PERIODS[view.period], "since": view.since,
        "generated_at": view.generated_at,
        "series": [{"label": label, "sold": sold, "rented": rented, "revenue": money(revenue)}
                   for label, sold, rented, revenue in view.rows],
        "totals": {"sold": view.total_sold, "rented": view.total_rented,
                   "revenue": money(view.total_revenue_cents)},
        "books": [{"book_id": b.book_id, "title": b.title, "active": b.active, "co_authors": b.co_authors,
                   "sold": b.sold, "rented": b.rented, "revenue": money(b.revenue_cents), "available": b.available}
                  for b in view.books],
    }
