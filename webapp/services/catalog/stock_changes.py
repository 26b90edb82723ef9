"""Staff changes to a book's stock: a count set (stocktake, edit form, import) and an adjustment with a reason (restock,
damaged, lost ...), each written through services.inventory.stock as one ledger row, plus the ledger staff read back.

Both refuse to go below the copies reserved for checkouts and holds, and both carry the count the person saw, so a
change made meanwhile (a sale, the same form sent twice) is shown to them instead of being applied blindly.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ...extensions import db
from ...models import Book, Inventory, StockMovement, User
from ...models.inventory import MOVEMENT_REASONS
from ..inventory import stock
from ..platform import audit
from .book_values import MAX_STOCK, CatalogError, FieldError, parse_count, parse_text


def set_on_hand(book_id: int, target: int, *, actor_id: int | None, note: str, reference: str | None = None,
                expected: int | None = None) -> int:
    """Set the on-hand count (a stocktake, an inline edit, an import) with one "adjustment" ledger row for the
    difference. Never below the copies reserved for checkouts and holds. `expected` is the count the person saw:
    when stock moved meanwhile (a sale), nothing is changed and they are asked to look again. Returns the delta."""
    row = db.session.execute(select(Inventory.on_hand, Inventory.reserved).where(Inventory.book_id == book_id)
                             .with_for_update()).first()
    if row is None:
        stock.create_inventory(book_id, target, actor_id=actor_id, reference=reference)
        return target
    on_hand, reserved = row
    if expected is not None and on_hand != expected:
        raise CatalogError(f"Stock changed from {expected} to {on_hand} while you were editing; check it and "
                           f"save again.", "stock")
    if target < reserved:
        raise CatalogError(f"{reserved} {'copy is' if reserved == 1 else 'copies are'} reserved for checkouts and "
                           f"holds, so stock on hand cannot go below {reserved}.", "stock")
    delta = target - on_hand
    if delta:
        try:
            stock.adjust(book_id, delta, "adjustment", actor_id=actor_id, reference=reference,
                         note=f"{note} ({on_hand} → {target})")
        except stock.StockError as exc:
            raise CatalogError(str(exc), "stock") from None
    return delta


# Staff reasons for a stock change -> (label, ledger reason in MOVEMENT_REASONS, sign the change must have).
ADJUST_REASONS = {
    "restock": ("Restock", "restock", 1),
    "damaged": ("Damaged", "adjustment", -1),
    "lost": ("Lost", "adjustment", -1),
    "stocktake": ("Stocktake correction", "adjustment", 0),
    "other": ("Other", "adjustment", 0),
}
assert all(reason in MOVEMENT_REASONS for _, reason, _ in ADJUST_REASONS.values())


def adjust_stock(book: Book, raw_delta: object, reason: str, raw_note: object, *, actor_id: int | None,
                 ip: str | None = None, expected_on_hand: object = None) -> stock.StockState:
    """Add or remove copies with a reason and a note (one ledger row). `expected_on_hand` is the count the
    person saw; when stock has moved since (or the same form is sent twice) nothing changes."""
    errors: dict[str, list[str]] = {}
    delta = note = None
    text = "" if raw_delta is None else str(raw_delta).strip()
    try:
        magnitude = parse_count(text.lstrip("+-"), "Change", required=True, maximum=MAX_STOCK)
        delta = -magnitude if text.startswith("-") else magnitude
        if delta == 0:
            raise FieldError("Change must not be zero: use +3 to add copies, -2 to remove them.")
    except FieldError as exc:
        errors["delta"] = [str(exc)]
    if reason not in ADJUST_REASONS:
        errors["reason"] = ["Choose a reason."]
    try:
        note = parse_text(raw_note, "Note", 500, required=True, multiline=True)
    except FieldError as exc:
        errors["note"] = [str(exc)]
    if delta is not None and reason in ADJUST_REASONS:
        label, _, sign = ADJUST_REASONS[reason]
        if sign > 0 and delta < 0:
            errors["delta"] = ["A restock adds copies: use a positive number."]
        elif sign < 0 and delta > 0:
            errors["delta"] = [f"{label} copies are removed: use a negative number, like -1."]
    if errors or delta is None:
        raise CatalogError(errors)
    label, ledger_reason, _ = ADJUST_REASONS[reason]
    before = stock.state(book.id)
    seen = str(expected_on_hand or "").strip()
    if seen.isascii() and seen.isdigit() and len(seen) <= 12 and int(seen) != before.on_hand:
        raise CatalogError({"delta": [f"Stock changed from {int(seen)} to {before.on_hand} on hand since this page "
                                      "was opened (perhaps this change was already sent). Check the ledger below, "
                                      "then send it again if it is still needed."]})
    try:
        after = stock.adjust(book.id, delta, ledger_reason, actor_id=actor_id, note=f"{label}: {note}")
    except stock.StockError as exc:
        raise CatalogError(f"{exc} ({before.reserved} reserved for checkouts and holds).", "delta") from None
    audit.record("admin.book_stock_adjusted", actor_id=actor_id, object_type="book", object_id=book.id,
                 before={"on_hand": before.on_hand}, after={"on_hand": after.on_hand}, ip=ip,
                 note=f"{label} ({delta:+d}): {note}")
    return after


@dataclass(frozen=True)
class LedgerLine:
    created_at: datetime
    on_hand_delta: int
    reserved_delta: int
    reason: str
    reference: str | None
    note: str | None
    actor: str | None


def recent_ledger(book_id: int, limit: int = 20) -> list[LedgerLine]:
    """The book's latest stock movements, newest first, with who made them (shown under the adjustment form)."""
    rows = db.session.execute(
        select(StockMovement.created_at, StockMovement.on_hand_delta, StockMovement.reserved_delta,
               StockMovement.reason, StockMovement.reference, StockMovement.note, User.username)
        .outerjoin(User, User.id == StockMovement.actor_id).where(StockMovement.book_id == book_id)
        .order_by(StockMovement.created_at.desc(), StockMovement.id.desc()).limit(limit))
    return [LedgerLine(*row) for row in rows]
