"""Staff changes to books: create, update (full form, inline price and stock, CSV import rows), archive, restore and
delete, each audited with what changed.

Values are checked first by services.catalog.book_values; authors and genres are found or created by
services.catalog.names; stock counts change only through services.catalog.stock_changes (a ledger row each time).
`books.author_names` is set here and kept by the database triggers on book_authors; the full-text indexes (SQLite FTS5
triggers, the PostgreSQL generated tsvector) follow the books row by themselves, and new title/author words go to
the "did you mean" vocabulary at once. Archiving tells the listeners registered with `on_archived` (the holds queue,
wired by services.connect), so this package never calls up into circulation.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import IO, Protocol

from sqlalchemy import delete, exists, insert, select, update

from ...extensions import db
from ...models import Book, BookAuthor, Hold, Inventory, OrderLine, Rental, book_genres
from ..inventory import alerts, stock
from ..platform import audit, uploads
from .book_values import CatalogError, CleanBook, FieldError, clean_book, parse_count, parse_money
from .cover_files import delete_file_on_commit, delete_file_on_rollback
from .names import NameResolver
from .stock_changes import set_on_hand
from .vocabulary import remember_search_terms

Snapshot = dict[str, object]

_SNAPSHOT_COLUMNS = ("isbn13", "title", "subtitle", "price_cents", "rental_week_cents", "cost_cents", "language",
                     "publisher", "published_on", "pages", "description", "cover_path", "active", "format",
                     "series_name", "series_number")


def _snapshot(columns: Mapping[str, object], authors: list[str], genres: list[str]) -> Snapshot:
    data: Snapshot = {("isbn" if c == "isbn13" else c): columns.get(c) for c in _SNAPSHOT_COLUMNS}
    published_on = data["published_on"]
    if isinstance(published_on, date):
        data["published_on"] = published_on.isoformat()
    data["authors"], data["genres"] = authors, genres
    return data


def _names(book: Book) -> tuple[list[str], list[str]]:
    """The book's author and genre names; relationships are read only when loaded (never loaded here)."""
    loaded = book.__dict__
    links = loaded.get("author_links")
    authors = ([link.author.name for link in links] if links is not None
               else [n for n in (book.author_names or "").split(", ") if n])
    return authors, [g.name for g in loaded.get("genres", [])]


def snapshot(book: Book) -> Snapshot:
    """What the audit log keeps of a book (before/after). Relationships are read only when loaded."""
    data = _snapshot({c: getattr(book, c) for c in _SNAPSHOT_COLUMNS}, *_names(book))
    inv = book.__dict__.get("inventory")
    if inv is not None:
        data["low_stock_threshold"] = inv.low_stock_threshold
    return data


def _diff(before: Snapshot, after: Snapshot) -> tuple[Snapshot, Snapshot]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


# form field / CSV column -> Book column
_COLUMN_OF = {"title": "title", "subtitle": "subtitle", "price": "price_cents", "rental_week_price": "rental_week_cents",
              "cost_price": "cost_cents", "language": "language", "publisher": "publisher",
              "published_on": "published_on", "pages": "pages", "description": "description", "format": "format",
              "series_name": "series_name", "series_number": "series_number"}


@dataclass
class Saved:
    book_id: int
    created: bool
    changed: bool
    book: Book | None = None  # the updated Book (None after a create: `db.session.get` it when needed)


def apply(book: Book | None, clean: CleanBook, *, actor_id: int | None, resolver: NameResolver | None = None,
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
                     "author_names", "format", "series_name", "series_number")


