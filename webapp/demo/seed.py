"""Deterministic demo data: books, authors, genres, stock and demo accounts.

`generate(count, seed)` yields plausible books from word lists (Faker's name lists
for authors). Writes are bulk: PostgreSQL uses COPY (and rebuilds secondary indexes
after a large load, as pg_restore does); other databases use executemany. Every
book's opening stock is written to the stock ledger. Re-running with the same seed
inserts nothing twice: books are keyed by ISBN, which is a function of (seed, index).
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

from faker.providers.person.en_US import Provider as PersonNames
from sqlalchemy import func, insert, select, text

from ..extensions import db
from ..models import Author, Book, BookAuthor, Genre, Inventory, StockMovement, User, book_genres, slugify
from ..services.catalog.isbn import isbn13_from_body
from ..services.people.passwords import hash_password

log = logging.getLogger(__name__)

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

DEMO_USERS = [
    # (role, username, email, password, full name)
    ("customer", "reader", "reader@folio.test", "reader-demo-pass-2026", "Demo Reader"),
    ("admin", "admin", "admin@folio.test", "admin-demo-pass-2026", "Demo Admin"),
    ("author", "author", "author@folio.test", "author-demo-pass-2026", "Demo Author"),
]
SALES_HISTORY_DAYS = 90
SALES_HISTORY_ORDERS = 240


@dataclass
class SeedResult:
    books_added: int
    authors_added: int
    seconds: float
    users: list[tuple[str, str, str]]  # (role, login, password) of demo users created


def _isbn_for(seed: int, index: int) -> str:
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


def _author_pool(rng: random.Random, size: int) -> list[str]:
    first = list(PersonNames.first_names)
    last = list(PersonNames.last_names)
    names, seen = [], set()
    while len(names) < size:
        name = f"{rng.choice(first)} {rng.choice(last)}"
        if rng.random() < 0.15:
            name = f"{rng.choice(first)} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {rng.choice(last)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


_LANGUAGES = [code for code, _ in LANGUAGE_WEIGHTS]
_LANGUAGE_CUM_WEIGHTS = list(accumulate(w for _, w in LANGUAGE_WEIGHTS))  # what choices(weights=...) computes
_PRICES = [799, 899, 999, 1099, 1299, 1499, 1699, 1899, 2099, 2499, 2999, 3499, 4500]
_EPOCH = date(1950, 1, 1)
_CREATED_BASE = datetime(2024, 1, 1, tzinfo=UTC)


def generate(count: int, seed: int, author_ids: list[int], author_names: dict[int, str],
             genre_ids: list[int], genre_names: dict[int, str], first_index: int = 0) -> Iterator[dict]:
    """Book rows with their author/genre ids, stock and sales; deterministic for (seed, index)."""
    return _generate(range(first_index, first_index + count), seed, author_ids, author_names, genre_ids, genre_names)


def _generate(indexes, seed: int, author_ids: list[int], author_names: dict[int, str],
              genre_ids: list[int], genre_names: dict[int, str]) -> Iterator[dict]:
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
            "isbn13": _isbn_for(seed, index),
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
    names = _author_pool(rng, size)
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


def ensure_demo_users() -> list[tuple[str, str, str]]:
    created = []
    for role, username, email, password, full_name in DEMO_USERS:
        if db.session.scalar(select(User.id).where(func.lower(User.username) == username)) is None:
            db.session.add(User(username=username, email=email, password_hash=hash_password(password),
                                role=role, full_name=full_name, email_verified_at=datetime.now(UTC)))
            created.append((role, username, password))
    db.session.flush()
    reader = db.session.scalar(select(User).where(func.lower(User.username) == "reader"))
    if reader is not None:  # something to try plans and wallet payments with (once: the reference is unique)
        from ..services.circulation import wallet

        wallet.credit(reader.id, 2500, "adjustment", reference="demo-credit", note="Welcome credit (demo)")
    return created


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

    if db.session.scalar(select(Book.id).limit(1)) is None:  # empty catalog: nothing to skip
        existing: set[str] = set()
        todo = list(range(books))
    else:
        wanted = {_isbn_for(seed_value, i): i for i in range(books)}
        existing = set()
        isbns = list(wanted)
        for start in range(0, len(isbns), 10000):
            existing.update(db.session.scalars(select(Book.isbn13).where(Book.isbn13.in_(isbns[start:start + 10000]))))
        todo = sorted(i for isbn, i in wanted.items() if isbn not in existing)
    say(f"{len(existing)} of {books} books already present; adding {len(todo)}")
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if todo:
        rows = _rows_for(todo, seed_value, author_ids, author_names, genre_ids, genre_names)
        if postgres:
            _write_postgres(rows, len(todo), say)
        else:
            _write_generic(rows, say)
        db.session.commit()
    from ..services.catalog import vocabulary

    terms = vocabulary.rebuild_terms()
    db.session.commit()
    say(f"search vocabulary: {terms} terms")
    if with_users:
        _link_demo_author()
        sold = _ensure_sales_history(random.Random(seed_value))
        db.session.commit()
        if sold:
            say(f"sales history: {sold} past orders over {SALES_HISTORY_DAYS} days")
    if postgres and len(todo) >= BULK_THRESHOLD:
        _vacuum(_BULK_TABLES, say)
    return SeedResult(len(todo), authors_added, time.perf_counter() - started, users)


def _rows_for(indexes, seed_value, author_ids, author_names, genre_ids, genre_names) -> Iterator[dict]:
    return _generate(indexes, seed_value, author_ids, author_names, genre_ids, genre_names)


BOOK_COLUMNS = ["id", "isbn13", "title", "subtitle", "description", "language", "pages", "publisher",
                "published_on", "price_cents", "rental_week_cents", "units_sold", "author_names",
                "created_at", "updated_at", "active"]


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _split(rows: Iterator[dict], first_id: int):
    """Assign ids and split each generated row into rows for each table."""
    for book_id, row in enumerate(rows, start=first_id):
        book = {k: v for k, v in row.items() if not k.startswith("_")}
        book.update(id=book_id, updated_at=row["created_at"], active=True)
        links = [(book_id, author_id, pos) for pos, author_id in enumerate(row["_authors"])]
        genres = [(book_id, g) for g in row["_genres"]]
        yield book, links, genres, row["_on_hand"]


def _write_generic(rows: Iterator[dict], say, chunk: int = 2000) -> None:
    first_id = _next_id(Book)
    buffers: dict[str, list] = {"books": [], "links": [], "genres": [], "inv": [], "ledger": []}

    def flush():
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


# Around a large PostgreSQL load, as pg_restore does: secondary indexes are dropped and rebuilt afterwards, and
# foreign keys on these tables are dropped and re-added (checked once, by a join, instead of row by row).
_BULK_TABLES = ("books", "book_authors", "book_genres", "inventory", "stock_movements")
BULK_THRESHOLD = 50_000


def _write_postgres(rows: Iterator[dict], count: int, say) -> None:
    conn = db.session.connection()
    raw = conn.connection.driver_connection
    indexes: list[tuple[str, str]] = []
    foreign_keys: list[tuple[str, str, str]] = []
    if count >= BULK_THRESHOLD:
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        conn.execute(text("SET LOCAL work_mem = '256MB'"))  # the joins that check the re-added foreign keys
        indexes = [tuple(r) for r in conn.execute(text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ), {"tables": list(_BULK_TABLES)})]
        foreign_keys = [tuple(r) for r in conn.execute(text(
            "SELECT quote_ident(t.relname), quote_ident(c.conname), pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables)"
        ), {"tables": list(_BULK_TABLES)})]
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        for table, name, _ in foreign_keys:
            conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
        say(f"dropped {len(indexes)} secondary indexes and {len(foreign_keys)} foreign keys for the bulk load")
    # The author-name trigger would rewrite each book once per link; the rows already carry the names.
    conn.execute(text("ALTER TABLE book_authors DISABLE TRIGGER folio_book_authors_names"))
    first_id = _next_id(Book)
    now = datetime.now(UTC)
    links, genres, stock = [], [], []
    with raw.cursor() as cur:
        with cur.copy(f"COPY books ({', '.join(BOOK_COLUMNS)}) FROM STDIN") as books_copy:
            write = books_copy.write_row
            for book_id, row in enumerate(rows, start=first_id):
                created = row["created_at"]
                write((book_id, row["isbn13"], row["title"], row["subtitle"], row["description"], row["language"],
                       row["pages"], row["publisher"], row["published_on"], row["price_cents"],
                       row["rental_week_cents"], row["units_sold"], row["author_names"], created, created, True))
                links += [(book_id, author_id, pos) for pos, author_id in enumerate(row["_authors"])]
                genres += [(book_id, g) for g in row["_genres"]]
                stock.append((book_id, row["_on_hand"]))
                if len(stock) % 100_000 == 0:
                    say(f"{len(stock)} books copied")
        say("copying authors, genres, stock and ledger")
        with cur.copy("COPY book_authors (book_id, author_id, position) FROM STDIN") as c:
            for r in links:
                c.write_row(r)
        with cur.copy("COPY book_genres (book_id, genre_id) FROM STDIN") as c:
            for r in genres:
                c.write_row(r)
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


def _vacuum(tables, say) -> None:
    """VACUUM (ANALYZE) after a bulk load: planner statistics, and the visibility map that index-only scans use."""
    t = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    say(f"vacuumed and analyzed {', '.join(tables)} in {time.perf_counter() - t:.1f}s")


def _link_demo_author() -> None:
    """The demo author login writes the catalog's first author (so /author has figures to show)."""
    user = db.session.scalar(select(User).where(func.lower(User.username) == "author"))
    if user is None or db.session.scalar(select(Author.id).where(Author.user_id == user.id)) is not None:
        return
    first = db.session.scalar(select(Author).join(BookAuthor, BookAuthor.author_id == Author.id)
                              .where(Author.user_id.is_(None)).order_by(Author.id).limit(1))
    if first is not None:
        first.user_id = user.id
        db.session.flush()


