"""What a demo book looks like: titles, descriptions, prices, stock and authors from word lists.

Every book is a function of (seed, index) alone, so a re-run with the same seed makes the same books and the
ISBN (also a function of both) tells which already exist. Authors' names come from Faker's name lists: the
same Faker version gives the same authors (the dev requirements pin it).
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

from faker.providers.person.en_US import Provider as PersonNames

from ..services.catalog.isbn import isbn13_from_body

GENRES = [
    "Biography", "Business", "Children's", "Classics", "Cookery", "Crime", "Fantasy", "History",
    "Horror", "Humour", "Literary Fiction", "Mystery", "Philosophy", "Poetry", "Romance",
    "Science", "Science Fiction", "Self-Help", "Thriller", "Travel", "Young Adult",
]
ADJECTIVES = [
    "Silent", "Hidden", "Last", "Golden", "Broken", "Forgotten", "Crimson", "Midnight", "Distant", "Secret",
    "Wild", "Quiet", "Burning", "Frozen", "Lost", "Wandering", "Little", "Endless", "Bright", "Bitter",
    "Hollow", "Restless", "Salt", "Paper", "Glass", "Iron", "Velvet", "Northern", "Sunken", "Painted",
    "Summer", "Winter", "Autumn", "Electric", "Gentle", "Savage", "Lonely", "Curious", "Scarlet", "Silver",
]
NOUNS = [
    "River", "Garden", "House", "Kingdom", "Night", "Sea", "Letter", "Orchard", "Mountain", "City",
    "Island", "Harbour", "Library", "Clock", "Forest", "Storm", "Crown", "Mirror", "Lantern", "Bridge",
    "Road", "Daughter", "Son", "Stranger", "Widow", "Thief", "Keeper", "Map", "Song", "Tide",
    "Sky", "Fire", "Heart", "Shadow", "Star", "Field", "Room", "Window", "Door", "Winter",
    "Compass", "Atlas", "Feather", "Engine", "Archive", "Witness", "Pilgrim", "Cartographer", "Apprentice", "Orphan",
]
PLACES = [
    "Lisbon", "Avalon", "Prague", "the North", "Kyoto", "Marrakesh", "the Marsh", "Vienna", "the Valley",
    "Alexandria", "Samarkand", "the Coast", "Oxford", "Havana", "the Moor", "Venice", "Patagonia", "Galway",
]
NONFICTION_TOPICS = {
    "Biography": ["A Life", "The Making of a Rebel", "Letters and Lives", "An Unlikely Hero"],
    "Business": ["Strategy", "Leadership", "Small Shops", "Negotiation", "Markets"],
    "Cookery": ["Bread", "Spice", "Vegetables", "One Pot", "Baking", "Fermentation"],
    "History": ["Empires", "The Silk Road", "Revolutions", "The Medieval World", "Trade and Power"],
    "Philosophy": ["Ethics", "Meaning", "Reason", "Freedom", "The Good Life"],
    "Science": ["The Cosmos", "Genes", "Quantum Worlds", "Climate", "The Brain", "Evolution"],
    "Self-Help": ["Habits", "Focus", "Calm", "Courage", "Better Sleep"],
    "Travel": ["Slow Roads", "Islands", "Mountain Paths", "Rail Journeys", "Coastlines"],
}
PUBLISHERS = [
    "Harbour & Finch", "Lanternlight Press", "Quill House", "Northgate Books", "Marigold Editions",
    "Blue Heron Publishing", "Oakleaf & Stone", "Meridian Press", "Copperplate Books", "Tidewater House",
    "Juniper Lane", "Foxglove Press", "Saltmarsh Books", "Greyhound Editions", "Kestrel & Wren",
]
DESCRIPTION_OPENERS = [
    "A {adj} story of {noun_l}s and second chances.",
    "When a {noun_l} disappears, nothing in {place} is safe.",
    "The acclaimed new {genre_l} novel about memory, loss and a {adj_l} {noun_l}.",
    "An unforgettable journey from {place} to the edge of the world.",
    "Told in {n} voices, this is a book about family, secrets and the {adj_l} {noun_l}.",
    "A clear, lively guide to {topic_l} for curious readers.",
]
DESCRIPTION_MIDDLES = [
    "Moving and wise, it asks what we owe to the people we leave behind.",
    "Sharp, funny and full of heart.",
    "Readers will not be able to put it down.",
    "It is the kind of book you press into a friend's hands.",
    "Meticulously researched and beautifully written.",
    "A page-turner with a twist you will not see coming.",
]
LANGUAGE_WEIGHTS = [("en", 80), ("de", 4), ("es", 4), ("fr", 4), ("it", 2), ("nl", 2), ("pt", 2), ("sv", 1), ("pl", 1)]

_LANGUAGES = [code for code, _ in LANGUAGE_WEIGHTS]
_LANGUAGE_CUM_WEIGHTS = list(accumulate(w for _, w in LANGUAGE_WEIGHTS))  # what choices(weights=...) computes
_PRICES = [799, 899, 999, 1099, 1299, 1499, 1699, 1899, 2099, 2499, 2999, 3499, 4500]
_EPOCH = date(1950, 1, 1)
_CREATED_BASE = datetime(2024, 1, 1, tzinfo=UTC)


def isbn_for(seed: int, index: int) -> str:
    """The book's key: re-seeding finds it by this ISBN and adds nothing twice."""
    body = (seed * 7_919_993 + index) % 1_000_000_000
    return isbn13_from_body(f"978{body:09d}")


