"""Stock: the one place that changes inventory counts, always with a ledger row.

Every change is a single conditional UPDATE, so concurrent callers cannot drive a
count negative or reserve more than is available; the CHECK constraints on
`inventory` are the last line of defence.

When copies become available (a restock, a return, a released reservation) the listeners registered with
`on_copies_freed` are told, in the same transaction: the holds queue takes them first. Circulation sits above
inventory, so it is wired in at app start (services.connect) rather than called from here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select, update

from ...extensions import db
from ...models import Inventory, StockMovement
from . import alerts

CopiesFreedListener = Callable[[int], object]
_copies_freed_listeners: list[CopiesFreedListener] = []


class StockError(Exception):
    """A stock change that would break the rules (e.g. below zero)."""


@dataclass(frozen=True)
class StockState:
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def state(book_id: int) -> StockState:
    row = db.session.execute(
        select(Inventory.on_hand, Inventory.reserved).where(Inventory.book_id == book_id)
    ).one_or_none()
    return StockState(*row) if row else StockState(0, 0)


def adjust(book_id: int, delta: int, reason: str, *, actor_id: int | None = None,
           reference: str | None = None, note: str | None = None) -> StockState:
    """Add `delta` (may be negative) to on-hand stock. Never lets available stock go below zero."""
    if delta == 0:
        raise StockError("A stock change must not be zero.")
    result = db.session.execute(
        update(Inventory)
        .where(Inventory.book_id == book_id, Inventory.on_hand - Inventory.reserved + delta >= 0)
        .values(on_hand=Inventory.on_hand + delta)
        .returning(Inventory.on_hand, Inventory.reserved, Inventory.low_stock_threshold)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if result is None:
        current = state(book_id)
        raise StockError(f"Cannot remove {-delta}: only {current.available} available.")
    on_hand, reserved, threshold = result
    db.session.add(StockMovement(book_id=book_id, on_hand_delta=delta, reason=reason,
                                 reference=reference, note=note, actor_id=actor_id))
    _watch(book_id, on_hand - reserved - delta, on_hand - reserved, threshold)
    if delta > 0:
        _copies_freed(book_id)
        return state(book_id)
    return StockState(on_hand, reserved)


def write_off(book_id: int, *, reference: str, actor_id: int | None = None, note: str | None = None) -> None:
    """A rented copy will not come back (lost): a ledger row only, as on_hand already went down at rental_out."""
    db.session.add(StockMovement(book_id=book_id, on_hand_delta=0, reason="lost", reference=reference, note=note,
                                 actor_id=actor_id))


def found(book_id: int, *, reference: str, actor_id: int | None = None, note: str | None = None) -> StockState:
    """A copy written off as lost came back after all: on the shelf again (or to the next hold)."""
    return adjust(book_id, 1, "found", actor_id=actor_id, reference=reference, note=note)


def _watch(book_id: int, before: int, after: int, threshold: int | None) -> None:
    """Available stock moved: raise or close the book's low-stock alert when it crosses the threshold."""
    alerts.crossed(book_id, before, after, threshold)


def on_copies_freed(listener: CopiesFreedListener) -> None:
    """Call `listener(book_id)` whenever copies of a book become available, synchronously in the same transaction,
    in the order registered (services.connect registers the holds queue's allocation). Registering the same
    listener again does nothing, so building several apps in one process does not allocate twice."""
    if listener not in _copies_freed_listeners:
        _copies_freed_listeners.append(listener)


def _copies_freed(book_id: int) -> None:
    """Copies became available: the listeners (the book's holds queue first) take what they need."""
    for listener in list(_copies_freed_listeners):
        listener(book_id)


def create_inventory(book_id: int, on_hand: int, *, actor_id: int | None = None,
                     reference: str | None = None) -> None:
    """Start stock for a new book; the opening count is a ledger row too."""
    if on_hand < 0:
        raise StockError("Stock cannot be negative.")
    db.session.add(Inventory(book_id=book_id, on_hand=on_hand, reserved=0))
    if on_hand:
        db.session.add(StockMovement(book_id=book_id, on_hand_delta=on_hand, reason="initial",
                                     reference=reference, actor_id=actor_id))


