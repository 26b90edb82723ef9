"""Books, authors, genres.

`books.author_names` is a denormalised "A. Name, B. Name" string kept current by
database triggers on book_authors/authors (see the first migration). Full-text search
reads it: PostgreSQL through the generated `search_vector` column (GIN index), SQLite
through the `books_fts` FTS5 table that triggers keep in step with `books`.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model, db
from .types import UTCDateTime, utcnow


def slugify(text: str, max_len: int = 80) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text[:max_len].rstrip("-") or "item"


# Title, subtitle and author names as one tsvector (PostgreSQL only): a GIN index on it finds the books whose
# title or authors match a search, which rank first. Spelled as SQLAlchemy reflects it from PostgreSQL so
# the models-vs-migrations check compares equal; search.py matches this same expression, which is what lets it use the index.
TITLE_AUTHOR_TSVECTOR = (
    "to_tsvector('english'::regconfig, (((COALESCE(title, ''::character varying)::text || ' '::text) || "
    "COALESCE(subtitle, ''::character varying)::text) || ' '::text) || author_names)"
)

book_genres = Table(
    "book_genres",
    db.metadata,
    Column("book_id", Integer, ForeignKey("books.id", ondelete="CASCADE"), primary_key=True),
    Column("genre_id", Integer, ForeignKey("genres.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_book_genres_genre_id_book_id", "genre_id", "book_id"),
)


class BookAuthor(Model):
    __tablename__ = "book_authors"
    __table_args__ = (Index("ix_book_authors_author_id_book_id", "author_id", "book_id"),)

    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)

    author: Mapped[Author] = relationship(lazy="joined", innerjoin=True)


class Author(Model):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), index=True)
    slug: Mapped[str] = mapped_column(String(180), unique=True)
    bio: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    goodreads_url: Mapped[str | None] = mapped_column(String(255))
    photo_path: Mapped[str | None] = mapped_column(String(255))  # under UPLOAD_DIR, see services.platform.uploads
    # Encrypted at rest (services.platform.crypto, keys from DATA_ENCRYPTION_KEYS); only the last four digits in clear.
    bank_account_encrypted: Mapped[str | None] = mapped_column(Text)
    bank_account_last4: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), onupdate=utcnow)


class Genre(Model):
    __tablename__ = "genres"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    slug: Mapped[str] = mapped_column(String(90), unique=True)


class Book(Model):
    __tablename__ = "books"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_nonnegative"),
        CheckConstraint("cost_cents IS NULL OR cost_cents >= 0", name="cost_nonnegative"),
        CheckConstraint("rental_week_cents >= 0", name="rental_nonnegative"),
        CheckConstraint("pages IS NULL OR pages > 0", name="pages_positive"),
        CheckConstraint("length(isbn13) = 13", name="isbn13_length"),
        CheckConstraint("format IN ('paperback', 'hardcover')", name="format_valid"),
        CheckConstraint("series_number IS NULL OR series_number > 0", name="series_number_positive"),
        # "More in this series" on the book page: the series' books in reading order.
        Index("ix_books_series", "series_name", "series_number"),
        # One index per listing sort (active books only are listed); id breaks ties.
        Index("ix_books_active_title", "active", "title", "id"),
        Index("ix_books_active_price", "active", "price_cents", "id"),
        Index("ix_books_active_published", "active", "published_on", "id"),
        Index("ix_books_active_units_sold", "active", "units_sold", "id"),
        Index("ix_books_active_created", "active", "created_at", "id"),
        Index("ix_books_language", "language"),
        # Probing books by id for the listing filters from the index alone (counting a genre's books, say).
        Index("ix_books_id_active_price_language", "id", "active", "price_cents", "language"),
        # Created by the migration on PostgreSQL only (see TITLE_AUTHOR_TSVECTOR); SQLite searches through FTS5.
        Index("ix_books_title_author_search", text(TITLE_AUTHOR_TSVECTOR), postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    isbn13: Mapped[str] = mapped_column(String(13), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    subtitle: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="en")
    pages: Mapped[int | None] = mapped_column()
    publisher: Mapped[str | None] = mapped_column(String(160))
    published_on: Mapped[date | None] = mapped_column()
    price_cents: Mapped[int] = mapped_column()
    cost_cents: Mapped[int | None] = mapped_column()  # what the shop paid per copy (inventory value at cost)
    rental_week_cents: Mapped[int] = mapped_column(default=0)
    cover_path: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(12), default="paperback", server_default="paperback")
    series_name: Mapped[str | None] = mapped_column(String(160))
    series_number: Mapped[int | None] = mapped_column()  # the book's place in its series (1, 2, ...)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    units_sold: Mapped[int] = mapped_column(default=0, server_default="0")
    author_names: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    author_links: Mapped[list[BookAuthor]] = relationship(
        order_by=BookAuthor.position, cascade="all, delete-orphan", lazy="raise_on_sql"
    )
    genres: Mapped[list[Genre]] = relationship(secondary=book_genres, order_by=Genre.name, lazy="raise_on_sql")
    inventory: Mapped[Inventory] = relationship(back_populates="book", uselist=False, lazy="raise_on_sql")

    @property
    def authors(self) -> list[Author]:
        return [link.author for link in self.author_links]

    @property
    def slug(self) -> str:
        return slugify(self.title)

    def __repr__(self) -> str:
        return f"<Book {self.id} {self.title!r}>"


from .inventory import Inventory  # noqa: E402  (relationship target)