def _title(rng: random.Random, genre: str) -> tuple[str, str | None]:
    if genre in NONFICTION_TOPICS:
        topic = rng.choice(NONFICTION_TOPICS[genre])
        pattern = rng.randrange(4)
        if pattern == 0:
            return f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}", f"{topic} in {rng.choice(PLACES)}"
        if pattern == 1:
            return topic, f"A {rng.choice(ADJECTIVES).lower()} history"
        if pattern == 2:
            return f"On {topic}", None
        return f"{topic} and the {rng.choice(NOUNS)}", None
    a, n, n2, p = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(NOUNS), rng.choice(PLACES)
    pattern = rng.randrange(8)
    title = [
        f"The {a} {n}", f"{n} of {p}", f"The {n}'s {n2}", f"A {a} {n} in {p}",
        f"The {n} and the {n2}", f"{a} {n}s", f"When the {n} {rng.choice(['Falls', 'Sleeps', 'Burns', 'Returns'])}",
        f"The {n2} at the End of the {n}",
    ][pattern]
    subtitle = "A Novel" if rng.random() < 0.08 else None
    return title, subtitle


def _description(rng: random.Random, genre: str) -> str:
    opener = rng.choice(DESCRIPTION_OPENERS).format(
        adj=rng.choice(ADJECTIVES), adj_l=rng.choice(ADJECTIVES).lower(), noun_l=rng.choice(NOUNS).lower(),
        place=rng.choice(PLACES), genre_l=genre.lower(), n=rng.choice(["two", "three", "four"]),
        topic_l=rng.choice(NONFICTION_TOPICS.get(genre, ["the world"])).lower(),
    )
    return f"{opener} {rng.choice(DESCRIPTION_MIDDLES)}"


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
    for index in indexes:
        rng = random.Random(seed * 1_000_003 + index)
        genre_id = rng.choice(genre_ids)
        genre = genre_names[genre_id]
        extra_genre = rng.choice(genre_ids) if rng.random() < 0.25 else None
        title, subtitle = _title(rng, genre)
        authors = [rng.choice(author_ids)]
        if rng.random() < 0.12:
            second = rng.choice(author_ids)
            if second != authors[0]:
                authors.append(second)
        price = rng.choice(_PRICES)
        stock_roll = rng.random()
        on_hand = 0 if stock_roll < 0.08 else (rng.randint(1, 3) if stock_roll < 0.2 else rng.randint(4, 40))
        yield {
            "isbn13": isbn_for(seed, index),
            "title": title,
            "subtitle": subtitle,
            "description": _description(rng, genre),
            "language": rng.choices(_LANGUAGES, cum_weights=_LANGUAGE_CUM_WEIGHTS)[0],
            "pages": rng.randint(96, 880),
            "publisher": rng.choice(PUBLISHERS),
            "published_on": _EPOCH + timedelta(days=rng.randrange(76 * 365)),
            "price_cents": price,
            "rental_week_cents": max(199, (price // 5) // 50 * 50 - 1),
            "units_sold": int(rng.paretovariate(1.3)) - 1 if rng.random() < 0.7 else 0,
            "author_names": ", ".join(author_names[a] for a in authors),
            "created_at": _CREATED_BASE + timedelta(minutes=index),
            "_authors": authors,
            "_genres": [genre_id] + ([extra_genre] if extra_genre and extra_genre != genre_id else []),
            "_on_hand": on_hand,
        }
