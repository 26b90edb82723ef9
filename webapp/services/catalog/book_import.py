"""CSV import (background task "import:books") and CSV export of books, with the same columns both ways.

Columns (a header row is required; names are case-insensitive, in any order):

    isbn                 required in every file: ISBN-10 or ISBN-13 (normalised to ISBN-13). It is the key:
                         an ISBN not in the catalog creates a book, a known one updates that book.
    title, authors,      required for a new book. authors: names separated by ";" (found by name,
    price                case-insensitive, or created).
    subtitle, genres (";"-separated, found or created), rental_week_price, cost_price, stock, low_stock_threshold,
    language, publisher, published_on (YYYY-MM-DD), pages, description, format (paperback or hardcover),
    series_name, series_number (1-999, with a series name)      optional.

Money is written like 12.50. Every value is checked by the same rules as the admin form (services.catalog.book_values).

Updating an existing book: only the columns in the file are written. A column that is present with an empty cell
clears that optional value (cost_price, subtitle, genres, publisher, pages, published_on, description,
low_stock_threshold -> the shop default; rental_week_price -> 0; language -> "en"), except `stock`: an empty stock
cell keeps the current count, and a number sets the on-hand count through an "adjustment" ledger row (never below
the copies reserved for checkouts). Title, authors and price cannot be emptied.

A file with an unknown, repeated or unnamed column is refused whole, before any row is imported: the upload form
says so at once, and the task fails with the same message if it is started some other way. Otherwise each row is
imported on its own (its own savepoint): valid rows are saved, and each invalid row is reported with its row number
as a spreadsheet shows it (the header is row 1), the column and the message, in `task.result["errors"]` and as the
task's CSV download. Rows are committed in batches as progress is reported, so a crashed import keeps the rows
done so far; importing the same file again updates them rather than duplicating them.

Cells that a spreadsheet would run as a formula (starting with = + - @) are exported with a leading apostrophe,
which the import removes again, so an export imports back unchanged.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TypedDict

from sqlalchemy import Select, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload, selectinload

from ...extensions import db
from ...models import Author, BackgroundTask, Book, BookAuthor, Genre, Inventory, book_genres
from ..platform import audit, background, money
from ..platform.spreadsheet import safe_cell, unsafe_cell
from .admin_listing import BookFilters, filter_conditions
from .book_values import FIELDS, CatalogError, CleanBook, FieldError, clean_book, parse_isbn
from .editing import apply, create_many
from .names import NameResolver
from .vocabulary import remember_search_terms

COLUMNS = FIELDS
MAX_COLUMNS = 50
REQUIRED_COLUMNS = ("isbn",)
LIST_SEP = ";"
BATCH = 100  # rows per savepoint batch; progress is reported (and committed) after each
MAX_REPORTED_ERRORS = 1000
EXPORT_CHUNK = 1000
_TEXT_COLUMNS = {"title", "subtitle", "authors", "genres", "publisher", "description", "series_name"}


class RowError(TypedDict):
    """One problem of the import, as reported: the row number (1 is the header), the column ("" for the row)."""

    row: int
    column: str
    message: str


class ImportRefused(ValueError):
    """The file cannot be imported at all (not CSV, unknown columns ...). The message says why."""


@dataclass
class Row:
    number: int  # as a spreadsheet numbers it: the header is row 1
    values: dict[str, str]
    extra_cells: bool = False


def unknown_columns(names: list[str]) -> list[str]:
    """Columns the import does not know: ignored (their cells are not read) and reported with the result, so a
    file with an extra or misspelt column still imports its good rows."""
    return [name for name in names if name and name not in COLUMNS]


def unknown_column_errors(names: list[str]) -> list[RowError]:
    return [{"row": 1, "column": name,
             "message": f"Unknown column, ignored: nothing in it was imported. The columns are: {', '.join(COLUMNS)}."}
            for name in unknown_columns(names)]


def header_problems(names: list[str]) -> list[str]:
    """What stops a header row from being imported at all (empty when it can be imported)."""
    if len(names) > MAX_COLUMNS:  # refused before any per-column work: a 50,000-column header costs nothing
        return [f"The header has {len(names):,} columns; a book file has at most {len(COLUMNS)} "
                f"({', '.join(COLUMNS)})."]
    problems = []
    unnamed = [str(i) for i, name in enumerate(names, start=1) if not name]
    if unnamed:
        problems.append(f"Column{'s' if len(unnamed) > 1 else ''} {', '.join(unnamed)} {'have' if len(unnamed) > 1 else 'has'} no name.")
    repeated = sorted(name for name, n in Counter(n for n in names if n).items() if n > 1)
    if repeated:
        problems.append(f"Repeated column{'s' if len(repeated) > 1 else ''}: {', '.join(repeated)}.")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        problems.append(f"Missing required column: {', '.join(missing)}.")
    return problems


def decode(data: bytes) -> str:
    """UTF-8 with or without a byte order mark."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused("The file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8”.") from None


