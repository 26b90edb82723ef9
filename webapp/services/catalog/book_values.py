"""The rules for a book's values as staff type them, once: `clean_book` and one `parse_*` helper per kind of value.

The admin forms and the CSV import (services.catalog.book_import) both call them with the same field names (the
form's fields are named like the CSV's columns), so a rule and its message are the same wherever a book comes from.
Money goes through services.platform.money (the shop's currency); the messages are written for the person who typed
the value.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Literal, TypedDict, cast, overload

from sqlalchemy import select

from ...extensions import db
from ...models import Book
from ..platform import money
from ..platform.errors import RuleError
from . import isbn

# The fields of a book as staff enter them: the form's field names and the CSV's column names.
FIELDS = ("isbn", "title", "subtitle", "authors", "genres", "price", "rental_week_price", "cost_price", "stock",
          "low_stock_threshold", "language", "publisher", "published_on", "pages", "description", "format",
          "series_name", "series_number")
REQUIRED_FOR_NEW = ("isbn", "title", "authors", "price")
LABELS = {
    "isbn": "ISBN", "title": "Title", "subtitle": "Subtitle", "authors": "Authors", "genres": "Genres",
    "price": "Price", "rental_week_price": "Rental price per week", "cost_price": "Cost price", "stock": "Stock",
    "low_stock_threshold": "Low-stock threshold", "language": "Language", "publisher": "Publisher",
    "published_on": "Published on", "pages": "Pages", "description": "Description", "format": "Format",
    "series_name": "Series", "series_number": "Number in the series",
}
FORMATS = {"paperback": "Paperback", "hardcover": "Hardcover"}  # books.format (a CHECK constraint keeps it)
MAX_SERIES_NUMBER = 999
MAX_MONEY_CENTS = 10_000_000  # 100,000.00 (in the shop's currency) for one copy is a typo, not a book
MAX_STOCK = 1_000_000
MAX_PAGES = 100_000
MAX_AUTHORS = 10
MAX_GENRES = 10
MAX_LEN = {"title": 300, "subtitle": 300, "publisher": 160, "description": 20_000, "series_name": 160}
AUTHOR_NAME_MAX = 160
GENRE_NAME_MAX = 80


class CleanBook(TypedDict, total=False):
    """Checked values of a book, by field name: only the fields that were given (an update leaves the others)."""

    isbn: str
    title: str
    subtitle: str | None
    authors: list[str]
    genres: list[str]
    price: int
    rental_week_price: int
    cost_price: int | None
    stock: int | None
    low_stock_threshold: int | None
    language: str
    publisher: str | None
    published_on: date | None
    pages: int | None
    description: str | None
    format: str
    series_name: str | None
    series_number: int | None


class CatalogError(RuleError):
    """A catalog rule was broken. `errors` maps field names (form fields = CSV columns) to messages."""


class FieldError(ValueError):
    """One field's value breaks its rule; the message is for the person who typed it."""


# Bounded lengths: a 5,000-digit count is refused by the pattern, never handed to int().
_INT = re.compile(r"^[+]?\d{1,12}$", re.ASCII)
_DECIMALS = re.compile(r"\.(\d+)$", re.ASCII)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,4})?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


@overload
def parse_money(raw: object, label: str = ..., *, required: Literal[True] = ...) -> int: ...
@overload
def parse_money(raw: object, label: str = ..., *, required: bool) -> int | None: ...


def parse_money(raw: object, label: str = "Price", *, required: bool = True) -> int | None:
    """Money as typed (12.50, 12, $1,299.00) -> integer cents. Never negative; at most the currency's decimals."""
    if _blank(raw):
        if required:
            raise FieldError(f"{label} is required.")
        return None
    text = str(raw).strip().replace(" ", "")
    decimals = _DECIMALS.search(text)
    if decimals and len(decimals.group(1)) > money.digits():  # the message the book forms always gave
        raise FieldError(f"{label} must be an amount like {money.plain(1250)}.")
    try:
        return money.parse(text, what=label, maximum=MAX_MONEY_CENTS)
    except money.MoneyError as exc:
        raise FieldError(str(exc)) from None


