"""Demo sales history: past orders by a handful of demo shoppers over the last SALES_HISTORY_DAYS days.

So the admin home, the reports and the author dashboard have figures on a new install. Once only (when the
shop has no orders yet). They are history: today's stock counts are the seed's, so these sales are not
replayed through the stock ledger. The shop's history favours its first 400 books, so the demo author (the
`author` login, linked to the catalog's first author) gets orders of their own: AUTHOR_SALES_ORDERS over the
last AUTHOR_SALES_DAYS, some in the last 30 days, added once (their order events carry AUTHOR_SALES_NOTE).
"""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Author, Book, BookAuthor, Order, OrderEvent, OrderLine, User
from ..services.commerce import checkout as order_service
from ..services.insight import rollups

SALES_HISTORY_DAYS = 90
SALES_HISTORY_ORDERS = 240
AUTHOR_SALES_DAYS = 330  # inside the author dashboard's "last 12 months"
AUTHOR_SALES_ORDERS = 48
AUTHOR_SALES_NOTE = "Demo sales of the demo author's books."


def _shoppers() -> list[User]:
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
    return shoppers


def ensure_sales_history(rng: random.Random) -> int:
    """Add SALES_HISTORY_ORDERS past orders (paid, shipped, delivered; a few cancelled) unless the shop has
    orders already, then the demo author's own (ensure_author_sales), and refresh the report rollups; how many
    orders were added."""
    added, author_rng = 0, random.Random(rng.random())  # the same author sales whether the shop's ran or not
    if db.session.scalar(select(Order.id).limit(1)) is None:
        added = _shop_history(rng)
    added += ensure_author_sales(author_rng)
    if added:
        db.session.flush()
        rollups.refresh_rollups(full=True)
    return added


def _shop_history(rng: random.Random) -> int:
    books = db.session.execute(select(*_BOOK_COLUMNS).where(Book.active.is_(True)).order_by(Book.id).limit(400)).all()
    if not books:
        return 0
    shoppers = _shoppers()
    weights = [1 / (rank + 1) for rank in range(len(books))]  # a few books sell most copies
    now = datetime.now(UTC)
    for _ in range(SALES_HISTORY_ORDERS):
        # more orders lately: the shop is growing
        days_ago = int(SALES_HISTORY_DAYS * (1 - rng.random() ** 0.7))
        picks = rng.choices(books, weights=weights, k=rng.choice((1, 1, 1, 2, 2, 3)))
        _order(rng, rng.choice(shoppers), picks, now, days_ago)
    return SALES_HISTORY_ORDERS


def ensure_author_sales(rng: random.Random) -> int:
    """Paid orders of the demo author's books (one or two of them, now and then with another book) spread over
    the last AUTHOR_SALES_DAYS, the first few in the last 30 days. Once (on a shop with history already too):
    nothing when they were added before or there is no demo author with books. How many orders were added."""
    theirs = (select(BookAuthor.book_id).join(Author, Author.id == BookAuthor.author_id)
              .join(User, User.id == Author.user_id).where(User.username == "author"))
    books = db.session.execute(select(*_BOOK_COLUMNS).where(Book.id.in_(theirs), Book.active.is_(True))
                               .order_by(Book.id)).all()
    if not books or db.session.scalar(select(OrderEvent.id).where(OrderEvent.note == AUTHOR_SALES_NOTE).limit(1)):
        return 0
    others = db.session.execute(select(*_BOOK_COLUMNS).where(Book.active.is_(True), Book.id.not_in(theirs))
                                .order_by(Book.id).limit(50)).all()
    shoppers = _shoppers()
    now = datetime.now(UTC)
    for i in range(AUTHOR_SALES_ORDERS):
        days_ago = rng.randint(0, 29) if i < 8 else int(AUTHOR_SALES_DAYS * (1 - rng.random() ** 0.8))
        picks = rng.sample(books, k=min(len(books), rng.choice((1, 1, 2))))
        if others and rng.random() < 0.3:
            picks.append(rng.choice(others))
        _order(rng, rng.choice(shoppers), picks, now, days_ago, note=AUTHOR_SALES_NOTE)
    return AUTHOR_SALES_ORDERS


_BOOK_COLUMNS = (Book.id, Book.title, Book.isbn13, Book.price_cents, Book.rental_week_cents)


def _order(rng: random.Random, user: User, picks: list[Any], now: datetime, days_ago: int,
           note: str = "Demo sales history.") -> None:
    """One past order of these books (one copy each, a few rented), paid `days_ago` days ago."""
    paid_at = now - timedelta(days=days_ago, hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
    if paid_at > now:
        paid_at = now - timedelta(minutes=5)
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
    order.events.append(OrderEvent(status=status, note=note, created_at=paid_at))
    db.session.add(order)  # flushed with the others (ensure_sales_history): one batch, not one round trip each
