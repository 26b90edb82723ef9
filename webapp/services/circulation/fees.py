"""Fees: the one place for what a customer owes on rentals (late fees, lost books) and holds (no-show fees).

A rental's late fee is the started days overdue times LATE_FEE_PER_DAY_CENTS, never more than the cap
(RENTAL_FEE_CAP_PCT of the book's price). What is due on a fee row is fee - paid - waived; the rows' CHECK
constraint keeps paid + waived <= fee. Money arriving in the wallet (a top-up, a refund, a cancelled order,
a "Pay now") pays what is due through `settle`, oldest first; staff may `waive` all or part of a fee.

Every payment is one conditional UPDATE of the fee row (on the paid amount it was read with) and one wallet
debit with a reference unique per payment, under the customer lock: two calls at once pay a fee once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, update

from ...extensions import db
from ...models import Hold, Rental, User, WalletEntry
from ...models.orders import RentalStatus
from ...models.wallet import WalletReason
from ..people import accounts
from ..platform import audit, dml, locks, mail
from ..platform.money import money
from . import holds, wallet

KINDS = ("rental", "hold")


class FeeError(ValueError):
    """A fee change that is not possible (nothing due, amount too large, no reason); the message is for staff."""


@dataclass(frozen=True)
class FeeItem:
    """One fee with something still due, as the customer and staff see it."""

    kind: str  # "rental" | "hold"
    id: int
    title: str
    fee_cents: int
    paid_cents: int
    waived_cents: int
    due_cents: int
    reason: str  # in words: "Late return", "Lost book (replacement price)", "Held copy not collected"
    when: datetime | None  # when the fee arose (returned, lost, hold closed)

    @property
    def created(self) -> datetime | None:
        return self.when


# ---- the rules ----

def cap_cents(price_cents: int) -> int:
    """The most a rental's late fee may reach: RENTAL_FEE_CAP_PCT of the book's price."""
    return max(0, price_cents) * int(current_app.config["RENTAL_FEE_CAP_PCT"]) // 100


def late_fee_cents(rental: Rental, days: int) -> int:
    """The late fee for `days` started days overdue: LATE_FEE_PER_DAY_CENTS a day, never above the cap."""
    return min(max(0, days) * int(current_app.config["LATE_FEE_PER_DAY_CENTS"]), cap_cents(rental.book.price_cents))


# ---- reading ----

LOST_REASON, LATE_REASON, HOLD_REASON = "Lost book (replacement price)", "Late return", "Held copy not collected"


def _rental_reason(rental: Rental) -> str:
    return LOST_REASON if rental.status == RentalStatus.LOST else LATE_REASON


def outstanding(user_id: int) -> list[FeeItem]:
    """The customer's fees with something still due, oldest first."""
    fresh = {"populate_existing": True}  # rows already loaded may predate a conditional UPDATE: read them anew
    rentals = db.session.scalars(select(Rental).where(
        Rental.user_id == user_id, Rental.fee_cents > Rental.fee_paid_cents + Rental.fee_waived_cents)
        .execution_options(**fresh)).all()
    held = db.session.scalars(select(Hold).where(
        Hold.user_id == user_id, Hold.fee_cents > Hold.fee_paid_cents + Hold.fee_waived_cents)
        .execution_options(**fresh)).all()
    items = [FeeItem("rental", r.id, r.book.title, r.fee_cents, r.fee_paid_cents, r.fee_waived_cents,
                     r.fee_due_cents, _rental_reason(r), r.lost_at or r.returned_at or r.due_at) for r in rentals]
    items += [FeeItem("hold", h.id, h.book.title, h.fee_cents, h.fee_paid_cents, h.fee_waived_cents,
                      h.fee_cents - h.fee_paid_cents - h.fee_waived_cents, HOLD_REASON,
                      h.closed_at or h.expires_at) for h in held]
    return sorted(items, key=lambda i: (i.when is None, i.when or datetime.min, i.kind, i.id))


def total_due(user_id: int) -> int:
    """All the customer still owes in fees (rentals and holds), in cents."""
    rentals = db.session.scalar(select(func.coalesce(func.sum(
        Rental.fee_cents - Rental.fee_paid_cents - Rental.fee_waived_cents), 0)).where(Rental.user_id == user_id))
    return int(rentals or 0) + holds.unpaid_fees_cents(user_id)


def item(user_id: int, kind: str, item_id: int) -> FeeItem | None:
    """One of the customer's fees with something due, or None."""
    return next((i for i in outstanding(user_id) if i.kind == kind and i.id == item_id), None)


# ---- paying ----

def _model(kind: str) -> type[Rental] | type[Hold]:
    if kind not in KINDS:
        raise FeeError(f"Unknown fee kind: {kind!r}.")
    return Rental if kind == "rental" else Hold


def _wallet_reason(fee: FeeItem) -> str:
    if fee.kind == "hold":
        return WalletReason.HOLD_FEE
    return WalletReason.LOST_BOOK if fee.reason == LOST_REASON else WalletReason.LATE_FEE