@overload
def parse_count(raw: object, label: str = ..., *, required: Literal[True], minimum: int = ...,
                maximum: int = ...) -> int: ...
@overload
def parse_count(raw: object, label: str = ..., *, required: bool = ..., minimum: int = ...,
                maximum: int = ...) -> int | None: ...


def parse_count(raw: object, label: str = "Stock", *, required: bool = False, minimum: int = 0,
                maximum: int = MAX_STOCK) -> int | None:
    """A whole number from `minimum` to `maximum` ("5"; not "5.0" or "-1")."""
    if _blank(raw):
        if required:
            raise FieldError(f"{label} is required.")
        return None
    text = str(raw).strip()
    if text.startswith("-") and _INT.match(text[1:]):
        raise FieldError(f"{label} cannot be negative." if minimum == 0 else f"{label} must be at least {minimum}.")
    if not _INT.match(text):
        raise FieldError(f"{label} must be a whole number.")
    value = int(text)
    if value < minimum:
        raise FieldError(f"{label} must be at least {minimum}.")
    if value > maximum:
        raise FieldError(f"{label} must be at most {maximum:,}.")
    return value


def parse_isbn(raw: object, *, book_id: int | None = None, check_unique: bool = True) -> str:
    """ISBN-10 or ISBN-13 (hyphens and spaces allowed) -> ISBN-13; unique among books other than `book_id`."""
    if _blank(raw):
        raise FieldError("ISBN is required.")
    try:
        isbn13 = isbn.normalize(str(raw).strip())
    except isbn.InvalidISBN:
        raise FieldError("Not a valid ISBN-10 or ISBN-13 (check the digits).") from None
    if check_unique:
        other = db.session.scalar(select(Book.id).where(Book.isbn13 == isbn13, Book.id != (book_id or 0)))
        if other is not None:
            raise FieldError(f"Another book (#{other}) already has ISBN {isbn13}.")
    return isbn13


@overload
def parse_text(raw: object, label: str, max_len: int, *, required: Literal[True], multiline: bool = ...) -> str: ...
@overload
def parse_text(raw: object, label: str, max_len: int, *, required: bool = ...,
               multiline: bool = ...) -> str | None: ...


def parse_text(raw: object, label: str, max_len: int, *, required: bool = False,
               multiline: bool = False) -> str | None:
    """Trimmed text (runs of spaces folded unless `multiline`) without control characters; None when empty."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        if required:
            raise FieldError(f"{label} is required.")
        return None
    if not multiline:
        text = re.sub(r"\s+", " ", text)
    if _CONTROL.search(text):
        raise FieldError(f"{label} contains control characters.")
    if len(text) > max_len:
        raise FieldError(f"{label} must be at most {max_len:,} characters.")
    return text


def parse_date(raw: object, label: str = "Published on") -> date | None:
    """An ISO date within a plausible publishing range (a typo like 0999 or 9999 is refused)."""
    if _blank(raw):
        return None
    if isinstance(raw, date):
        value = raw
    else:
        try:
            value = date.fromisoformat(str(raw).strip())
        except ValueError:
            raise FieldError(f"{label} must be a date like 2024-03-31.") from None
    if not 1400 <= value.year <= date.today().year + 5:
        raise FieldError(f"{label} must be a year between 1400 and {date.today().year + 5}.")
    return value


def parse_format(raw: object) -> str:
    """Paperback or hardcover (any case); empty means paperback."""
    if _blank(raw):
        return "paperback"
    value = str(raw).strip().lower()
    if value not in FORMATS:
        raise FieldError("Format must be paperback or hardcover.")
    return value


def parse_language(raw: object) -> str:
    """A language code ("en", "pt-br"); empty means English."""
    if _blank(raw):
        return "en"
    code = str(raw).strip().lower().replace("_", "-")
    if len(code) > 8 or not _LANGUAGE.match(code):
        raise FieldError("Language must be a code like en, fr or pt-br.")
    return code


def parse_names(raw: object, label: str, *, sep: str, max_len: int, max_count: int,
                required: bool = False) -> list[str]:
    """A list of names (a list, or text split on `sep`), trimmed, without repeats (case-insensitive)."""
    parts = list(raw) if isinstance(raw, list | tuple) else ("" if raw is None else str(raw)).split(sep)
    names: list[str] = []
    seen: set[str] = set()
    for part in parts:
        name = re.sub(r"\s+", " ", str(part)).strip()
        if not name or name.lower() in seen:
            continue
        if _CONTROL.search(name):
            raise FieldError(f"{label}: “{name[:40]}” contains control characters.")
        if len(name) > max_len:
            raise FieldError(f"{label}: each name must be at most {max_len} characters.")
        seen.add(name.lower())
        names.append(name)
    if required and not names:
        raise FieldError(f"{label}: at least one is required.")
    if len(names) > max_count:
        raise FieldError(f"{label}: at most {max_count}.")
    return names


def _series_together(clean: Mapping[str, object], errors: dict[str, list[str]], book: Book | None) -> None:
    """A number in a series needs the series' name (given now, or kept from before)."""
    if clean.get("series_number") is None or "series_name" in errors or "series_number" in errors:
        return
    name = clean["series_name"] if "series_name" in clean else getattr(book, "series_name", None)
    if not name:
        errors["series_name"] = ["Give the series' name for a book with a number in a series."]