class SoldOut(StockError):
    """Not enough available stock for one of the lines; nothing was reserved."""

    def __init__(self, book_id: int, wanted: int, available: int) -> None:
        self.book_id, self.wanted, self.available = book_id, wanted, available
        super().__init__(f"Only {available} available (wanted {wanted}).")


def _merged(lines: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(book_id, quantity) summed per book and sorted by book id: a fixed lock order, so no deadlocks."""
    totals: dict[int, int] = {}
    for book_id, quantity in lines:
        if quantity <= 0:
            raise StockError("Quantities must be positive.")
        totals[book_id] = totals.get(book_id, 0) + quantity
    return sorted(totals.items())


def reserve(lines: Iterable[tuple[int, int]], *, reference: str, actor_id: int | None = None) -> None:
    """Set copies aside for a checkout: all lines or none (the caller rolls back on SoldOut).

    Each line is one conditional UPDATE, so two checkouts can never both take the last copy."""
    for book_id, quantity in _merged(lines):
        done = db.session.execute(
            update(Inventory)
            .where(Inventory.book_id == book_id, Inventory.on_hand - Inventory.reserved >= quantity)
            .values(reserved=Inventory.reserved + quantity)
            .returning(Inventory.on_hand, Inventory.reserved, Inventory.low_stock_threshold)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if done is None:
            raise SoldOut(book_id, quantity, state(book_id).available)
        db.session.add(StockMovement(book_id=book_id, reserved_delta=quantity, reason="reserve",
                                     reference=reference, actor_id=actor_id))
        after = done.on_hand - done.reserved
        _watch(book_id, after + quantity, after, done.low_stock_threshold)


def release(lines: Iterable[tuple[int, int]], *, reference: str, actor_id: int | None = None,
            reallocate: bool = True) -> None:
    """Give reserved copies back (checkout expired or cancelled, hold closed). The freed copies go to the
    book's holds queue first, unless `reallocate` is False (the caller passes them on itself)."""
    for book_id, quantity in _merged(lines):
        done = db.session.execute(
            update(Inventory)
            .where(Inventory.book_id == book_id, Inventory.reserved >= quantity)
            .values(reserved=Inventory.reserved - quantity)
            .returning(Inventory.on_hand, Inventory.reserved, Inventory.low_stock_threshold)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if done is None:
            raise StockError(f"Book {book_id}: cannot release {quantity} reserved copies.")
        db.session.add(StockMovement(book_id=book_id, reserved_delta=-quantity, reason="release",
                                     reference=reference, actor_id=actor_id))
        after = done.on_hand - done.reserved
        _watch(book_id, after - quantity, after, done.low_stock_threshold)
        if reallocate:
            _copies_freed(book_id)


def commit(lines: Iterable[tuple[int, int]], *, reference: str, reason: str = "sale") -> None:
    """Reserved copies leave the shop (sold, or rented out): on_hand and reserved both go down."""
    for book_id, quantity in _merged(lines):
        done = db.session.execute(
            update(Inventory)
            .where(Inventory.book_id == book_id, Inventory.reserved >= quantity, Inventory.on_hand >= quantity)
            .values(reserved=Inventory.reserved - quantity, on_hand=Inventory.on_hand - quantity)
            .returning(Inventory.book_id)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if done is None:
            raise StockError(f"Book {book_id}: {quantity} copies were not reserved.")
        db.session.add(StockMovement(book_id=book_id, on_hand_delta=-quantity, reserved_delta=-quantity,
                                     reason=reason, reference=reference))


def available_map(book_ids: Iterable[int]) -> dict[int, int]:
    """Available copies (on_hand - reserved) for many books in one query."""
    ids = list(set(book_ids))
    if not ids:
        return {}
    rows = db.session.execute(select(Inventory.book_id, Inventory.available).where(Inventory.book_id.in_(ids)))
    found = dict(rows.all())
    return {i: found.get(i, 0) for i in ids}
