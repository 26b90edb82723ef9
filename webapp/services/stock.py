"""Stock: the one place that changes inventory counts, always with a ledger row.

Every change is a single conditional UPDATE, so concurrent callers cannot drive a
count negative or reserve more than is available; the CHECK constraints on
`inventory` are the last line of defence.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from ..extensions import db
from ..models import Inventory, StockMovement


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
        .returning(Inventory.on_hand, Inventory.reserved)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if result is None:
        current = state(book_id)
        raise StockError(f"Cannot remove {-delta}: only {current.available} available.")
    db.session.add(StockMovement(book_id=book_id, on_hand_delta=delta, reason=reason,
                                 reference=reference, note=note, actor_id=actor_id))
    return StockState(*result)


def create_inventory(book_id: int, on_hand: int, *, actor_id: int | None = None,
                     reference: str | None = None) -> None:
    """Start stock for a new book; the opening count is a ledger row too."""
    if on_hand < 0:
        raise StockError("Stock cannot be negative.")
    db.session.add(Inventory(book_id=book_id, on_hand=on_hand, reserved=0))
    if on_hand:
        db.session.add(StockMovement(book_id=book_id, on_hand_delta=on_hand, reason="initial",
                                     reference=reference, actor_id=actor_id))