def clean_book(raw: Mapping[str, object], *, book: Book | None = None, check_isbn_unique: bool = True,
               list_sep: str = ",") -> CleanBook:
    """Check the given fields of a new (`book` None) or existing book. Returns the clean values of the fields
    present in `raw` (a field left out is left unchanged on update); raises CatalogError with every problem.

    A new book needs isbn, title, authors and price. `list_sep` splits authors and genres given as text
    ("," in the form, ";" in CSV files)."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, object] = {}

    def rule(name: str, parse: Callable[[object], object]) -> None:
        if name not in raw:
            if book is None and name in REQUIRED_FOR_NEW:
                errors[name] = [f"{LABELS[name]} is required for a new book."]
            return
        try:
            clean[name] = parse(raw[name])
        except FieldError as exc:
            errors[name] = [str(exc)]

    book_id = book.id if book is not None else None
    rule("isbn", lambda v: parse_isbn(v, book_id=book_id, check_unique=check_isbn_unique))
    rule("title", lambda v: parse_text(v, "Title", MAX_LEN["title"], required=True))
    rule("subtitle", lambda v: parse_text(v, "Subtitle", MAX_LEN["subtitle"]))
    rule("authors", lambda v: parse_names(v, "Authors", sep=list_sep, max_len=AUTHOR_NAME_MAX,
                                          max_count=MAX_AUTHORS, required=True))
    rule("genres", lambda v: parse_names(v, "Genres", sep=list_sep, max_len=GENRE_NAME_MAX, max_count=MAX_GENRES))
    rule("price", lambda v: parse_money(v, "Price"))
    rule("rental_week_price", lambda v: parse_money(v, "Rental price per week", required=False) or 0)
    rule("cost_price", lambda v: parse_money(v, "Cost price", required=False))
    rule("stock", lambda v: parse_count(v, "Stock"))
    rule("low_stock_threshold", lambda v: parse_count(v, "Low-stock threshold", maximum=10_000))
    rule("language", parse_language)
    rule("publisher", lambda v: parse_text(v, "Publisher", MAX_LEN["publisher"]))
    rule("published_on", parse_date)
    rule("pages", lambda v: parse_count(v, "Pages", minimum=1, maximum=MAX_PAGES))
    rule("description", lambda v: parse_text(v, "Description", MAX_LEN["description"], multiline=True))
    rule("format", parse_format)
    rule("series_name", lambda v: parse_text(v, "Series", MAX_LEN["series_name"]))
    rule("series_number", lambda v: parse_count(v, "Number in the series", minimum=1, maximum=MAX_SERIES_NUMBER))
    _series_together(clean, errors, book)
    if errors:
        raise CatalogError(errors)
    return cast(CleanBook, clean)  # each key was set by its own rule above, with the type CleanBook gives it
