"""Lost rentals: a book that never comes back stops costing late fees and is charged at its price instead.

A daily job (`mark_lost_due`) turns an active rental more than RENTAL_LOST_AFTER_DAYS past its due date, and not
sent back by the customer, into a lost one: the fee becomes the replacement price (the book's price; fees
already paid count towards it), the copy is written off in the stock ledger (reason 'lost': on_hand went down
when it was rented out) and the wallet pays what it can. If the copy comes back later (`found`, from
rentals.mark_returned), all of that is reversed: the copy is back in stock (reason 'found'), the fee is the
capped late fee up to the return, and anything paid beyond it goes back to the wallet.
Status moves go through rental_status.move (conditional UPDATEs within models.orders.RENTAL_TRANSITIONS).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, select

from ...extensions import db
from ...models import Rental, User, utcnow
from ...models.orders import RentalStatus
from ...models.wallet import WalletReason
from ..inventory import stock
from ..platform import audit, locks, mail
from . import fees, rental_status, wallet


def mark_lost_due(now: datetime | None = None, limit: int = 500) -> int:
    """Daily: rentals more than RENTAL_LOST_AFTER_DAYS overdue and not sent back become lost. Commits each one."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(current_app.config["RENTAL_LOST_AFTER_DAYS"]))
    ids = db.session.scalars(select(Rental.id).where(rental_status.overdue_clause(cutoff))
        .order_by(Rental.due_at, Rental.id).limit(limit)).all()
    marked = 0
    for rental_id in ids:
        rental = db.session.get(Rental, rental_id)
        if rental is not None and mark_lost(rental, now=now):
            marked += 1
        db.session.commit()
    return marked


def mark_lost(rental: Rental, *, now: datetime | None = None) -> bool:
    """One rental becomes lost (see the module docstring). False if it changed meanwhile (returned, sent back)."""
    now = now or utcnow()
    locks.customer(rental.user_id)
    db.session.refresh(rental)
    replacement = rental.book.price_cents
    if not rental_status.move(and_(Rental.id == rental.id, Rental.sent_back_at.is_(None), Rental.fee_cents == rental.fee_cents),
                 RentalStatus.ACTIVE, RentalStatus.LOST, lost_at=now, replacement_cents=replacement,
                 fee_cents=max(rental.fee_cents, replacement)):
        return False
    stock.write_off(rental.book_id, reference=f"rental-{rental.id}", note="rented copy not returned")
    if rental.user_id:
        fees.settle(rental.user_id)
    db.session.refresh(rental)
    audit.record("rental.lost", object_type="rental", object_id=rental.id,
                 after={"replacement_cents": replacement, "fee_cents": rental.fee_cents,
                        "fee_paid_cents": rental.fee_paid_cents})
    user = rental_status.customer_on_file(rental)
    if user is not None:
        mail.send_template(user.email, "rental_lost", name=user.display_name, rental=rental,
                           lost_after_days=current_app.config["RENTAL_LOST_AFTER_DAYS"])
    return True


def found(rental: Rental, late_fee_cents: int, *, actor: User, ip: str | None = None,
          now: datetime | None = None) -> bool:
    """A lost rental's copy came back (staff received it): reverse the loss. The fee becomes `late_fee_cents` (the
    capped late fee up to the return); a waiver still counts up to it, and what was paid beyond it is refunded
    to the wallet. The caller holds the customer lock. False if the rental changed meanwhile."""
    now = now or utcnow()
    fee = late_fee_cents
    waived = min(rental.fee_waived_cents, fee)
    paid = min(rental.fee_paid_cents, fee - waived)
    refund = rental.fee_paid_cents - paid
    before = {"status": rental.status, "fee_cents": rental.fee_cents, "fee_paid_cents": rental.fee_paid_cents,
              "fee_waived_cents": rental.fee_waived_cents}
    if not rental_status.move(and_(Rental.id == rental.id, Rental.fee_paid_cents == rental.fee_paid_cents,
                      Rental.fee_waived_cents == rental.fee_waived_cents),
                 RentalStatus.LOST, RentalStatus.RETURNED, returned_at=now, fee_cents=fee, fee_paid_cents=paid,
                 fee_waived_cents=waived):
        return False
    db.session.refresh(rental)
    stock.found(rental.book_id, reference=f"rental-{rental.id}", actor_id=actor.id, note="lost rental returned")
    if refund and rental.user_id:
        wallet.credit(rental.user_id, refund, WalletReason.REFUND, reference=f"rental-{rental.id}/found",
                      note=f"Lost book returned: {rental.book.title}"[:200], actor_id=actor.id)
    if rental.user_id:
        fees.settle(rental.user_id)
        db.session.refresh(rental)
    audit.record("rental.found", actor_id=actor.id, object_type="rental", object_id=rental.id, ip=ip, before=before,
                 after={"status": rental.status, "fee_cents": rental.fee_cents, "fee_paid_cents": rental.fee_paid_cents,
                        "fee_waived_cents": rental.fee_waived_cents, "refunded_cents": refund})
    user = rental_status.customer_on_file(rental)
    if user is not None:
        mail.send_template(user.email, "rental_found", name=user.display_name, rental=rental, refund_cents=refund)
    return True
