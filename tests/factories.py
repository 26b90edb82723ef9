"""Test data builders that go through the app's own services."""
from __future__ import annotations

import itertools
from datetime import date

from webapp.extensions import db
from webapp.models import Author, Book, BookAuthor, Genre, slugify
from webapp.services.catalog.isbn import isbn13_from_body
from webapp.services.inventory import stock

_counter = itertools.count(1)


def author(name: str) -> Author:
    found = db.session.query(Author).filter_by(name=name).one_or_none()
    if found:
        return found
    a = Author(name=name, slug=f"{slugify(name)}-{next(_counter)}")
    db.session.add(a)
    db.session.flush()
    return a


def genre(name: str) -> Genre:
    found = db.session.query(Genre).filter_by(name=name).one_or_none()
    if found:
        return found
    g = Genre(name=name, slug=slugify(name))
    db.session.add(g)
    db.session.flush()
    return g


def make_book(title: str = "A Book", *, authors=("Ann Author",), genres=("Fiction",), price_cents: int = 1500,
              on_hand: int = 5, description: str | None = None, language: str = "en",
              published_on: date | None = None, units_sold: int = 0, isbn13: str | None = None,
              active: bool = True) -> Book:
    n = next(_counter)
    book = Book(
        isbn13=isbn13 or isbn13_from_body(f"979{n:09d}"),
        title=title, description=description or f"About {title}.", language=language,
        price_cents=price_cents, rental_week_cents=price_cents // 5,
        published_on=published_on or date(2020, 1, 1), units_sold=units_sold, active=active,
        genres=[genre(g) for g in genres],
        author_links=[BookAuthor(author_id=author(name).id, position=pos) for pos, name in enumerate(authors)],
    )
    db.session.add(book)
    db.session.flush()
    stock.create_inventory(book.id, on_hand)
    db.session.commit()
    return book