def _reference(user_id: int, fee: FeeItem) -> str:
    """`rental-12/pay-3`: the n-th payment on this fee. Counted under the customer lock, so each payment has
    its own; a twin call that slipped past the lock gets the same one, and the wallet applies it once."""
    prefix = f"{fee.kind}-{fee.id}/pay-"
    done = db.session.scalar(select(func.count()).select_from(WalletEntry).where(
        WalletEntry.user_id == user_id, WalletEntry.reference.like(prefix + "%"))) or 0
    return f"{prefix}{done + 1}"


def _pay(user_id: int, fee: FeeItem, cents: int) -> bool:
    """Pay `cents` of one fee from the wallet: the fee row moves only from the paid amount we read, and the
    debit must go through; otherwise neither happens (savepoint). True if paid."""
    model = _model(fee.kind)
    reference = _reference(user_id, fee)
    try:
        with db.session.begin_nested():
            moved = dml.changed(update(model).where(
                model.id == fee.id, model.user_id == user_id, model.fee_paid_cents == fee.paid_cents,
                model.fee_paid_cents + model.fee_waived_cents + cents <= model.fee_cents)
                .values(fee_paid_cents=model.fee_paid_cents + cents).execution_options(synchronize_session=False))
            if not moved:
                raise _Skip
            reason = _wallet_reason(fee)
            if wallet.entry_for(user_id, reason, reference) is not None:  # already used: never a free payment
                raise _Skip
            entry = wallet.debit(user_id, cents, reason, reference=reference, note=f"{fee.reason}: {fee.title}"[:200])
            if entry.amount_cents != -cents:  # a twin wrote it meanwhile (the wallet kept the first): not ours
                raise _Skip
    except (_Skip, wallet.InsufficientFunds):
        return False
    loaded = db.session.identity_map.get(db.session.identity_key(model, fee.id))
    if loaded is not None:  # a row the caller holds shows the payment on its next read
        db.session.expire(loaded, ["fee_paid_cents"])
    return True


class _Skip(Exception):
    """Undo this one payment (the fee changed meanwhile, or the wallet could not pay)."""


def settle(user_id: int) -> int:
    """Pay what is due from the wallet, oldest fee first, as far as the balance goes (a fee may be paid in part).
    Takes the customer lock; the caller commits. Returns the cents paid."""
    locks.customer(user_id)
    paid = 0
    for fee in outstanding(user_id):
        cents = min(fee.due_cents, wallet.balance(user_id))
        if cents <= 0:
            break
        if _pay(user_id, fee, cents):
            paid += cents
    return paid


def pay_now(user_id: int, kind: str | None = None, item_id: int | None = None) -> tuple[int, int]:
    """The customer's "Pay now" from the wallet, for all their fees or for one: (paid, still due in all).
    Raises FeeError if that one fee is not theirs or has nothing due."""
    if kind is None or item_id is None:
        paid = settle(user_id)
        return paid, total_due(user_id)
    locks.customer(user_id)
    fee = item(user_id, kind, item_id)
    if fee is None:
        raise FeeError("Nothing is due on this fee.")
    cents = min(fee.due_cents, wallet.balance(user_id))
    paid = cents if cents > 0 and _pay(user_id, fee, cents) else 0
    return paid, total_due(user_id)


# ---- waiving (staff) ----

def waive(kind: str, item_id: int, cents: int, *, reason: str, actor: User, ip: str | None = None) -> int:
    """Staff let the customer off `cents` of one fee (all or part of what is due), with a reason: one conditional
    UPDATE (the CHECK on paid + waived <= fee backs it), audited, and the customer emailed. Returns the cents."""
    model = _model(kind)
    reason = (reason or "").strip()
    if not reason:
        raise FeeError("Give a reason for waiving the fee.")
    if isinstance(cents, bool) or not isinstance(cents, int) or cents <= 0:
        raise FeeError("Enter an amount above zero.")
    row: Rental | Hold | None = db.session.get(Rental, item_id) if kind == "rental" else db.session.get(Hold, item_id)
    if row is None or row.user_id is None:
        raise FeeError("No such fee.")
    locks.customer(row.user_id)
    db.session.refresh(row)
    due = row.fee_cents - row.fee_paid_cents - row.fee_waived_cents
    if due <= 0:
        raise FeeError("Nothing is due on this fee.")
    if cents > due:
        raise FeeError(f"Only {money(due)} is due on this fee.")
    before = {"fee_cents": row.fee_cents, "fee_paid_cents": row.fee_paid_cents, "fee_waived_cents": row.fee_waived_cents}
    if not dml.changed(update(model).where(
            model.id == item_id, model.fee_waived_cents == row.fee_waived_cents,
            model.fee_paid_cents + model.fee_waived_cents + cents <= model.fee_cents)
            .values(fee_waived_cents=model.fee_waived_cents + cents).execution_options(synchronize_session=False)):
        raise FeeError("This fee changed meanwhile; please reload.")
    db.session.refresh(row)
    audit.record("fee.waived", actor_id=actor.id, object_type=kind, object_id=item_id, ip=ip, before=before,
                 after={"fee_waived_cents": row.fee_waived_cents, "waived_cents": cents}, note=reason[:500])
    customer = accounts.reachable(row.user_id)
    if customer is not None:
        mail.send_template(customer.email, "fee_waived", name=customer.display_name, title=row.book.title,
                           cents=cents, reason=reason, still_due_cents=total_due(customer.id))
    return cents
