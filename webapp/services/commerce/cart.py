"""The cart: lines to buy or rent, kept in the session for visitors and in the database for
signed-in shoppers (merged at sign-in). Quantities are capped by available stock; every view
of the cart is priced afresh by services.commerce.pricing and reports what changed since the shopper
last looked (price or stock)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from ...extensions import db
from ...models import LINE_MODES, Book, BookAuthor, CartLine, LineMode, User, utcnow
from ..circulation import holds, rentals, subscriptions
from ..inventory import stock
from ..platform import locks, upsert
from ..platform.money import money
from . import pricing

MODES = LINE_MODES


class CartError(ValueError):
    pass


@dataclass
class CartItem:
    book_id: int
    mode: str = LineMode.BUY  # a LineMode value
    quantity: int = 1
    days: int = 7
    seen_unit_cents: int = 0

    @property
    def key(self) -> tuple[int, str]:
        return (self.book_id, self.mode)


@dataclass
class LineView:
    item: CartItem
    book: Book
    unit_cents: int
    line_cents: int
    available: int


@dataclass
class CartView:
    lines: list[LineView]
    quote: pricing.Quote
    changes: list[str] = field(default_factory=list)
    code: str | None = None

    @property
    def count(self) -> int:
        return sum(line.item.quantity for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines


# ---- persistence (a signed-in shopper's saved cart) ----
# Changes from several tabs at once must each apply exactly once: a change locks the customer's row first
# (load_user_items(lock=True), held until commit), and writes are upserts of what changed plus deletes of
# what left, so even an unlocked writer can never hit uq_cart_lines_user_book_mode.

def lock_user_cart(user_id: int) -> None:
    """Serialise changes to one customer's saved cart: the same user-row lock as holds and checkout take."""
    locks.customer(user_id)


def load_user_items(user_id: int, *, lock: bool = False) -> list[CartItem]:
    """The saved cart. `lock=True` is for a change: the customer's row is locked first, until commit."""
    if lock:
        lock_user_cart(user_id)
    rows = db.session.execute(select(CartLine.book_id, CartLine.mode, CartLine.quantity, CartLine.rental_days,
                                     CartLine.seen_unit_cents)
                              .where(CartLine.user_id == user_id).order_by(CartLine.id))
    return [CartItem(*row) for row in rows]


def save_user_items(user_id: int, items: list[CartItem], *, before: list[CartItem] | None = None) -> None:
    """Store `items` as the saved cart. With `before` (what was loaded) only the difference is written: new
    or changed lines upserted, lines that left deleted. Without it, every saved line not in `items` goes."""
    keys = {i.key for i in items}
    if before is None:
        old_keys = {(b, m) for b, m in db.session.execute(
            select(CartLine.book_id, CartLine.mode).where(CartLine.user_id == user_id))}
        changed = items
    else:
        old_keys = {i.key for i in before}
        was = {i.key: i for i in before}
        changed = [i for i in items if was.get(i.key) != i]
    _delete_lines(user_id, old_keys - keys)
    _upsert_lines(user_id, changed)


def remove_user_lines(user_id: int, keys: set[tuple[int, str]]) -> None:
    """Drop the given (book_id, mode) lines from a signed-in customer's saved cart (e.g. once an order
    for them is paid), under the same lock as any other cart change. Lines not in the cart are ignored."""
    lock_user_cart(user_id)
    _delete_lines(user_id, set(keys))


def _delete_lines(user_id: int, keys: set[tuple[int, str]]) -> None:
    if keys:
        db.session.execute(delete(CartLine)
                           .where(CartLine.user_id == user_id,
                                  tuple_(CartLine.book_id, CartLine.mode).in_(sorted(keys)))
                           .execution_options(synchronize_session=False))


def _upsert_lines(user_id: int, items: list[CartItem]) -> None:
    """INSERT ... ON CONFLICT (user_id, book_id, mode) DO UPDATE, in key order (so two writers lock the
    same rows in the same order); added_at keeps the first time the line was added."""
    if not items:
        return
    now = utcnow()
    stmt = upsert.insert(CartLine).values([
        {"user_id": user_id, "book_id": i.book_id, "mode": i.mode, "quantity": i.quantity,
         "rental_days": i.days, "seen_unit_cents": i.seen_unit_cents, "added_at": now}
        for i in sorted(items, key=lambda i: i.key)])
    stmt = stmt.on_conflict_do_update(
        index_elements=[CartLine.user_id, CartLine.book_id, CartLine.mode],
        set_={"quantity": stmt.excluded.quantity, "rental_days": stmt.excluded.rental_days,
              "seen_unit_cents": stmt.excluded.seen_unit_cents})
    db.session.execute(stmt)