def _unquote(value: str) -> str:
    return unsafe_cell(value)


def read_csv(text: str) -> tuple[list[str], list[Row]]:
    """The header and the data rows of a CSV text. Raises ImportRefused when the file cannot be imported."""
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise ImportRefused("The file contains NUL characters; it does not look like a CSV text file.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise ImportRefused("The file is empty: the first row must name the columns (isbn, title, ...).")
        names = [cell.strip().lower() for cell in header]
        problems = header_problems(names)
        if problems:
            raise ImportRefused(" ".join(problems))
        rows = []
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            values = {name: _unquote(cells[i]) if i < len(cells) else "" for i, name in enumerate(names)
                      if name in COLUMNS}
            extra = any(cell.strip() for cell in cells[len(names):])
            rows.append(Row(number, values, extra))
    except csv.Error as exc:
        raise ImportRefused(f"This is not a CSV file we can read (line {reader.line_num}: {exc}).") from None
    return names, rows


@dataclass
class Importer:
    """Imports rows batch by batch; collects counts and per-row errors."""

    actor_id: int | None
    reference: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    resolver: NameResolver = field(default_factory=NameResolver)
    _seen: dict[str, int] = field(default_factory=dict)

    def error(self, row: Row, column: str, message: str) -> None:
        self.errors.append({"row": row.number, "column": column, "message": message})

    def run(self, batch: list[Row]) -> None:
        keyed: list[tuple[Row, str]] = []
        for row in batch:
            if row.extra_cells:
                self._fail(row, "", "This row has more cells than the header has columns.")
                continue
            try:
                isbn13 = parse_isbn(row.values.get("isbn"), check_unique=False)
            except FieldError as exc:
                self._fail(row, "isbn", str(exc))
                continue
            if isbn13 in self._seen:
                self._fail(row, "isbn", f"ISBN {isbn13} is also in row {self._seen[isbn13]}: list each book once.")
                continue
            self._seen[isbn13] = row.number
            keyed.append((row, isbn13))
        if not keyed:
            return
        existing = {b.isbn13: b for b in db.session.scalars(
            select(Book).where(Book.isbn13.in_([isbn for _, isbn in keyed])).options(
                selectinload(Book.author_links).joinedload(BookAuthor.author), selectinload(Book.genres),
                joinedload(Book.inventory))).unique()}
        terms: list[str] = []
        new_rows: list[tuple[Row, CleanBook]] = []
        for row, isbn13 in keyed:
            book = existing.get(isbn13)
            try:
                clean = clean_book(dict(row.values, isbn=isbn13), book=book, check_isbn_unique=False,
                                   list_sep=LIST_SEP)
            except CatalogError as exc:
                self._fail_all(row, exc)
                continue
            if book is None:
                new_rows.append((row, clean))
            else:
                self._one(row, book, clean, terms)
        if new_rows:
            self._create(new_rows, terms)
        remember_search_terms(terms)

    def _create(self, new_rows: list[tuple[Row, CleanBook]], terms: list[str]) -> None:
        """The batch's new books together in one savepoint; if the database refuses it, one savepoint per row."""
        self.resolver.begin()
        collected: list[str] = []
        try:
            with db.session.begin_nested():
                create_many([clean for _, clean in new_rows], actor_id=self.actor_id, resolver=self.resolver,
                            reference=self.reference, notes=[self._note(row) for row, _ in new_rows], terms=collected)
        except (CatalogError, DBAPIError):
            self.resolver.forget_created()
            for row, clean in new_rows:
                self._one(row, None, clean, terms)
            return
        self.created += len(new_rows)
        terms.extend(collected)

    def _note(self, row: Row) -> str:
        return f"CSV import ({self.reference}), row {row.number}"

    def _one(self, row: Row, book: Book | None, clean: CleanBook, terms: list[str]) -> None:
        """One row in its own savepoint: saved whole, or not at all and reported."""
        self.resolver.begin()
        collected: list[str] = []
        try:
            with db.session.begin_nested():
                saved = apply(book, clean, actor_id=self.actor_id, resolver=self.resolver,
                              reference=self.reference, note=self._note(row), terms=collected)
        except CatalogError as exc:
            self.resolver.forget_created()
            self._fail_all(row, exc)
            return
        except DBAPIError as exc:  # a constraint the rules did not foresee (or a concurrent change)
            self.resolver.forget_created()
            self._fail(row, "", f"The database refused this row ({type(exc.orig).__name__}).")
            return
        terms.extend(collected)
        if saved.created:
            self.created += 1
        elif saved.changed:
            self.updated += 1
        else:
            self.unchanged += 1

    def _fail(self, row: Row, column: str, message: str) -> None:
        self.failed_rows += 1
        self.error(row, column, message)

    def _fail_all(self, row: Row, exc: CatalogError) -> None:
        self.failed_rows += 1
        for column, messages in exc.errors.items():
            for message in messages:
                self.error(row, column, message)

    def result(self, total: int) -> dict[str, object]:
        return {"rows": total, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "failed": self.failed_rows, "errors": self.errors[:MAX_REPORTED_ERRORS],
                "errors_total": len(self.errors)}

    def errors_csv(self) -> str | None:
        if not self.errors:
            return None
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["row", "column", "message"])
        writer.writerows([e["row"], e["column"], e["message"]] for e in self.errors)
        return buffer.getvalue()


