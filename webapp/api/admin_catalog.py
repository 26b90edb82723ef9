"""API: Staff: books and stock. Create, update, archive and restore books, and add or remove copies with a reason.

The values are checked by services.catalog.book_values (the rules of the admin form and the CSV import: the same
field names, so a refused value comes back on its own field), written by services.catalog.editing and, for stock,
by services.catalog.stock_changes (one ledger row and one audit entry per change). Money is integer cents here
and goes to the service as the amount a person would type, so its rules (the maximum, the currency's decimals)
are the form's."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..clients import client_ip
from ..extensions import db
from ..models import Book
from ..models.types import DB_INT_MAX
from ..services.catalog import admin_listing, editing, stock_changes
from ..services.catalog.book_values import (
    AUTHOR_NAME_MAX,
    GENRE_NAME_MAX,
    MAX_AUTHORS,
    MAX_GENRES,
    MAX_LEN,
    MAX_MONEY_CENTS,
    MAX_PAGES,
    MAX_SERIES_NUMBER,
    MAX_STOCK,
    CatalogError,
)
from ..services.platform import money as shop_money
from .auth import current_user, token_required
from .errors import ApiError, not_found
from .schemas import ApiSchema, Count, ErrorSchema, Money, Text, money

blp = Blueprint("api_admin_catalog", __name__, url_prefix="/api/v1", description="Staff: books and stock.")


# ---- request schemas ----

class MoneyInSchema(ApiSchema):
    """An amount as integer cents; `currency`, when sent, must be the shop's."""

    cents = Count(0, MAX_MONEY_CENTS, required=True, metadata={"description": "Amount in the minor unit."})
    currency = Text(3, 3, metadata={"example": "USD", "description": "Optional; the shop's currency."})

    @ma.validates("currency")
    def validate_currency(self, value: str, **_: Any) -> None:
        if value.upper() != shop_money.currency().upper():
            raise ma.ValidationError(f"Amounts are in the shop's currency, {shop_money.currency().upper()}.")


def _money_in(**kwargs: Any) -> ma.fields.Nested:
    return ma.fields.Nested(MoneyInSchema, **kwargs)


class BookUpdateSchema(ApiSchema):
    """The fields of a book, named as on the admin form and in the CSV import. Leave a field out to keep it;
    null clears an optional one."""

    isbn = Text(20, metadata={"description": "ISBN-10 or ISBN-13; kept as ISBN-13."})
    title = Text(MAX_LEN["title"] + 50, allow_none=True)
    subtitle = Text(MAX_LEN["subtitle"] + 50, allow_none=True)
    authors = ma.fields.List(Text(AUTHOR_NAME_MAX + 50), validate=ma.validate.Length(max=MAX_AUTHORS * 2),
                             metadata={"description": "Author names; new names are added as authors."})
    genres = ma.fields.List(Text(GENRE_NAME_MAX + 50), validate=ma.validate.Length(max=MAX_GENRES * 2),
                            metadata={"description": "Genre names; new names are added as genres."})
    price = _money_in(allow_none=True)
    rental_week_price = _money_in(allow_none=True, metadata={"description": "0 or null: not for rent."})
    cost_price = _money_in(allow_none=True, metadata={"description": "What the shop pays per copy."})
    low_stock_threshold = Count(0, 10_000, allow_none=True,
                                metadata={"description": "Alert when available copies fall to this; null: the "
                                                         "shop default."})
    pages = Count(1, MAX_PAGES, allow_none=True)
    published_on = ma.fields.Date(allow_none=True)
    language = Text(8, allow_none=True, metadata={"description": "A code like en, fr or pt-br."})
    publisher = Text(MAX_LEN["publisher"] + 50, allow_none=True)
    description = Text(MAX_LEN["description"] + 500, allow_none=True)
    format = Text(20, allow_none=True, metadata={"description": "paperback (the default) or hardcover."})
    series_name = Text(MAX_LEN["series_name"] + 50, allow_none=True,
                       metadata={"description": "The series it belongs to; null: none."})
    series_number = Count(1, MAX_SERIES_NUMBER, allow_none=True,
                          metadata={"description": "Its place in the series (needs a series name)."})


class BookCreateSchema(BookUpdateSchema):
    """A new book: isbn, title, authors and price are required (the service names what is missing)."""

    stock = Count(0, MAX_STOCK, metadata={"description": "The opening count of copies on hand."})


