"""Writing demo books in bulk: the book, its author links, genres, stock row and opening ledger entry.

PostgreSQL gets COPY and, for a large load, what pg_restore does: secondary indexes and foreign keys on these
tables are dropped first and rebuilt (foreign keys checked once, by a join) afterwards, then VACUUM (ANALYZE).
Other databases get executemany in chunks. Either way every book's opening stock is in the stock ledger.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, text

from ..extensions import db
from ..models import Book, BookAuthor, Inventory, StockMovement, book_genres

Say = Callable[[str], None]
Row = dict[str, Any]

BOOK_COLUMNS = ["id", "isbn13", "title", "subtitle", "description", "language", "pages", "publisher",
                "published_on", "price_cents", "rental_week_cents", "units_sold", "author_names",
                "created_at", "updated_at", "active", "format", "series_name", "series_number"]
# Around a large PostgreSQL load, as pg_restore does: secondary indexes are dropped and rebuilt afterwards, and
# foreign keys on these tables are dropped and re-added (checked once, by a join, instead of row by row).
BULK_TABLES = ("books", "book_authors", "book_genres", "inventory", "stock_movements")
BULK_THRESHOLD = 50_000


def _next_id(model: type[Book]) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _split(rows: Iterable[Row], first_id: int) -> Iterator[tuple[Row, list[tuple[int, int, int]],
                                                                  list[tuple[int, int]], int]]:
    """Assign ids and split each generated row into rows for each table."""
    for book_id, row in enumerate(rows, start=first_id):
        book = {k: v for k, v in row.items() if not k.startswith("_")}
        book.update(id=book_id, updated_at=row["created_at"], active=True)
        links = [(book_id, author_id, pos) for pos, author_id in enumerate(row["_authors"])]
        genres = [(book_id, g) for g in row["_genres"]]
        yield book, links, genres, row["_on_hand"]


def write_generic(rows: Iterable[Row], say: Say, chunk: int = 2000) -> None:
    """Any database: executemany, `chunk` books at a time."""
    first_id = _next_id(Book)
    buffers: dict[str, list[Row]] = {"books": [], "links": [], "genres": [], "inv": [], "ledger": []}

    def flush() -> None:
        if not buffers["books"]:
            return
        db.session.execute(insert(Book), buffers["books"])
        db.session.execute(insert(BookAuthor), buffers["links"])
        db.session.execute(insert(book_genres), buffers["genres"])
        db.session.execute(insert(Inventory), buffers["inv"])
        if buffers["ledger"]:
            db.session.execute(insert(StockMovement), buffers["ledger"])
        for value in buffers.values():
            value.clear()

    now = datetime.now(UTC)
    for n, (book, links, genres, on_hand) in enumerate(_split(rows, first_id), start=1):
        buffers["books"].append(book)
        buffers["links"] += [{"book_id": b, "author_id": a, "position": p} for b, a, p in links]
        buffers["genres"] += [{"book_id": b, "genre_id": g} for b, g in genres]
        buffers["inv"].append({"book_id": book["id"], "on_hand": on_hand, "reserved": 0, "updated_at": now})
        if on_hand:
            buffers["ledger"].append({"book_id": book["id"], "on_hand_delta": on_hand, "reserved_delta": 0,
                                      "reason": "initial", "reference": "seed", "created_at": now})
        if n % chunk == 0:
            flush()
            say(f"{n} books written")
    flush()


def write_postgres(rows: Iterable[Row], count: int, say: Say) -> None:
    """PostgreSQL: COPY, with the indexes and foreign keys dropped around a load of BULK_THRESHOLD or more."""
    conn = db.session.connection()
    raw = conn.connection.driver_connection  # psycopg's own connection, for COPY
    if raw is None:  # only a closed connection has none
        raise RuntimeError("the database connection is closed")
    indexes: list[tuple[str, str]] = []
    foreign_keys: list[tuple[str, str, str]] = []
    if count >= BULK_THRESHOLD:
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        conn.execute(text("SET LOCAL work_mem = '256MB'"))  # the joins that check the re-added foreign keys
        indexes = [(r[0], r[1]) for r in conn.execute(text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ), {"tables": list(BULK_TABLES)})]
        foreign_keys = [(r[0], r[1], r[2]) for r in conn.execute(text(
            "SELECT quote_ident(t.relname), quote_ident(c.conname), pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables)"
        ), {"tables": list(BULK_TABLES)})]
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        for table, name, _ in foreign_keys:
            conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
        say(f"dropped {len(indexes)} secondary indexes and {len(foreign_keys)} foreign keys for the bulk load")
    # The author-name trigger would rewrite each book once per link; the rows already carry the names.
    conn.execute(text("ALTER TABLE book_authors DISABLE TRIGGER folio_book_authors_names"))
    first_id = _next_id(Book)
    now = datetime.now(UTC)
    links: list[tuple[int, int, int]] = []
    genres: list[tuple[int, int]] = []
    stock: list[tuple[int, int]] = []
    with raw.cursor() as cur:
        with cur.copy(f"COPY books ({', '.join(BOOK_COLUMNS)}) FROM STDIN") as books_copy:
            write = books_copy.write_row
            for book_id, row in enumerate(rows, start=first_id):
                created = row["created_at"]
                write((book_id, row["isbn13"], row["title"], row["subtitle"], row["description"], row["language"],
                       row["pages"], row["publisher"], row["published_on"], row["price_cents"],
                       row["rental_week_cents"], row["units_sold"], row["author_names"], created, created, True,
                       row["format"], row["series_name"], row["series_number"]))
                links += [(book_id, author_id, pos) for pos, author_id in enumerate(row["_authors"])]
                genres += [(book_id, g) for g in row["_genres"]]
                stock.append((book_id, row["_on_hand"]))
                if len(stock) % 100_000 == 0:
                    say(f"{len(stock)} books copied")
        say("copying authors, genres, stock and ledger")
        with cur.copy("COPY book_authors (book_id, author_id, position) FROM STDIN") as c:
            for link in links:
                c.write_row(link)
        with cur.copy("COPY book_genres (book_id, genre_id) FROM STDIN") as c:
            for genre in genres:
                c.write_row(genre)
        with cur.copy("COPY inventory (book_id, on_hand, reserved, updated_at) FROM STDIN") as c:
            for book_id, on_hand in stock:
                c.write_row((book_id, on_hand, 0, now))
        with cur.copy("COPY stock_movements (book_id, on_hand_delta, reserved_delta, reason, reference, created_at)"
                      " FROM STDIN") as c:
            for book_id, on_hand in stock:
                if on_hand:
                    c.write_row((book_id, on_hand, 0, "initial", "seed", now))
    conn.execute(text("ALTER TABLE book_authors ENABLE TRIGGER folio_book_authors_names"))
    conn.execute(text("SELECT setval(pg_get_serial_sequence('books', 'id'), (SELECT max(id) FROM books))"))
    for name, definition in indexes:
        t = time.perf_counter()
        conn.execute(text(definition))
        say(f"rebuilt {name} in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    for table, name, definition in foreign_keys:
        conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    if foreign_keys:
        say(f"re-added and checked {len(foreign_keys)} foreign keys in {time.perf_counter() - t:.1f}s")


def vacuum(tables: Iterable[str], say: Say) -> None:
    """VACUUM (ANALYZE) after a bulk load: planner statistics, and the visibility map that index-only scans use."""
    tables = list(tables)
    t = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    say(f"vacuumed and analyzed {', '.join(tables)} in {time.perf_counter() - t:.1f}s")