def to_session(items: list[CartItem]) -> list[dict[str, Any]]:
    return [asdict(i) for i in items]


def from_session(data: Iterable[dict[str, Any]] | None) -> list[CartItem]:
    """The cart a visitor's session holds (as written by to_session)."""
    items = []
    for raw in data or []:
        try:
            item = CartItem(int(raw["book_id"]), str(raw["mode"]), int(raw["quantity"]), int(raw.get("days", 7)),
                            int(raw.get("seen_unit_cents", 0)))
        except (KeyError, TypeError, ValueError):
            continue  # a damaged session entry is dropped, never a crash
        if item.mode in MODES and item.quantity > 0:
            items.append(item)
    return items


# ---- reading ----

def _books(book_ids: Iterable[int]) -> dict[int, Book]:
    ids = list(set(book_ids))
    if not ids:
        return {}
    stmt = (select(Book).where(Book.id.in_(ids))
            .options(selectinload(Book.author_links).joinedload(BookAuthor.author), joinedload(Book.inventory)))
    return {b.id: b for b in db.session.scalars(stmt).unique()}


def view(items: list[CartItem], *, user: User | None = None, code: str | None = None,
         acknowledge: bool = False, delivery_method: str = "post") -> CartView:
    """Price the cart now (shipping by `delivery_method`: "post" or "collect"). Lines whose book is gone are
    dropped; quantities above what is available are lowered. Each change is reported once; `acknowledge`
    records what was seen."""
    books = _books(i.book_id for i in items)
    available = _available(books, user)
    changes: list[str] = []
    lines: list[LineView] = []
    used: dict[int, int] = {}
    for item in list(items):
        book = books.get(item.book_id)
        if book is None or not book.active:
            changes.append("A book in your cart is no longer sold and was removed.")
            items.remove(item)
            continue
        left = available.get(book.id, 0) - used.get(book.id, 0)
        if left <= 0:
            changes.append(f"“{book.title}” is out of stock and was removed from your cart.")
            items.remove(item)
            continue
        if item.quantity > left:
            changes.append(f"Only {left} of “{book.title}” left: we lowered the quantity from {item.quantity}.")
            item.quantity = left
        used[book.id] = used.get(book.id, 0) + item.quantity
        unit = pricing.unit_cents(book, item.mode, item.days)
        if item.seen_unit_cents and item.seen_unit_cents != unit:
            direction = "went up" if unit > item.seen_unit_cents else "went down"
            changes.append(f"The price of “{book.title}” {direction} from {money(item.seen_unit_cents)} "
                           f"to {money(unit)}.")
        if acknowledge or not item.seen_unit_cents:
            item.seen_unit_cents = unit
        lines.append(LineView(item, book, unit, unit * item.quantity, available.get(book.id, 0)))
    quote = pricing.quote([line.line_cents for line in lines], user=user, code=code,
                          purchase_cents=sum(line.line_cents for line in lines if line.item.mode == LineMode.BUY),
                          delivery_method=delivery_method)
    return CartView(lines=lines, quote=quote, changes=changes, code=code)


# ---- changing ----

def _available(book_ids: Iterable[int], user: User | None) -> dict[int, int]:
    """Copies this shopper can have: what is on sale plus any copy set aside for them by a hold."""
    available = stock.available_map(book_ids)
    if user is not None and getattr(user, "is_authenticated", False):
        for book_id, held in holds.ready_map(user.id, available).items():
            available[book_id] += held
    return available


def _cap(book: Book, items: list[CartItem], exclude: CartItem | None, wanted: int,
         user: User | None = None) -> tuple[int, str | None]:
    """The quantity allowed for a line, and a message when it had to be lowered."""
    max_line = current_app.config["MAX_QUANTITY_PER_LINE"]
    other = sum(i.quantity for i in items if i.book_id == book.id and i is not exclude)
    left = _available([book.id], user)[book.id] - other
    if left <= 0:
        return 0, f"Sorry, “{book.title}” is out of stock."
    allowed = min(wanted, left, max_line)
    if allowed < wanted:
        if allowed == left:
            return allowed, f"Only {left} left of “{book.title}”."
        return allowed, f"You can order up to {max_line} copies of one book, so the quantity is {allowed}."
    return allowed, None


def _book(book_id: int) -> Book:
    book = db.session.get(Book, book_id)
    if book is None or not book.active:
        raise CartError("That book is not available.")
    return book