class StockChangeSchema(ApiSchema):
    change = ma.fields.Integer(strict=True, required=True, validate=ma.validate.Range(-MAX_STOCK, MAX_STOCK),
                               metadata={"description": "Copies to add (3) or remove (-2); not zero."})
    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(list(stock_changes.ADJUST_REASONS)),
                              metadata={"description": "restock adds; damaged and lost remove; stocktake and other "
                                                       "go either way."})
    note = Text(500, required=True, metadata={"description": "What happened (kept in the stock ledger)."})
    expected_on_hand = Count(0, MAX_STOCK, metadata={
        "description": "The on-hand count you saw: when stock moved since (or this change was already sent), "
                       "nothing changes (422, on `change`)."})


# ---- response schemas ----

class StaffStockSchema(ma.Schema):
    on_hand = ma.fields.Integer(required=True)
    reserved = ma.fields.Integer(required=True, metadata={"description": "Held for checkouts and holds."})
    available = ma.fields.Integer(required=True)
    low_stock_threshold = ma.fields.Integer(required=True, allow_none=True)


class AdminBookSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    isbn13 = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    subtitle = ma.fields.String(required=True, allow_none=True)
    authors = ma.fields.List(ma.fields.String(), required=True)
    genres = ma.fields.List(ma.fields.String(), required=True)
    price = Money(required=True)
    rental_week_price = Money(required=True, allow_none=True, metadata={"description": "null: not for rent."})
    cost_price = Money(required=True, allow_none=True)
    language = ma.fields.String(required=True)
    publisher = ma.fields.String(required=True, allow_none=True)
    published_on = ma.fields.Date(required=True, allow_none=True)
    pages = ma.fields.Integer(required=True, allow_none=True)
    description = ma.fields.String(required=True, allow_none=True)
    format = ma.fields.String(required=True)
    series_name = ma.fields.String(required=True, allow_none=True)
    series_number = ma.fields.Integer(required=True, allow_none=True)
    active = ma.fields.Boolean(required=True, metadata={"description": "false: archived, hidden from the shop."})
    stock = ma.fields.Nested(StaffStockSchema, required=True)


class LedgerLineSchema(ma.Schema):
    created_at = ma.fields.DateTime(required=True)
    on_hand_delta = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    note = ma.fields.String(required=True, allow_none=True)
    actor = ma.fields.String(required=True, allow_none=True)


class StockChangedSchema(ma.Schema):
    book_id = ma.fields.Integer(required=True)
    stock = ma.fields.Nested(StaffStockSchema, required=True)
    movement = ma.fields.Nested(LedgerLineSchema, required=True, allow_none=True,
                                metadata={"description": "The ledger row this change wrote."})


# ---- helpers ----

def _plain(value: dict[str, Any] | None) -> str | None:
    """An amount as the service reads a typed one ("12.50"), or None."""
    return None if value is None else shop_money.plain(value["cents"])


def _raw(data: dict[str, Any]) -> dict[str, object]:
    """The request's fields as the service's raw mapping (the admin form's values)."""
    raw: dict[str, object] = {}
    for name, value in data.items():
        if name in ("price", "rental_week_price", "cost_price"):
            raw[name] = _plain(value)
        elif name in ("stock", "low_stock_threshold", "pages", "series_number"):
            raw[name] = None if value is None else str(value)
        else:
            raw[name] = value
    return raw


@contextmanager
def _refused(rename: dict[str, str] | None = None) -> Iterator[None]:
    """A catalog rule's refusal as 422 validation_failed, its messages on the request's field names."""
    try:
        yield
    except CatalogError as exc:
        fields = {(rename or {}).get(name, name): list(msgs) for name, msgs in exc.errors.items()}
        raise ApiError(422, "validation_failed", str(exc) or "That was refused.", fields) from exc


def _book(book_id: int) -> Book:
    found = admin_listing.book_for_edit(book_id) if book_id <= DB_INT_MAX else None
    if found is None:
        not_found("That book")
    return found


def _stock(book: Book) -> dict[str, Any]:
    inv = book.inventory
    if inv is None:
        return {"on_hand": 0, "reserved": 0, "available": 0, "low_stock_threshold": None}
    return {"on_hand": inv.on_hand, "reserved": inv.reserved, "available": inv.on_hand - inv.reserved,
            "low_stock_threshold": inv.low_stock_threshold}


