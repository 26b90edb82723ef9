"""Staff changes to the catalog: list, create, update, archive, restore and delete books; find-or-create authors
and genres; inline price/stock edits; stock adjustments with a reason.

The validation rules live here once (`clean_book` and the `parse_*` helpers). The admin forms and the CSV import
(services.catalog.book_import) both call them, with the same field names (the form's fields are named like the CSV's
columns), so a rule and its message are the same wherever a book comes from.

Stock counts change only through services.inventory.stock (a ledger row each time). `books.author_names` is set here and
kept by the database triggers on book_authors; the full-text indexes (SQLite FTS5 triggers, the PostgreSQL
generated tsvector) follow the books row by themselves. The "did you mean" vocabulary (search_terms) is rebuilt
hourly by a job; new title/author words are added at once by `remember_search_terms`.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, event, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from ...extensions import db
from ...models import (
    Author,
    Book,
    BookAuthor,
    Genre,
    Hold,
    Inventory,
    OrderLine,
    Rental,
    SearchTerm,
    StockMovement,
    User,
    book_genres,
    slugify,
)
from ...models.inventory import MOVEMENT_REASONS
from ..inventory import alerts, stock
from ..people.accounts import AccountError
from ..platform import audit, paging, uploads
from ..platform.money import money
from . import isbn

# The fields of a book as staff enter them: the form's field names and the CSV's column names.
FIELDS = ("isbn", "title", "subtitle", "authors", "genres", "price", "rental_week_price", "cost_price", "stock",
          "low_stock_threshold", "language", "publisher", "published_on", "pages", "description")
REQUIRED_FOR_NEW = ("isbn", "title", "authors", "price")
LABELS = {
    "isbn": "ISBN", "title": "Title", "subtitle": "Subtitle", "authors": "Authors", "genres": "Genres",
    "price": "Price", "rental_week_price": "Rental price per week", "cost_price": "Cost price", "stock": "Stock",
    "low_stock_threshold": "Low-stock threshold", "language": "Language", "publisher": "Publisher",
    "published_on": "Published on", "pages": "Pages", "description": "Description",
}
MAX_MONEY_CENTS = 10_000_000  # $100,000.00 per copy is a typo, not a book
MAX_STOCK = 1_000_000
MAX_PAGES = 100_000
MAX_AUTHORS = 10
MAX_GENRES = 10
MAX_LEN = {"title": 300, "subtitle": 300, "publisher": 160, "description": 20_000}
AUTHOR_NAME_MAX = 160
GENRE_NAME_MAX = 80


class CatalogError(AccountError):
    """A catalog rule was broken. `errors` maps field names (form fields = CSV columns) to messages."""


class FieldError(ValueError):
    """One field's value breaks its rule; the message is for the person who typed it."""


# ---- the rules: one function per kind of value ----

# Bounded lengths: a 5,000-digit "price" is refused by the pattern, never handed to int().
_MONEY = re.compile(r"^(\d{1,3}(?:,\d{3}){1,4}|\d{1,12})(?:\.(\d{1,2}))?$", re.ASCII)
_INT = re.compile(r"^[+]?\d{1,12}$", re.ASCII)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,4})?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_money(raw, label: str = "Price", *, required: bool = True) -> int | None:
    """Money as typed (12.50, 12, $1,299.00) -> integer cents. Never negative; at most two decimals."""
    if _blank(raw):
        if required:
            raise FieldError(f"{label} is required.")
        return None
    text = str(raw).strip().replace(" ", "")
    if text.startswith(("-", "$-", "-$")):
        raise FieldError(f"{label} cannot be negative.")
    match = _MONEY.match(text.removeprefix("$"))
    if not match:
        raise FieldError(f"{label} must be an amount like 12.50.")
    cents = int(match.group(1).replace(",", "")) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if cents > MAX_MONEY_CENTS:
        raise FieldError(f"{label} must be at most {money(MAX_MONEY_CENTS)}.")
    return cents


def money_input(cents: int | None) -> str:
    """Cents as staff type them ("12.50"): what the forms show and the CSV export writes."""
    return "" if cents is None else f"{cents // 100}.{cents % 100:02d}"