def start(data: bytes, filename: str, *, user_id: int | None, ip: str | None = None) -> BackgroundTask:
    """Check an uploaded file (encoding, header) and start the import task. Raises ImportRefused."""
    text = decode(data)
    names, rows = read_csv(text)
    if not rows:
        raise ImportRefused("The file has a header but no rows to import.")
    ignored = unknown_columns(names)
    name = (filename or "books.csv").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:100] or "books.csv"  # no NUL or control characters
    task = background.start("import:books", f"Book import: {name}", params={"filename": name, "rows": len(rows), **({"ignored_columns": ignored} if ignored else {})},
                            user_id=user_id, input_text=text)
    audit.record("admin.books_import_started", actor_id=user_id, object_type="task", object_id=task.id,
                 after={"filename": name, "rows": len(rows), "bytes": len(data)}, ip=ip)
    return task


@background.runner("import:books")
def run_import(task: BackgroundTask, progress: background.Progress) -> background.Outcome:
    task_id, actor_id, filename = task.id, task.requested_by_id, (task.params or {}).get("filename")
    names, rows = read_csv(task.input_text or "")  # ImportRefused: the task fails with its message
    total = len(rows)
    progress(0, total, f"Importing {total:,} rows.")  # progress() commits: `task` is not read after this
    importer = Importer(actor_id=actor_id, reference=f"import:{task_id}")
    importer.errors.extend(unknown_column_errors(names))
    for start_at in range(0, total, BATCH):
        importer.run(rows[start_at:start_at + BATCH])
        progress(min(start_at + BATCH, total), total)  # commits this batch
    result = importer.result(total)
    audit.record("admin.books_imported", actor_id=actor_id, object_type="task", object_id=task_id,
                 after={k: v for k, v in result.items() if k != "errors"}, note=filename)
    ignored = unknown_columns(names)
    message = (f"{importer.created:,} books added, {importer.updated:,} updated, {importer.unchanged:,} unchanged"
               + (f"; {importer.failed_rows:,} rows with errors, not imported" if importer.failed_rows else "")
               + (f"; unknown column{'s' if len(ignored) > 1 else ''} ignored: {', '.join(ignored)}" if ignored else "")
               + ".")
    return background.Outcome(message=message, result=result, csv=importer.errors_csv())


