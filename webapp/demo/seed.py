"""`seed(books, seed_value)`: the deterministic demo catalog, its authors and genres, and the demo accounts.

Re-running with the same seed inserts nothing twice: books are keyed by ISBN, a function of (seed, index),
so only the missing indexes are made and written. Writes are bulk (`bulk`); the search vocabulary is rebuilt
afterwards; with users, the demo logins, the demo author's link and the sales history are added too.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select

from ..extensions import db
from ..models import Author, Book, Genre, slugify
from ..services.catalog import vocabulary
from . import bulk
from .accounts import ensure_demo_users, link_demo_author
from .books import GENRES, author_pool, book_rows, isbn_for
from .history import AUTHOR_SALES_ORDERS, SALES_HISTORY_ORDERS, ensure_sales_history

__all__ = ["AUTHOR_SALES_ORDERS", "SALES_HISTORY_ORDERS", "SeedResult", "seed"]


@dataclass
class SeedResult:
    books_added: int
    authors_added: int
    seconds: float
    users: list[tuple[str, str, str]]  # (role, login, password) of demo users created


def _ensure_genres() -> tuple[list[int], dict[int, str]]:
    existing = {g.name: g for g in db.session.scalars(select(Genre))}
    for name in GENRES:
        if name not in existing:
            genre = Genre(name=name, slug=slugify(name))
            db.session.add(genre)
            existing[name] = genre
    db.session.flush()
    by_id = {g.id: g.name for g in existing.values()}
    return sorted(by_id), by_id


def _ensure_authors(rng: random.Random, size: int) -> tuple[list[int], dict[int, str], int]:
    names = author_pool(rng, size)
    have = dict(db.session.execute(select(Author.name, Author.id)).all())
    missing = [n for n in names if n not in have]
    taken_slugs = set(db.session.scalars(select(Author.slug)))
    rows = []
    for name in missing:
        slug = base = slugify(name)
        n = 2
        while slug in taken_slugs:
            slug, n = f"{base}-{n}", n + 1
        taken_slugs.add(slug)
        rows.append({"name": name, "slug": slug, "created_at": datetime.now(UTC),
                     "bio": f"{name} writes from a small desk by a big window."})
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(Author), rows[start:start + 5000])
    have = dict(db.session.execute(select(Author.name, Author.id)).all())
    ids = [have[n] for n in names]
    return ids, {have[n]: n for n in names}, len(rows)


def _missing_indexes(books: int, seed_value: int) -> tuple[int, list[int]]:
    """How many of this seed's first `books` books exist already, and the indexes of the others."""
    if db.session.scalar(select(Book.id).limit(1)) is None:  # empty catalog: nothing to skip
        return 0, list(range(books))
    wanted = {isbn_for(seed_value, i): i for i in range(books)}
    existing: set[str] = set()
    isbns = list(wanted)
    for start in range(0, len(isbns), 10000):
        existing.update(db.session.scalars(select(Book.isbn13).where(Book.isbn13.in_(isbns[start:start + 10000]))))
    return len(existing), sorted(i for isbn, i in wanted.items() if isbn not in existing)


def seed(books: int, seed_value: int = 1, progress: Callable[[str], None] | None = None,
         with_users: bool = True) -> SeedResult:
    """Add `books` demo books (fewer if some already exist for this seed). Commits."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    rng = random.Random(seed_value)
    genre_ids, genre_names = _ensure_genres()
    author_ids, author_names, authors_added = _ensure_authors(rng, max(40, books // 8))
    users = ensure_demo_users() if with_users else []
    db.session.commit()
    say(f"{len(genre_ids)} genres, {len(author_ids)} authors ready ({authors_added} new)")

    present, todo = _missing_indexes(books, seed_value)
    say(f"{present} of {books} books already present; adding {len(todo)}")
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if todo:
        rows = book_rows(todo, seed_value, author_ids, author_names, genre_ids, genre_names)
        if postgres:
            bulk.write_postgres(rows, len(todo), say)
        else:
            bulk.write_generic(rows, say)
        db.session.commit()
    terms = vocabulary.rebuild_terms()
    db.session.commit()
    say(f"search vocabulary: {terms} terms")
    if with_users:
        link_demo_author()
        sold = ensure_sales_history(random.Random(seed_value))
        db.session.commit()
        if sold:
            say(f"sales history: {sold} past orders (the demo author's books among them)")
    if postgres and len(todo) >= bulk.BULK_THRESHOLD:
        bulk.vacuum(bulk.BULK_TABLES, say)
    return SeedResult(len(todo), authors_added, time.perf_counter() - started, users)