def parse_count(raw, label: str = "Stock", *, required: bool = False, minimum: int = 0,
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


def parse_isbn(raw, *, book_id: int | None = None, check_unique: bool = True) -> str:
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


def parse_text(raw, label: str, max_len: int, *, required: bool = False, multiline: bool = False) -> str | None:
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


def parse_date(raw, label: str = "Published on") -> date | None:
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


def parse_language(raw) -> str:
    """A language code ("en", "pt-br"); empty means English."""
    if _blank(raw):
        return "en"
    code = str(raw).strip().lower().replace("_", "-")
    if len(code) > 8 or not _LANGUAGE.match(code):
        raise FieldError("Language must be a code like en, fr or pt-br.")
    return code


def parse_names(raw, label: str, *, sep: str, max_len: int, max_count: int, required: bool = False) -> list[str]:
    """A list of names (a list, or text split on `sep`), trimmed, without repeats (case-insensitive)."""
    parts = raw if isinstance(raw, list | tuple) else ("" if raw is None else str(raw)).split(sep)
    names, seen = [], set()
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


def clean_book(raw: Mapping[str, object], *, book: Book | None = None, check_isbn_unique: bool = True,
               list_sep: str = ",") -> dict:
    """Check the given fields of a new (`book` None) or existing book. Returns the clean values of the fields
    present in `raw` (a field left out is left unchanged on update); raises CatalogError with every problem.

    A new book needs isbn, title, authors and price. `list_sep` splits authors and genres given as text
    ("," in the form, ";" in CSV files)."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}

    def rule(name: str, parse) -> None:
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
    if errors:
        raise CatalogError(errors)
    return clean


# ---- authors and genres: find by name (case-insensitive) or create with a unique slug ----

class NameResolver:
    """Author/genre names -> (id, stored name), creating the missing rows: one query to find a set of names and one
    insert for the missing ones, whatever their number. Keeps a cache for a run of many rows (the CSV import);
    `forget_created()` drops what was created since `begin()` when the savepoint around it rolls back."""

    MODELS = {"author": (Author, AUTHOR_NAME_MAX), "genre": (Genre, GENRE_NAME_MAX)}

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[int, str]] = {}
        self._created: list[tuple[str, str]] = []

    def begin(self) -> None:
        self._created = []

    def forget_created(self) -> None:
        for key in self._created:
            self._cache.pop(key, None)
        self._created = []

    def authors(self, names: list[str]) -> list[tuple[int, str]]:
        self.ensure("author", names)
        return [self._cache[("author", name.lower())] for name in names]

    def genres(self, names: list[str]) -> list[tuple[int, str]]:
        self.ensure("genre", names)
        return [self._cache[("genre", name.lower())] for name in names]

    def ensure(self, kind: str, names: Iterable[str]) -> None:
        """Find (case-insensitively) or create every name not cached yet."""
        model, max_len = self.MODELS[kind]
        wanted = {name.lower(): name[:max_len] for name in names if (kind, name.lower()) not in self._cache}
        for attempt in range(3):
            if not wanted:
                return
            self._find(kind, model, list(wanted))
            missing = [name for key, name in wanted.items() if (kind, key) not in self._cache]
            if not missing:
                return
            try:
                with db.session.begin_nested():
                    rows = [{"name": name, "slug": slug} for name, slug in zip(missing, _free_slugs(model, missing),
                                                                                strict=True)]
                    ids = db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
                    for row, new_id in zip(rows, list(ids), strict=True):
                        key = (kind, row["name"].lower())
                        self._cache[key] = (new_id, row["name"])
                        self._created.append(key)
                return
            except IntegrityError:  # created by someone else meanwhile (name or slug): look again
                if attempt == 2:
                    raise CatalogError(f"Could not save the new {kind}s; please try again.") from None

    def _find(self, kind: str, model, keys: list[str]) -> None:
        for start in range(0, len(keys), 500):
            rows = db.session.execute(select(model.id, model.name)
                                      .where(func.lower(model.name).in_(keys[start:start + 500]))
                                      .order_by(model.id.desc()))
            for found_id, name in rows:  # the lowest id wins when two rows share a name
                self._cache[(kind, name.lower())] = (found_id, name)


def _free_slugs(model, names: list[str]) -> list[str]:
    """A slug per name that no row has yet (jane-doe, jane-doe-2, ...): one query, plus one per slug already taken."""
    bases = [slugify(name, max_len=70) for name in names]
    taken = set(db.session.scalars(select(model.slug).where(model.slug.in_(set(bases)))))
    for base in set(bases) & taken:
        taken.update(db.session.scalars(select(model.slug).where(model.slug.like(f"{base}-%"))))
    slugs = []
    for base in bases:
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        slugs.append(slug)
    return slugs


def suggest_names(kind: str, typed: str, limit: int = 10) -> list[str]:
    """Existing author or genre names starting with the last comma-separated name being typed."""
    model = Author if kind == "authors" else Genre
    last = (typed or "").split(",")[-1].strip().lower()[:80]
    if len(last) < 1:
        return []
    return list(db.session.scalars(select(model.name).where(func.lower(model.name).startswith(last, autoescape=True))
                                   .group_by(model.name).order_by(model.name).limit(limit)))


# ---- the admin list ----

STOCK_FILTERS = {"in": "In stock", "low": "Low stock", "out": "Out of stock"}
STATUS_FILTERS = {"active": "Active", "archived": "Archived"}
SORTS = {
    "title": "Title A–Z", "price": "Price: low to high", "price_desc": "Price: high to low",
    "stock": "Stock: lowest first", "stock_desc": "Stock: highest first", "sold": "Units sold", "newest": "Newest",
}
PER_PAGE = 25


@dataclass(frozen=True)
class BookFilters:
    q: str = ""
    genre_id: int | None = None
    stock: str = ""
    status: str = ""
    sort: str = "title"


def _available():
    return func.coalesce(Inventory.available, 0)


def filter_conditions(filters: BookFilters) -> list:
    """WHERE conditions for the admin list and the CSV export (the statement outer-joins inventory)."""
    where = []
    q = (filters.q or "").strip()[:100]
    if q:
        text = q.lower()
        options = [func.lower(Book.title).contains(text, autoescape=True),
                   func.lower(Book.author_names).contains(text, autoescape=True)]
        digits = re.sub(r"[\s-]", "", q)
        if re.fullmatch(r"\d{3,13}|\d{9}[\dXx]", digits):
            try:
                options.append(Book.isbn13 == isbn.normalize(digits))
            except isbn.InvalidISBN:
                options.append(Book.isbn13.startswith(digits.upper(), autoescape=True))
        where.append(or_(*options))
    if filters.genre_id:
        where.append(exists().where(book_genres.c.book_id == Book.id, book_genres.c.genre_id == filters.genre_id))
    if filters.stock == "in":
        where.append(_available() > 0)
    elif filters.stock == "low":
        where.append(alerts.low_sql(_available()))
    elif filters.stock == "out":
        where.append(_available() <= 0)
    if filters.status == "active":
        where.append(Book.active.is_(True))
    elif filters.status == "archived":
        where.append(Book.active.is_(False))
    return where


_ORDER = {
    "title": lambda: (Book.title.asc(), Book.id.asc()),
    "price": lambda: (Book.price_cents.asc(), Book.id.asc()),
    "price_desc": lambda: (Book.price_cents.desc(), Book.id.desc()),
    "stock": lambda: (_available().asc(), Book.id.asc()),
    "stock_desc": lambda: (_available().desc(), Book.id.desc()),
    "sold": lambda: (Book.units_sold.desc(), Book.id.desc()),
    "newest": lambda: (Book.created_at.desc(), Book.id.desc()),
}


def list_books(filters: BookFilters, page: int = 1, per_page: int = PER_PAGE) -> paging.Page:
    """One page of books with their inventory (one query for the rows, one for the capped count)."""
    order = _ORDER.get(filters.sort, _ORDER["title"])()
    stmt = (select(Book).outerjoin(Inventory, Inventory.book_id == Book.id).options(contains_eager(Book.inventory))
            .where(*filter_conditions(filters)).order_by(*order))
    return paging.paginate(stmt, page, per_page)


def book_for_edit(book_id: int) -> Book | None:
    return db.session.scalar(select(Book).where(Book.id == book_id).options(
        selectinload(Book.author_links).joinedload(BookAuthor.author), selectinload(Book.genres),
        joinedload(Book.inventory)))


def book_for_row(book_id: int) -> Book | None:
    return db.session.scalar(select(Book).where(Book.id == book_id).options(joinedload(Book.inventory)))


def genre_choices() -> list[tuple[int, str]]:
    return [(genre_id, name) for genre_id, name in db.session.execute(select(Genre.id, Genre.name).order_by(Genre.name))]


# ---- create and update ----

_SNAPSHOT_COLUMNS = ("isbn13", "title", "subtitle", "price_cents", "rental_week_cents", "cost_cents", "language",
                     "publisher", "published_on", "pages", "description", "cover_path", "active")


def _snapshot(columns: Mapping, authors: list[str], genres: list[str]) -> dict:
    data = {("isbn" if c == "isbn13" else c): columns.get(c) for c in _SNAPSHOT_COLUMNS}
    if data["published_on"] is not None:
        data["published_on"] = data["published_on"].isoformat()
    data["authors"], data["genres"] = authors, genres
    return data


def snapshot(book: Book) -> dict:
    """What the audit log keeps of a book (before/after). Relationships are read only when loaded."""
    loaded = book.__dict__
    links = loaded.get("author_links")
    authors = ([link.author.name for link in links] if links is not None
               else [n for n in (book.author_names or "").split(", ") if n])
    data = _snapshot({c: getattr(book, c) for c in _SNAPSHOT_COLUMNS}, authors,
                     [g.name for g in loaded.get("genres", [])])
    inv = loaded.get("inventory")
    if inv is not None:
        data["low_stock_threshold"] = inv.low_stock_threshold
    return data


def _diff(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


# form field / CSV column -> Book column
_COLUMN_OF = {"title": "title", "subtitle": "subtitle", "price": "price_cents", "rental_week_price": "rental_week_cents",
              "cost_price": "cost_cents", "language": "language", "publisher": "publisher",
              "published_on": "published_on", "pages": "pages", "description": "description"}


@dataclass
class Saved:
    book_id: int
    created: bool
    changed: bool
    book: Book | None = None  # the updated Book (None after a create: `db.session.get` it when needed)


def apply(book: Book | None, clean: dict, *, actor_id: int | None, resolver: NameResolver | None = None,
          ip: str | None = None, reference: str | None = None, note: str | None = None,
          cover_path: str | None = None, remove_cover: bool = False, terms: list[str] | None = None) -> Saved:
    """Write checked values (from `clean_book`) to a new (`book` None) or existing book: the write path for the
    form and the import. Authors and genres are found or created; stock goes through services.inventory.stock; the change
    is audited. New title/author words go to the search vocabulary now, or into `terms` for the caller to add in
    bulk."""
    resolver = resolver or NameResolver()
    if book is None:
        book_id = create_many([clean], actor_id=actor_id, resolver=resolver, ip=ip, reference=reference,
                              notes=[note], cover_paths=[cover_path], terms=terms)[0]
        return Saved(book_id=book_id, created=True, changed=True)
    saved = _update(book, clean, actor_id=actor_id, resolver=resolver, ip=ip, reference=reference, note=note,
                    cover_path=cover_path, remove_cover=remove_cover)
    if saved.changed and book.active:
        _terms([f"{book.title} {book.author_names}"], terms)
    return saved


def _terms(texts: list[str], collect: list[str] | None) -> None:
    if collect is not None:
        collect.extend(texts)
    else:
        remember_search_terms(texts)


_NEW_BOOK_COLUMNS = ("isbn13", "title", "subtitle", "description", "language", "pages", "publisher", "published_on",
                     "price_cents", "cost_cents", "rental_week_cents", "cover_path", "active", "units_sold",
                     "author_names")


def create_many(cleans: list[dict], *, actor_id: int | None, resolver: NameResolver | None = None,
                ip: str | None = None, reference: str | None = None, notes: list[str | None] | None = None,
                cover_paths: list[str | None] | None = None, terms: list[str] | None = None) -> list[int]:
    """New books from checked values (each needs isbn, title, authors, price), in a fixed number of statements
    for the books, their authors and genres and the audit rows; each book's opening stock goes through
    services.inventory.stock. All or nothing: run it in a savepoint. Returns the new ids in order."""
    resolver = resolver or NameResolver()
    notes = notes or [None] * len(cleans)
    cover_paths = cover_paths or [None] * len(cleans)
    resolver.ensure("author", [name for clean in cleans for name in clean["authors"]])
    resolver.ensure("genre", [name for clean in cleans for name in clean.get("genres") or []])
    authors = [resolver.authors(clean["authors"]) for clean in cleans]
    genres = [resolver.genres(clean.get("genres") or []) for clean in cleans]
    rows = []
    for clean, author_rows, cover_path in zip(cleans, authors, cover_paths, strict=True):
        values = dict.fromkeys(_NEW_BOOK_COLUMNS)
        values.update(isbn13=clean["isbn"], rental_week_cents=0, language="en", active=True, units_sold=0,
                      cover_path=cover_path, author_names=", ".join(name for _, name in author_rows))
        values.update({column: clean[name] for name, column in _COLUMN_OF.items() if name in clean})
        rows.append(values)  # author_names: the triggers on book_authors compute the same string
    ids = list(db.session.scalars(insert(Book).returning(Book.id, sort_by_parameter_order=True), rows))
    db.session.execute(insert(BookAuthor), [{"book_id": book_id, "author_id": author_id, "position": pos}
                                            for book_id, author_rows in zip(ids, authors, strict=True)
                                            for pos, (author_id, _) in enumerate(author_rows)])
    links = [{"book_id": book_id, "genre_id": genre_id} for book_id, genre_rows in zip(ids, genres, strict=True)
             for genre_id in dict.fromkeys(g for g, _ in genre_rows)]
    if links:
        db.session.execute(insert(book_genres), links)
    for book_id, clean in zip(ids, cleans, strict=True):
        stock.create_inventory(book_id, clean.get("stock") or 0, actor_id=actor_id, reference=reference)
        if clean.get("low_stock_threshold") is not None:
            _set_threshold(book_id, clean["low_stock_threshold"])
    for book_id, clean, values, author_rows, genre_rows, note in zip(ids, cleans, rows, authors, genres, notes,
                                                                     strict=True):
        after = _snapshot(values, [n for _, n in author_rows], [n for _, n in genre_rows])
        after.update(stock=clean.get("stock") or 0, low_stock_threshold=clean.get("low_stock_threshold"))
        audit.record("admin.book_created", actor_id=actor_id, object_type="book", object_id=book_id, after=after,
                     ip=ip, note=note)
    _terms([f"{v['title']} {v['author_names']}" for v in rows], terms)
    db.session.flush()
    return ids


def _update(book: Book, clean: dict, *, actor_id, resolver: NameResolver, ip, reference, note, cover_path,
            remove_cover) -> Saved:
    before = snapshot(book)
    author_rows = resolver.authors(clean["authors"]) if "authors" in clean else None
    genre_rows = resolver.genres(clean["genres"]) if "genres" in clean else None
    old_cover = book.cover_path
    if "isbn" in clean and book.isbn13 != clean["isbn"]:
        book.isbn13 = clean["isbn"]
    for name, column in _COLUMN_OF.items():
        if name in clean and getattr(book, column) != clean[name]:
            setattr(book, column, clean[name])
    if cover_path:
        book.cover_path = cover_path
    elif remove_cover:
        book.cover_path = None
    authors = [name for _, name in author_rows] if author_rows is not None else before["authors"]
    genres = [name for _, name in genre_rows] if genre_rows is not None else before["genres"]
    if authors != before["authors"]:
        book.author_names = ", ".join(authors)  # the triggers compute the same string
        db.session.flush()
        db.session.execute(delete(BookAuthor).where(BookAuthor.book_id == book.id))
        db.session.execute(insert(BookAuthor), [{"book_id": book.id, "author_id": author_id, "position": pos}
                                                for pos, (author_id, _) in enumerate(author_rows)])
        db.session.expire(book, ["author_links"])
    if genres != before["genres"]:
        db.session.execute(delete(book_genres).where(book_genres.c.book_id == book.id))
        genre_ids = list(dict.fromkeys(genre_id for genre_id, _ in genre_rows))
        if genre_ids:
            db.session.execute(insert(book_genres), [{"book_id": book.id, "genre_id": g} for g in genre_ids])
        db.session.expire(book, ["genres"])
    stock_delta = 0
    if clean.get("stock") is not None:
        stock_delta = set_on_hand(book.id, clean["stock"], actor_id=actor_id, reference=reference,
                                  note=note or "Stock count set on the book's edit form")
    after = _snapshot({c: getattr(book, c) for c in _SNAPSHOT_COLUMNS}, authors, genres)
    if "low_stock_threshold" in clean:
        _set_threshold(book.id, clean["low_stock_threshold"])
        after["low_stock_threshold"] = clean["low_stock_threshold"]
    elif "low_stock_threshold" in before:
        after["low_stock_threshold"] = before["low_stock_threshold"]
    old, new = _diff(before, after)
    if stock_delta:
        old["on_hand"], new["on_hand"] = clean["stock"] - stock_delta, clean["stock"]
    if new:
        audit.record("admin.book_updated", actor_id=actor_id, object_type="book", object_id=book.id,
                     before=old, after=new, ip=ip, note=note)
    if old_cover and old_cover != book.cover_path:
        delete_file_on_commit(old_cover)
    db.session.flush()
    return Saved(book_id=book.id, created=False, changed=bool(new), book=book)


def _set_threshold(book_id: int, threshold: int | None) -> None:
    """The book's own low-stock threshold (None: the shop default); its alert follows at once."""
    changed = db.session.execute(
        update(Inventory).where(Inventory.book_id == book_id, Inventory.low_stock_threshold.is_distinct_from(threshold))
        .values(low_stock_threshold=threshold).execution_options(synchronize_session=False)).rowcount
    if changed:
        alerts.recheck(book_id)


def _save_cover(stream) -> str:
    try:
        stored = uploads.save_image(stream, "covers")
    except uploads.UploadError as exc:
        raise CatalogError(str(exc), "cover") from None
    delete_file_on_rollback(stored)
    return stored


def create_book(raw: Mapping[str, object], *, actor_id: int | None, ip: str | None = None, cover=None) -> Book:
    """A new book from the form: every rule checked first, then the cover stored, then the rows written."""
    clean = clean_book(raw)
    cover_path = _save_cover(cover) if cover is not None else None
    saved = apply(None, clean, actor_id=actor_id, ip=ip, cover_path=cover_path)
    return db.session.get(Book, saved.book_id)


def update_book(book: Book, raw: Mapping[str, object], *, actor_id: int | None, ip: str | None = None, cover=None,
                remove_cover: bool = False) -> Saved:
    """Save the edit form. `book` must come from `book_for_edit` (authors, genres and inventory loaded)."""
    clean = clean_book(raw, book=book)
    cover_path = _save_cover(cover) if cover is not None else None
    return apply(book, clean, actor_id=actor_id, ip=ip, cover_path=cover_path, remove_cover=remove_cover)


# ---- stock ----

def set_on_hand(book_id: int, target: int, *, actor_id: int | None, note: str, reference: str | None = None,
                expected: int | None = None) -> int:
    """Set the on-hand count (a stocktake, an inline edit, an import) with one "adjustment" ledger row for the
    difference. Never below the copies reserved for checkouts and holds. `expected` is the count the person saw:
    when stock moved meanwhile (a sale), nothing is changed and they are asked to look again. Returns the delta."""
    row = db.session.execute(select(Inventory.on_hand, Inventory.reserved).where(Inventory.book_id == book_id)
                             .with_for_update()).first()
    if row is None:
        stock.create_inventory(book_id, target, actor_id=actor_id, reference=reference)
        return target
    on_hand, reserved = row
    if expected is not None and on_hand != expected:
        raise CatalogError(f"Stock changed from {expected} to {on_hand} while you were editing; check it and "
                           f"save again.", "stock")
    if target < reserved:
        raise CatalogError(f"{reserved} {'copy is' if reserved == 1 else 'copies are'} reserved for checkouts and "
                           f"holds, so stock on hand cannot go below {reserved}.", "stock")
    delta = target - on_hand
    if delta:
        try:
            stock.adjust(book_id, delta, "adjustment", actor_id=actor_id, reference=reference,
                         note=f"{note} ({on_hand} → {target})")
        except stock.StockError as exc:
            raise CatalogError(str(exc), "stock") from None
    return delta


def inline_update(book: Book, raw_price, raw_stock, *, expected_stock, actor_id: int | None,
                  ip: str | None = None) -> Book:
    """Price and stock edited in the admin table's row."""
    errors: dict[str, list[str]] = {}
    price = stock_count = None
    try:
        price = parse_money(raw_price, "Price")
    except FieldError as exc:
        errors["price"] = [str(exc)]
    try:
        stock_count = parse_count(raw_stock, "Stock", required=True)
    except FieldError as exc:
        errors["stock"] = [str(exc)]
    try:
        expected = parse_count(expected_stock, "Stock")
    except FieldError:
        expected = None
    if errors:
        raise CatalogError(errors)
    before = {"price_cents": book.price_cents, "on_hand": book.inventory.on_hand if book.inventory else 0}
    delta = set_on_hand(book.id, stock_count, actor_id=actor_id, expected=expected,
                        note="Inline edit in the admin books table")
    book.price_cents = price
    after = {"price_cents": price, "on_hand": before["on_hand"] + delta}
    old, new = _diff(before, after)
    if new:
        audit.record("admin.book_updated", actor_id=actor_id, object_type="book", object_id=book.id,
                     before=old, after=new, ip=ip, note="inline edit")
    db.session.flush()
    if book.inventory is not None:
        db.session.refresh(book.inventory)
    return book


# Staff reasons for a stock change -> (label, ledger reason in MOVEMENT_REASONS, sign the change must have).
ADJUST_REASONS = {
    "restock": ("Restock", "restock", 1),
    "damaged": ("Damaged", "adjustment", -1),
    "lost": ("Lost", "adjustment", -1),
    "stocktake": ("Stocktake correction", "adjustment", 0),
    "other": ("Other", "adjustment", 0),
}
assert all(reason in MOVEMENT_REASONS for _, reason, _ in ADJUST_REASONS.values())


def adjust_stock(book: Book, raw_delta, reason: str, raw_note, *, actor_id: int | None,
                 ip: str | None = None, expected_on_hand=None) -> stock.StockState:
    """Add or remove copies with a reason and a note (one ledger row). `expected_on_hand` is the count the
    person saw; when stock has moved since (or the same form is sent twice) nothing changes."""
    errors: dict[str, list[str]] = {}
    delta = note = None
    text = "" if raw_delta is None else str(raw_delta).strip()
    try:
        magnitude = parse_count(text.lstrip("+-"), "Change", required=True, maximum=MAX_STOCK)
        delta = -magnitude if text.startswith("-") else magnitude
        if delta == 0:
            raise FieldError("Change must not be zero: use +3 to add copies, -2 to remove them.")
    except FieldError as exc:
        errors["delta"] = [str(exc)]
    if reason not in ADJUST_REASONS:
        errors["reason"] = ["Choose a reason."]
    try:
        note = parse_text(raw_note, "Note", 500, required=True, multiline=True)
    except FieldError as exc:
        errors["note"] = [str(exc)]
    if delta is not None and reason in ADJUST_REASONS:
        label, _, sign = ADJUST_REASONS[reason]
        if sign > 0 and delta < 0:
            errors["delta"] = ["A restock adds copies: use a positive number."]
        elif sign < 0 and delta > 0:
            errors["delta"] = [f"{label} copies are removed: use a negative number, like -1."]
    if errors:
        raise CatalogError(errors)
    label, ledger_reason, _ = ADJUST_REASONS[reason]
    before = stock.state(book.id)
    seen = str(expected_on_hand or "").strip()
    if seen.isascii() and seen.isdigit() and len(seen) <= 12 and int(seen) != before.on_hand:
        raise CatalogError({"delta": [f"Stock changed from {int(seen)} to {before.on_hand} on hand since this page "
                                      "was opened (perhaps this change was already sent). Check the ledger below, "
                                      "then send it again if it is still needed."]})
    try:
        after = stock.adjust(book.id, delta, ledger_reason, actor_id=actor_id, note=f"{label}: {note}")
    except stock.StockError as exc:
        raise CatalogError(f"{exc} ({before.reserved} reserved for checkouts and holds).", "delta") from None
    audit.record("admin.book_stock_adjusted", actor_id=actor_id, object_type="book", object_id=book.id,
                 before={"on_hand": before.on_hand}, after={"on_hand": after.on_hand}, ip=ip,
                 note=f"{label} ({delta:+d}): {note}")
    return after


@dataclass(frozen=True)
class LedgerLine:
    created_at: object
    on_hand_delta: int
    reserved_delta: int
    reason: str
    reference: str | None
    note: str | None
    actor: str | None


def recent_ledger(book_id: int, limit: int = 20) -> list[LedgerLine]:
    rows = db.session.execute(
        select(StockMovement.created_at, StockMovement.on_hand_delta, StockMovement.reserved_delta,
               StockMovement.reason, StockMovement.reference, StockMovement.note, User.username)
        .outerjoin(User, User.id == StockMovement.actor_id).where(StockMovement.book_id == book_id)
        .order_by(StockMovement.created_at.desc(), StockMovement.id.desc()).limit(limit))
    return [LedgerLine(*row) for row in rows]


# ---- archive, restore, delete ----

def archive_book(book: Book, *, actor_id: int | None, ip: str | None = None) -> bool:
    """Hide the book from the shop (listings, search, its page); orders and rentals keep it. Its holds queue
    closes: the customers waiting are told it is no longer sold."""
    from ..circulation import holds

    changed = _set_active(book, False, actor_id=actor_id, ip=ip)
    if changed:
        holds.close_for_book(book, actor_id=actor_id)
    return changed


def restore_book(book: Book, *, actor_id: int | None, ip: str | None = None) -> bool:
    return _set_active(book, True, actor_id=actor_id, ip=ip)


def _set_active(book: Book, active: bool, *, actor_id: int | None, ip: str | None) -> bool:
    if book.active == active:
        return False
    book.active = active
    audit.record("admin.book_restored" if active else "admin.book_archived", actor_id=actor_id, object_type="book",
                 object_id=book.id, before={"active": not active}, after={"active": active}, ip=ip)
    db.session.flush()
    return True


def usage(book_id: int) -> list[str]:
    """What ties a book to customers: the reasons it cannot be deleted (empty when it can)."""
    found = []
    for model, what in ((OrderLine, "orders"), (Rental, "rentals"), (Hold, "holds")):
        if db.session.scalar(select(exists().where(model.book_id == book_id))):
            found.append(what)
    return found


def delete_book(book: Book, *, actor_id: int | None, ip: str | None = None) -> None:
    """Delete a book that no customer ever ordered, rented or held (a mistake, a duplicate); others are archived."""
    used = usage(book.id)
    if used:
        raise CatalogError(f"“{book.title}” appears in {_join(used)}, so it cannot be deleted; archive it instead "
                           f"to hide it from the shop.")
    audit.record("admin.book_deleted", actor_id=actor_id, object_type="book", object_id=book.id,
                 before=snapshot(book), ip=ip)
    if book.cover_path:
        delete_file_on_commit(book.cover_path)
    db.session.execute(delete(Book).where(Book.id == book.id))
    db.session.expunge(book)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# ---- search vocabulary ----

def remember_search_terms(texts: Iterable[str]) -> None:
    """Add title/author words to the "did you mean" vocabulary now (the hourly rebuild recounts them)."""
    from .search import _TOKEN  # the tokenizer search.rebuild_terms uses, so both agree on what a word is

    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({w for w in _TOKEN.findall((text or "").lower()) if 3 <= len(w) <= 40 and not w.isdigit()})
    if not counts:
        return
    dialect = db.session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = make(SearchTerm).values([{"term": t, "frequency": n} for t, n in sorted(counts.items())])
    db.session.execute(stmt.on_conflict_do_update(index_elements=[SearchTerm.term],
                                                  set_={"frequency": SearchTerm.frequency + stmt.excluded.frequency}))


# ---- uploaded files follow the transaction ----

_DELETE_ON_COMMIT = "folio_catalog_files_on_commit"
_DELETE_ON_ROLLBACK = "folio_catalog_files_on_rollback"


def delete_file_on_commit(stored: str) -> None:
    """Remove a replaced cover once the row no longer points at it (after commit; kept on rollback)."""
    db.session.info.setdefault(_DELETE_ON_COMMIT, []).append(stored)


def delete_file_on_rollback(stored: str) -> None:
    """Remove a freshly stored cover if the change that would use it is rolled back."""
    db.session.info.setdefault(_DELETE_ON_ROLLBACK, []).append(stored)


@event.listens_for(Session, "after_commit")
def _files_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer transaction may still roll back
        return
    session.info.pop(_DELETE_ON_ROLLBACK, None)
    for stored in session.info.pop(_DELETE_ON_COMMIT, ()):
        uploads.delete(stored)


@event.listens_for(Session, "after_soft_rollback")
def _files_after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is not None:  # only a savepoint (or an inner block) was rolled back
        return
    session.info.pop(_DELETE_ON_COMMIT, None)
    for stored in session.info.pop(_DELETE_ON_ROLLBACK, ()):
        uploads.delete(stored)