# ---- export ----

def record_export(filters: BookFilters, *, actor_id: int | None, ip: str | None = None) -> None:
    audit.record("admin.books_exported", actor_id=actor_id, object_type="book",
                 after={"filters": {k: v for k, v in asdict(filters).items() if v}}, ip=ip)


def _cell(column: str, value: object) -> str:
    return safe_cell(value) if column in _TEXT_COLUMNS else ("" if value is None else str(value))


def export_csv(filters: BookFilters | None = None, chunk: int = EXPORT_CHUNK) -> Iterator[str]:
    """The books matching `filters` (all by default) as CSV text pieces, in id order, streamed: rows are read
    `chunk` at a time (yield_per) with their authors and genres, so memory stays flat however big the catalog."""
    plain = money.plain
    stmt = (select(Book.id, Book.isbn13, Book.title, Book.subtitle, Book.price_cents, Book.rental_week_cents,
                   Book.cost_cents, Inventory.on_hand, Inventory.low_stock_threshold, Book.language, Book.publisher,
                   Book.published_on, Book.pages, Book.description, Book.format, Book.series_name,
                   Book.series_number)
            .outerjoin(Inventory, Inventory.book_id == Book.id)
            .where(*filter_conditions(filters or BookFilters()))
            .order_by(Book.id).execution_options(yield_per=chunk))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")  # spreadsheets then read the file as UTF-8; the import accepts it
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    for part in db.session.execute(stmt).partitions():
        ids = [r.id for r in part]
        authors = _names_by_book(select(BookAuthor.book_id, Author.name).join(Author, Author.id == BookAuthor.author_id)
                                 .where(BookAuthor.book_id.in_(ids))
                                 .order_by(BookAuthor.book_id, BookAuthor.position, Author.name))
        genres = _names_by_book(select(book_genres.c.book_id, Genre.name).join(Genre, Genre.id == book_genres.c.genre_id)
                                .where(book_genres.c.book_id.in_(ids)).order_by(book_genres.c.book_id, Genre.name))
        buffer.seek(0)
        buffer.truncate()
        for r in part:
            values = {
                "isbn": r.isbn13, "title": r.title, "subtitle": r.subtitle,
                "authors": f"{LIST_SEP} ".join(authors.get(r.id, [])), "genres": f"{LIST_SEP} ".join(genres.get(r.id, [])),
                "price": plain(r.price_cents), "rental_week_price": plain(r.rental_week_cents),
                "cost_price": plain(r.cost_cents), "stock": r.on_hand if r.on_hand is not None else 0,
                "low_stock_threshold": r.low_stock_threshold, "language": r.language, "publisher": r.publisher,
                "published_on": r.published_on.isoformat() if r.published_on else None, "pages": r.pages,
                "description": r.description, "format": r.format, "series_name": r.series_name,
                "series_number": r.series_number,
            }
            writer.writerow([_cell(c, values[c]) for c in COLUMNS])
        yield buffer.getvalue()


def _names_by_book(stmt: Select[int, str]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for book_id, name in db.session.execute(stmt):
        found.setdefault(book_id, []).append(name)
    return found
