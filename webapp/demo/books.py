"""What a demo book looks like: titles, series, formats, descriptions, prices, stock and authors from word lists.

Every book is a function of (seed, index) alone, so a re-run with the same seed makes the same books and the
ISBN (also a function of both) tells which already exist. Authors' names come from Faker's name lists: the
same Faker version gives the same authors (the dev requirements pin it).
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

from faker.providers.person.en_US import Provider as PersonNames

from ..services.catalog.isbn import isbn13_from_body
from .blurbs import FAMILY, description
from .words import (
    ADJECTIVES,
    ENDS,
    GUIDES,
    HOUSES,
    KIN_NOUNS,
    NONFICTION_TOPICS,
    NOUNS,
    PEOPLE,
    PLACES,
    PLURALS,
    PUBLISHERS,
    SERIES_FIRST,
    SERIES_SECOND,
    VERBS,
)

GENRES = [
    "Biography", "Business", "Children's", "Classics", "Cookery", "Crime", "Fantasy", "History",
    "Horror", "Humour", "Literary Fiction", "Mystery", "Philosophy", "Poetry", "Romance",
    "Science", "Science Fiction", "Self-Help", "Thriller", "Travel", "Young Adult",
]
# Genres whose books come in series ("Book 2 of The Marrow Coast").
SERIES_GENRES = {"Crime", "Fantasy", "Mystery", "Science Fiction", "Thriller", "Young Adult", "Children's", "Romance"}
SERIES_BLOCK = 6  # indexes are grouped in blocks of 6; some blocks start with a series of 3 to 6 books
SERIES_SHARE = 0.3  # of the blocks that may hold a series (every other one)
LANGUAGE_WEIGHTS = [("en", 80), ("de", 4), ("es", 4), ("fr", 4), ("it", 2), ("nl", 2), ("pt", 2), ("sv", 1), ("pl", 1)]

_LANGUAGES = [code for code, _ in LANGUAGE_WEIGHTS]
_LANGUAGE_CUM_WEIGHTS = list(accumulate(w for _, w in LANGUAGE_WEIGHTS))  # what choices(weights=...) computes
_PRICES = [799, 899, 999, 1099, 1299, 1499, 1699, 1899, 2099, 2499, 2999, 3499, 4500]
_EPOCH = date(1950, 1, 1)
_RECENT = date(2012, 1, 1)
_LAST = date(2025, 12, 31)
_CREATED_BASE = datetime(2024, 1, 1, tzinfo=UTC)
_PAGES = {"young": (32, 320), "poetry": (56, 144)}


def isbn_for(seed: int, index: int) -> str:
    """The book's key: re-seeding finds it by this ISBN and adds nothing twice."""
    body = (seed * 7_919_993 + index) % 1_000_000_000
    return isbn13_from_body(f"978{body:09d}")


@dataclass(frozen=True)
class Series:
    """The series a block of indexes starts with: its books share the name, genre, author and publisher."""

    name: str
    length: int
    genre: str
    author_index: int
    publisher: str
    first_published: date


def series_of_block(seed: int, block: int) -> Series | None:
    """The series that indexes block*SERIES_BLOCK ... hold (their first `length`), or None: a function of
    (seed, block) alone, so a book made alone knows its series and its place in it. Only even blocks may hold
    one, and the name walks the name lists by block, so one seed's first ~2,500 books never share a name."""
    if block % 2:
        return None
    rng = random.Random(seed * 2_000_029 + block)
    if rng.random() >= SERIES_SHARE:
        return None
    slot = (block // 2 + seed * 37) % (len(SERIES_FIRST) * len(SERIES_SECOND))
    name = f"The {SERIES_FIRST[slot % len(SERIES_FIRST)]} {SERIES_SECOND[slot // len(SERIES_FIRST)]}"
    length = {"Trilogy": 3, "Quartet": 4}.get(name.rsplit(" ", 1)[1], rng.randint(3, SERIES_BLOCK))
    return Series(name=name, length=length, genre=rng.choice(sorted(SERIES_GENRES)),
                  author_index=rng.randrange(1 << 30), publisher=rng.choice(PUBLISHERS),
                  first_published=_RECENT + timedelta(days=rng.randrange(5 * 365)))


def _title(rng: random.Random, genre: str, topic: str) -> tuple[str, str | None]:
    if genre in NONFICTION_TOPICS:
        pattern = rng.randrange(6)
        if pattern == 0:
            return f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}", f"{topic} in {rng.choice(PLACES)}"
        if pattern == 1:
            adjective = rng.choice(ADJECTIVES).lower()
            return topic, f"{'An' if adjective[0] in 'aeiou' else 'A'} {adjective} history"
        if pattern == 2:
            return f"On {topic}", None
        if pattern == 3:
            return f"{rng.choice(GUIDES)} {topic[0].lower() + topic[1:] if topic.startswith('The ') else topic}", None
        if pattern == 4:
            return f"{topic} and the {rng.choice(NOUNS)}", None
        return f"The {rng.choice(NOUNS)} Years", f"{topic}, from {rng.choice(PLACES)} to Here"
    a, n, n2, p = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(NOUNS), rng.choice(PLACES)
    who, plural = rng.choice(PEOPLE), rng.choice(PLURALS)
    pattern = rng.randrange(14)
    title = [
        f"The {a} {n}", f"{n} of {p}", f"The {who}'s {rng.choice(KIN_NOUNS)}", f"A {a} {n} in {p}",
        f"The {n} and the {n2}", f"{a} {plural}", f"When the {n} {rng.choice(VERBS)}",
        f"The {n} at the End of the {rng.choice(ENDS)}", f"{rng.choice(GUIDES)} {a} {plural}",
        f"What the {rng.choice((n, who))} {rng.choice(VERBS)}", f"Notes from the {rng.choice(HOUSES)} House",
        f"All the {a} {plural}", f"The {a} {who} of {p}", f"The {who} of {p}",
    ][pattern]
    subtitle = "A Novel" if rng.random() < 0.08 else None
    return title, subtitle