def _ensure_sales_history(rng: random.Random) -> int:
    """Past orders (paid, shipped, delivered; a few cancelled) by a handful of demo shoppers over the last
    SALES_HISTORY_DAYS days, so the admin home, the reports and the author dashboard have figures on a new
    install. Once only (when the shop has no orders yet). They are history: today's stock counts are the
    seed's, so these sales are not replayed through the stock ledger."""
    from ..models import Order, OrderEvent, OrderLine
    from ..services.commerce import checkout as order_service
    from ..services.insight import reports

    if db.session.scalar(select(Order.id).limit(1)) is not None:
        return 0
    shoppers = []
    for i in range(1, 9):
        username = f"shopper{i:02d}"
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, email=f"{username}@folio.test", password_hash="!demo-no-sign-in",
                        role="customer", full_name=f"Demo Shopper {i}", email_verified_at=datetime.now(UTC))
            db.session.add(user)
        shoppers.append(user)
    db.session.flush()
    books = db.session.execute(select(Book.id, Book.title, Book.isbn13, Book.price_cents, Book.rental_week_cents)
                               .where(Book.active.is_(True)).order_by(Book.id).limit(400)).all()
    if not books:
        return 0
    weights = [1 / (rank + 1) for rank in range(len(books))]  # a few books sell most copies
    now = datetime.now(UTC)
    for _ in range(SALES_HISTORY_ORDERS):
        # more orders lately: the shop is growing
        days_ago = int(SALES_HISTORY_DAYS * (1 - rng.random() ** 0.7))
        paid_at = now - timedelta(days=days_ago, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        if paid_at > now:
            paid_at = now - timedelta(minutes=5)
        user = rng.choice(shoppers)
        picks = rng.choices(books, weights=weights, k=rng.choice((1, 1, 1, 2, 2, 3)))
        lines, subtotal = [], 0
        for book in {b.id: b for b in picks}.values():
            rent = book.rental_week_cents > 0 and rng.random() < 0.15
            days = 7 if rent else None
            unit = book.rental_week_cents if rent else book.price_cents
            lines.append(OrderLine(book_id=book.id, title=book.title, isbn13=book.isbn13,
                                   mode="rent" if rent else "buy", rental_days=days, quantity=1,
                                   unit_cents=unit, line_cents=unit))
            subtotal += unit
        shipping = 0 if subtotal >= 3500 else 499
        roll = rng.random()
        status = "cancelled" if roll < 0.04 else "paid" if days_ago < 2 else "shipped" if days_ago < 6 else "delivered"
        order = Order(number=order_service.new_number(), user_id=user.id, status=status, email=user.email,
                      ship_name=user.full_name or user.username, ship_line1=f"{rng.randint(1, 200)} Harbour Street",
                      ship_city="Springfield", ship_postcode=f"{rng.randint(10000, 99999)}", ship_country="US",
                      subtotal_cents=subtotal, shipping_cents=shipping, total_cents=subtotal + shipping,
                      payment_provider="test", paid_at=paid_at, created_at=paid_at - timedelta(minutes=3),
                      updated_at=paid_at, shipped_at=paid_at + timedelta(days=1) if status in ("shipped", "delivered")
                      else None, delivered_at=paid_at + timedelta(days=4) if status == "delivered" else None,
                      cancelled_at=paid_at + timedelta(hours=2) if status == "cancelled" else None)
        order.lines.extend(lines)
        db.session.add(order)
        db.session.flush()
        db.session.add(OrderEvent(order_id=order.id, status=status, note="Demo sales history.",
                                  created_at=paid_at))
    db.session.flush()
    reports.refresh_rollups(full=True)
    return SALES_HISTORY_ORDERS