def create_many(cleans: list[CleanBook], *, actor_id: int | None, resolver: NameResolver | None = None,
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
    rows: list[dict[str, object]] = []
    for clean, author_rows, cover_path in zip(cleans, authors, cover_paths, strict=True):
        given: Mapping[str, object] = clean
        values: dict[str, object] = dict.fromkeys(_NEW_BOOK_COLUMNS)
        values.update(isbn13=clean["isbn"], rental_week_cents=0, language="en", active=True, units_sold=0, format="paperback",
                      cover_path=cover_path, author_names=", ".join(name for _, name in author_rows))
        values.update({column: given[name] for name, column in _COLUMN_OF.items() if name in given})
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
        threshold = clean.get("low_stock_threshold")
        if threshold is not None:
            _set_threshold(book_id, threshold)
    for book_id, clean, values, author_rows, genre_rows, note in zip(ids, cleans, rows, authors, genres, notes,
                                                                     strict=True):
        after = _snapshot(values, [n for _, n in author_rows], [n for _, n in genre_rows])
        after.update(stock=clean.get("stock") or 0, low_stock_threshold=clean.get("low_stock_threshold"))
        audit.record("admin.book_created", actor_id=actor_id, object_type="book", object_id=book_id, after=after,
                     ip=ip, note=note)
    _terms([f"{v['title']} {v['author_names']}" for v in rows], terms)
    db.session.flush()
    return ids


def _update(book: Book, clean: CleanBook, *, actor_id: int | None, resolver: NameResolver, ip: str | None,
            reference: str | None, note: str | None, cover_path: str | None, remove_cover: bool) -> Saved:
    before = snapshot(book)
    before_authors, before_genres = _names(book)
    given: Mapping[str, object] = clean
    author_rows = resolver.authors(clean["authors"]) if "authors" in clean else None
    genre_rows = resolver.genres(clean["genres"]) if "genres" in clean else None
    old_cover = book.cover_path
    if "isbn" in clean and book.isbn13 != clean["isbn"]:
        book.isbn13 = clean["isbn"]
    for name, column in _COLUMN_OF.items():
        if name in given and getattr(book, column) != given[name]:
            setattr(book, column, given[name])
    if cover_path:
        book.cover_path = cover_path
    elif remove_cover:
        book.cover_path = None
    authors = [name for _, name in author_rows] if author_rows is not None else before_authors
    genres = [name for _, name in genre_rows] if genre_rows is not None else before_genres
    if author_rows is not None and authors != before_authors:
        book.author_names = ", ".join(authors)  # the triggers compute the same string
        db.session.flush()
        db.session.execute(delete(BookAuthor).where(BookAuthor.book_id == book.id))
        db.session.execute(insert(BookAuthor), [{"book_id": book.id, "author_id": author_id, "position": pos}
                                                for pos, (author_id, _) in enumerate(author_rows)])
        db.session.expire(book, ["author_links"])
    if genre_rows is not None and genres != before_genres:
        db.session.execute(delete(book_genres).where(book_genres.c.book_id == book.id))
        genre_ids = list(dict.fromkeys(genre_id for genre_id, _ in genre_rows))
        if genre_ids:
            db.session.execute(insert(book_genres), [{"book_id": book.id, "genre_id": g} for g in genre_ids])
        db.session.expire(book, ["genres"])
    stock_delta = 0
    target = clean.get("stock")
    if target is not None:
        stock_delta = set_on_hand(book.id, target, actor_id=actor_id, reference=reference,
                                  note=note or "Stock count set on the book's edit form")
    after = _snapshot({c: getattr(book, c) for c in _SNAPSHOT_COLUMNS}, authors, genres)
    if "low_stock_threshold" in clean:
        _set_threshold(book.id, clean["low_stock_threshold"])
        after["low_stock_threshold"] = clean["low_stock_threshold"]
    elif "low_stock_threshold" in before:
        after["low_stock_threshold"] = before["low_stock_threshold"]
    old, new = _diff(before, after)
    if stock_delta and target is not None:
        old["on_hand"], new["on_hand"] = target - stock_delta, target
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
        .values(low_stock_threshold=threshold).returning(Inventory.book_id)
        .execution_options(synchronize_session=False)).one_or_none()
    if changed is not None:
        alerts.recheck(book_id)


def _save_cover(stream: IO[bytes]) -> str:
    try:
        stored = uploads.save_image(stream, "covers")
    except uploads.UploadError as exc:
        raise CatalogError(str(exc), "cover") from None
    delete_file_on_rollback(stored)
    return stored


def create_book(raw: Mapping[str, object], *, actor_id: int | None, ip: str | None = None,
                cover: IO[bytes] | None = None) -> Book:
    """A new book from the form: every rule checked first, then the cover stored, then the rows written."""
    clean = clean_book(raw)
    cover_path = _save_cover(cover) if cover is not None else None
    saved = apply(None, clean, actor_id=actor_id, ip=ip, cover_path=cover_path)
    return db.session.get_one(Book, saved.book_id)


def update_book(book: Book, raw: Mapping[str, object], *, actor_id: int | None, ip: str | None = None,
                cover: IO[bytes] | None = None, remove_cover: bool = False) -> Saved:
    """Save the edit form. `book` must come from `book_for_edit` (authors, genres and inventory loaded)."""
    clean = clean_book(raw, book=book)
    cover_path = _save_cover(cover) if cover is not None else None
    return apply(book, clean, actor_id=actor_id, ip=ip, cover_path=cover_path, remove_cover=remove_cover)


def inline_update(book: Book, raw_price: object, raw_stock: object, *, expected_stock: object, actor_id: int | None,
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
    if errors or price is None or stock_count is None:
        raise CatalogError(errors)
    on_hand = book.inventory.on_hand if book.inventory else 0
    before: Snapshot = {"price_cents": book.price_cents, "on_hand": on_hand}
    delta = set_on_hand(book.id, stock_count, actor_id=actor_id, expected=expected,
                        note="Inline edit in the admin books table")
    book.price_cents = price
    after: Snapshot = {"price_cents": price, "on_hand": on_hand + delta}
    old, new = _diff(before, after)
    if new:
        audit.record("admin.book_updated", actor_id=actor_id, object_type="book", object_id=book.id,
                     before=old, after=new, ip=ip, note="inline edit")
    db.session.flush()
    if book.inventory is not None:
        db.session.refresh(book.inventory)
    return book


# ---- archive, restore, delete ----

class ArchiveListener(Protocol):
    def __call__(self, book: Book, *, actor_id: int | None) -> object: ...


_archive_listeners: list[ArchiveListener] = []


def on_archived(listener: ArchiveListener) -> None:
    """Call `listener(book, actor_id=...)` whenever a book is archived, in the same transaction, in the order
    registered (services.connect registers the holds queue's closing). Registering a listener again does nothing."""
    if listener not in _archive_listeners:
        _archive_listeners.append(listener)


def archive_book(book: Book, *, actor_id: int | None, ip: str | None = None) -> bool:
    """Hide the book from the shop (listings, search, its page); orders and rentals keep it. Its holds queue
    closes (through the `on_archived` listeners): the customers waiting are told it is no longer sold."""
    changed = _set_active(book, False, actor_id=actor_id, ip=ip)
    if changed:
        for listener in list(_archive_listeners):
            listener(book, actor_id=actor_id)
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