def _published(rng: random.Random, genre: str) -> date:
    """Mostly the last dozen years, some older; Classics mostly old."""
    if genre == "Classics" or rng.random() < 0.12:
        return _EPOCH + timedelta(days=rng.randrange((_RECENT - _EPOCH).days))
    return _RECENT + timedelta(days=rng.randrange((_LAST - _RECENT).days))


def author_pool(rng: random.Random, size: int) -> list[str]:
    """`size` distinct author names, the same ones for the same random state (and Faker version)."""
    first = list(PersonNames.first_names)
    last = list(PersonNames.last_names)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < size:
        name = f"{rng.choice(first)} {rng.choice(last)}"
        if rng.random() < 0.15:
            name = f"{rng.choice(first)} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {rng.choice(last)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def book_rows(indexes: Iterable[int], seed: int, author_ids: list[int], author_names: dict[int, str],
              genre_ids: list[int], genre_names: dict[int, str]) -> Iterator[dict[str, Any]]:
    """Book rows with their author/genre ids (`_authors`, `_genres`) and opening stock (`_on_hand`), one per
    index; deterministic for (seed, index), so any subset of indexes can be made again alone."""
    by_name = {name: genre_id for genre_id, name in genre_names.items()}
    blocks: dict[int, Series | None] = {}
    for index in indexes:
        rng = random.Random(seed * 1_000_003 + index)
        block, place = divmod(index, SERIES_BLOCK)
        if block not in blocks:
            blocks = {block: series_of_block(seed, block)}  # indexes come in order: one block at a time
        series = blocks[block]
        if series is not None and (place >= series.length or series.genre not in by_name):
            series = None
        genre_id = by_name[series.genre] if series else rng.choice(genre_ids)
        genre = genre_names[genre_id]
        extra_genre = rng.choice(genre_ids) if rng.random() < 0.25 else None
        topic = rng.choice(NONFICTION_TOPICS.get(genre, ["the world"]))
        title, subtitle = _title(rng, genre, topic)
        authors = [author_ids[series.author_index % len(author_ids)] if series else rng.choice(author_ids)]
        if series is None and rng.random() < 0.12:
            second = rng.choice(author_ids)
            if second != authors[0]:
                authors.append(second)
        price = rng.choice(_PRICES)
        stock_roll = rng.random()
        on_hand = 0 if stock_roll < 0.08 else (rng.randint(1, 3) if stock_roll < 0.2 else rng.randint(4, 40))
        names = ", ".join(author_names[a] for a in authors)
        number = place + 1 if series else None
        low, high = _PAGES.get(FAMILY.get(genre, ""), (160, 640))
        hardcover = rng.random() < (0.45 if genre in ("Children's", "History", "Biography", "Cookery") else 0.25)
        yield {
            "isbn13": isbn_for(seed, index),
            "title": title,
            "subtitle": subtitle,
            "description": description(rng, genre, title, author_names[authors[0]], topic,
                                       (series.name, place + 1) if series else None),
            "language": rng.choices(_LANGUAGES, cum_weights=_LANGUAGE_CUM_WEIGHTS)[0],
            "pages": rng.randint(low, high),
            "publisher": series.publisher if series else rng.choice(PUBLISHERS),
            "published_on": (series.first_published + timedelta(days=place * 380 + rng.randrange(60))
                             if series else _published(rng, genre)),
            "price_cents": price,
            "rental_week_cents": max(199, (price // 5) // 50 * 50 - 1),
            "units_sold": int(rng.paretovariate(1.3)) - 1 if rng.random() < 0.7 else 0,
            "author_names": names,
            "created_at": _CREATED_BASE + timedelta(minutes=index),
            "format": "hardcover" if hardcover else "paperback",
            "series_name": series.name if series else None,
            "series_number": number,
            "_authors": authors,
            "_genres": [genre_id] + ([extra_genre] if extra_genre and extra_genre != genre_id else []),
            "_on_hand": on_hand,
        }