def rental_days_limit(user: User | None) -> int:
    """The longest loan this shopper may choose: their plan's, or the longest any plan allows for a
    visitor (checked against their plan at checkout)."""
    if user is not None and getattr(user, "is_authenticated", False):
        return subscriptions.tier_of(user).max_rental_days
    return subscriptions.max_rental_days()


def _days(days: int, user: User | None) -> int:
    maximum = rental_days_limit(user)
    if not 1 <= days <= maximum:
        raise CartError(f"Rentals are 1 to {maximum} days on your plan." if user is not None
                        else f"Rentals are 1 to {maximum} days.")
    return days


def add(items: list[CartItem], book_id: int, *, mode: str = LineMode.BUY, quantity: int = 1, days: int = 7,
        user: User | None = None) -> str | None:
    """Add copies; returns a notice when the quantity had to be capped. Raises CartError."""
    if mode not in MODES:
        raise CartError("Choose to buy or to rent.")
    if quantity < 1:
        raise CartError("Quantity must be at least 1.")
    book = _book(book_id)
    if mode == LineMode.RENT:
        days = _days(days, user)
        if not book.rental_week_cents:
            raise CartError("This book is not available to rent.")
    existing = next((i for i in items if i.key == (book_id, mode)), None)
    current = existing.quantity if existing else 0
    allowed, notice = _cap(book, items, existing, current + quantity, user)
    if allowed <= current:  # not one more copy could be added
        raise CartError(notice or "No more copies available.")
    if existing is None:
        items.append(CartItem(book_id, mode, allowed, days, pricing.unit_cents(book, mode, days)))
    else:
        existing.quantity = allowed
        if mode == LineMode.RENT:
            existing.days = days
            existing.seen_unit_cents = pricing.unit_cents(book, mode, days)
    return notice


def update(items: list[CartItem], book_id: int, mode: str, *, quantity: int | None = None,
           days: int | None = None, new_mode: str | None = None, user: User | None = None) -> str | None:
    """Change a line's quantity, loan length or mode (folding into the other line of that mode); returns a
    notice when the quantity had to be capped. Raises CartError."""
    item = next((i for i in items if i.key == (book_id, mode)), None)
    if item is None:
        raise CartError("That book is not in your cart.")
    book = _book(book_id)
    notice = None
    if new_mode and new_mode != item.mode:
        if new_mode not in MODES:
            raise CartError("Choose to buy or to rent.")
        if new_mode == LineMode.RENT and not book.rental_week_cents:
            raise CartError("This book is not available to rent.")
        twin = next((i for i in items if i.key == (book_id, new_mode)), None)
        if twin is not None:  # fold into the existing line of that kind
            twin.quantity += item.quantity
            items.remove(item)
            item = twin
        else:
            item.mode = new_mode
        if item.mode == LineMode.RENT:
            item.days = min(item.days, rental_days_limit(user))
        item.seen_unit_cents = pricing.unit_cents(book, item.mode, item.days)
    if days is not None and item.mode == LineMode.RENT:
        item.days = _days(days, user)
        item.seen_unit_cents = pricing.unit_cents(book, item.mode, item.days)
    if quantity is not None:
        if quantity < 0:
            raise CartError("Quantity cannot be negative.")
        if quantity == 0:
            items.remove(item)
            return None
        item.quantity, notice = _cap(book, items, item, quantity, user)
        if item.quantity == 0:
            items.remove(item)
    return notice


def rental_problem(items: list[CartItem], user: User | None) -> str | None:
    """Why the shopper's plan does not allow the rentals in this cart, or None: the very rule checkout applies
    (rentals.allowance_problem: no overdue book or unpaid fee, loan length, books at once), asked when a rental
    is added and on the cart page so that the shopper hears it there, not first at payment. Visitors: None (their
    plan is known once they sign in; checkout asks again)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    rented = [(i.book_id, i.quantity, i.days) for i in items if i.mode == LineMode.RENT]
    return rentals.allowance_problem(user, rented) if rented else None


def remove(items: list[CartItem], book_id: int, mode: str) -> None:
    items[:] = [i for i in items if i.key != (book_id, mode)]


def merge(into: list[CartItem], other: list[CartItem], user: User | None = None) -> None:
    """Fold a visitor's cart into the shopper's saved cart at sign-in (quantities add up, capped; rental
    lengths cut to the shopper's plan)."""
    for item in other:
        days = min(item.days, rental_days_limit(user)) if item.mode == LineMode.RENT else item.days
        try:
            add(into, item.book_id, mode=item.mode, quantity=item.quantity, days=days, user=user)
        except CartError:
            continue