def _out(book_id: int) -> dict[str, Any]:
    db.session.expire_all()
    book = _book(book_id)
    return {
        "id": book.id, "isbn13": book.isbn13, "title": book.title, "subtitle": book.subtitle,
        "authors": [a.name for a in book.authors], "genres": [g.name for g in book.genres],
        "price": money(book.price_cents), "rental_week_price": money(book.rental_week_cents or None),
        "cost_price": money(book.cost_cents), "language": book.language, "publisher": book.publisher,
        "published_on": book.published_on, "pages": book.pages, "description": book.description,
        "format": book.format, "series_name": book.series_name, "series_number": book.series_number,
        "active": book.active, "stock": _stock(book),
    }


NOT_FOUND = {"description": "No book has that id.", "schema": ErrorSchema}
INVALID = {"description": "A value breaks a catalog rule (validation_failed, with the field's messages).",
           "schema": ErrorSchema}


# ---- routes ----

@blp.post("/admin/books")
@token_required("admin")
@blp.arguments(BookCreateSchema)
@blp.response(201, AdminBookSchema)
@blp.alt_response(422, **INVALID)
def create_book(data: dict[str, Any]) -> dict[str, Any]:
    """Add a book (audited). Needs isbn, title, authors and price; `stock` is the opening count (one ledger row)."""
    with _refused():
        book = editing.create_book(_raw(data), actor_id=current_user().id, ip=client_ip())
    db.session.commit()
    return _out(book.id)


@blp.patch("/admin/books/<int:book_id>")
@token_required("admin")
@blp.arguments(BookUpdateSchema)
@blp.response(200, AdminBookSchema)
@blp.alt_response(404, **NOT_FOUND)
@blp.alt_response(422, **INVALID)
def update_book(data: dict[str, Any], book_id: int) -> dict[str, Any]:
    """Change some of a book's fields (audited with what changed). Stock changes go through /stock."""
    book = _book(book_id)
    with _refused():
        editing.update_book(book, _raw(data), actor_id=current_user().id, ip=client_ip())
    db.session.commit()
    return _out(book_id)


@blp.post("/admin/books/<int:book_id>/archive")
@token_required("admin")
@blp.response(200, AdminBookSchema)
@blp.alt_response(404, **NOT_FOUND)
def archive_book(book_id: int) -> dict[str, Any]:
    """Hide a book from the shop (audited); its holds queue closes. Archiving an archived book changes nothing."""
    editing.archive_book(_book(book_id), actor_id=current_user().id, ip=client_ip())
    db.session.commit()
    return _out(book_id)


@blp.post("/admin/books/<int:book_id>/restore")
@token_required("admin")
@blp.response(200, AdminBookSchema)
@blp.alt_response(404, **NOT_FOUND)
def restore_book(book_id: int) -> dict[str, Any]:
    """Put an archived book back in the shop (audited)."""
    editing.restore_book(_book(book_id), actor_id=current_user().id, ip=client_ip())
    db.session.commit()
    return _out(book_id)


@blp.post("/admin/books/<int:book_id>/stock")
@token_required("admin")
@blp.arguments(StockChangeSchema)
@blp.response(200, StockChangedSchema)
@blp.alt_response(404, **NOT_FOUND)
@blp.alt_response(422, description="Zero, a sign the reason does not allow, a blank note, stock going below "
                                   "the copies reserved, or the count moved since `expected_on_hand` (fields.change).",
                  schema=ErrorSchema)
def adjust_stock(data: dict[str, Any], book_id: int) -> dict[str, Any]:
    """Add or remove copies with a reason and a note: one stock ledger row and one audit entry. Stock never goes
    below the copies reserved for checkouts and holds; added copies go to the holds queue first."""
    book = _book(book_id)
    expected = data.get("expected_on_hand")
    with _refused({"delta": "change"}):
        stock_changes.adjust_stock(book, f"{data['change']:+d}", data["reason"], data["note"],
                                   actor_id=current_user().id, ip=client_ip(),
                                   expected_on_hand=None if expected is None else str(expected))
    db.session.commit()
    line = next(iter(stock_changes.recent_ledger(book_id, 1)), None)
    return {"book_id": book_id, "stock": _out(book_id)["stock"],
            "movement": None if line is None else {"created_at": line.created_at, "on_hand_delta": line.on_hand_delta,
                                                   "reason": line.reason, "note": line.note, "actor": line.actor}}
