"""services.circulation.lost: a rental RENTAL_LOST_AFTER_DAYS overdue becomes lost (replacement price charged,
copy written off in the ledger), and a later return reverses it (copy found, capped late fee, excess refunded)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.checkout_helpers import shopper
from tests.fee_helpers import rental_out, staff
from webapp.models import AuditLog, Inventory, OutboundEmail, Rental, StockMovement, WalletEntry, utcnow
from webapp.services.circulation import fees, lost, rentals, wallet


def _ledger(db, book_id):
    return list(db.session.execute(select(StockMovement.reason, StockMovement.on_hand_delta)
                                   .where(StockMovement.book_id == book_id).order_by(StockMovement.id)))


def _fresh(db, rental):
    db.session.expire_all()
    return db.session.get(Rental, rental.id)


def test_a_rental_becomes_lost_after_n_days_overdue_once(app, db, runner):
    user = shopper("keeper")
    rental = rental_out(user, price_cents=2000)
    wallet.credit(user.id, 500, "adjustment", reference="gift")
    db.session.commit()
    on_hand = db.session.get(Inventory, rental.book_id).on_hand
    rental_id, due_at, user_id, email = rental.id, rental.due_at, user.id, user.email
    with time_machine.travel(due_at + timedelta(days=29), tick=False):
        assert lost.mark_lost_due() == 0  # 30 days is the default
    with time_machine.travel(due_at + timedelta(days=30, hours=1), tick=False):
        result = runner.invoke(args=["jobs", "run", "mark-lost-rentals"])
        assert "'lost': 1" in result.output, result.output
        assert lost.mark_lost_due() == 0  # once
    db.session.expire_all()
    rental = db.session.get(Rental, rental_id)
    assert rental.status == "lost" and rental.lost_at is not None
    assert (rental.replacement_cents, rental.fee_cents, rental.fee_paid_cents, rental.fee_due_cents) == (2000, 2000,
                                                                                                      500, 1500)
    assert db.session.get(Inventory, rental.book_id).on_hand == on_hand  # the copy left at rental_out
    assert _ledger(db, rental.book_id)[-1] == ("lost", 0)
    assert db.session.scalars(select(WalletEntry.reason).where(WalletEntry.user_id == user_id)
                              .order_by(WalletEntry.id)).all() == ["adjustment", "lost_book"]
    assert fees.outstanding(user_id)[0].reason == "Lost book (replacement price)"
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "rental.lost")).object_id == str(rental.id)
    mail = db.session.scalar(select(OutboundEmail).where(OutboundEmail.recipient == email,
                                                         OutboundEmail.subject.contains("lost")))
    assert "$20.00" in mail.body_text and "$15.00 is still due" in mail.body_text
    assert "Lost" in rentals.ADMIN_VIEWS.values()
    assert [r.id for r in rentals.admin_list("lost").items] == [rental.id]


def test_a_rental_sent_back_or_returned_is_never_lost(app, db):
    user = shopper("sender")
    rental = rental_out(user)
    rental.sent_back_at = rental.due_at + timedelta(days=1)
    db.session.commit()
    with time_machine.travel(rental.due_at + timedelta(days=60), tick=False):
        assert lost.mark_lost_due() == 0
    assert _fresh(db, rental).status == "active"


def test_returned_after_lost_reverses_it_and_refunds_the_excess(app, db, monkeypatch):
    user = shopper("finder")
    rental = rental_out(user, price_cents=2000)
    wallet.credit(user.id, 5000, "adjustment", reference="gift")
    db.session.commit()
    on_hand = db.session.get(Inventory, rental.book_id).on_hand
    with time_machine.travel(rental.due_at + timedelta(days=31), tick=False):
        assert lost.mark_lost_due() == 1
    assert _fresh(db, rental).fee_paid_cents == 2000 and wallet.balance(user.id) == 3000
    monkeypatch.setitem(app.config, "LATE_FEE_PER_DAY_CENTS", 40)
    with time_machine.travel(rental.due_at + timedelta(days=34, hours=3), tick=False):
        fee = rentals.mark_returned(_fresh(db, rental), actor=staff(), ip="10.0.0.2")
        db.session.commit()
    assert fee == 35 * 40  # 1400: the capped late fee up to the return
    rental = _fresh(db, rental)
    assert (rental.status, rental.fee_cents, rental.fee_paid_cents, rental.fee_due_cents) == ("returned", 1400, 1400, 0)
    assert wallet.balance(user.id) == 3600
    refund = db.session.scalar(select(WalletEntry).where(WalletEntry.user_id == user.id, WalletEntry.reason == "refund"))
    assert (refund.amount_cents, refund.reference) == (600, f"rental-{rental.id}/found")
    assert [r for r, _ in _ledger(db, rental.book_id)][-2:] == ["lost", "found"]
    assert db.session.get(Inventory, rental.book_id).on_hand == on_hand + 1
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "rental.found"))
    assert audit.after["refunded_cents"] == 600 and audit.before["status"] == "lost"
    mail = db.session.scalar(select(OutboundEmail).where(OutboundEmail.recipient == user.email,
                                                         OutboundEmail.subject.contains("received")))
    assert "returned $6.00" in mail.body_text
    with pytest.raises(rentals.RentalError):
        rentals.mark_returned(rental, actor=staff())  # only once


def test_lost_with_nothing_paid_then_found_keeps_the_late_fee_due(app, db):
    user = shopper("broke")
    rental = rental_out(user, price_cents=1000)
    with time_machine.travel(rental.due_at + timedelta(days=31), tick=False):
        assert lost.mark_lost_due() == 1
    staff_user = staff()
    assert fees.waive("rental", rental.id, 300, reason="Goodwill", actor=staff_user) == 300
    db.session.commit()
    with time_machine.travel(rental.due_at + timedelta(days=33), tick=False):
        rentals.mark_returned(_fresh(db, rental), actor=staff_user, now=utcnow())
        db.session.commit()
    rental = _fresh(db, rental)
    # late fee 33 x 50 = 1650, capped at the price (1000); the waiver still counts
    assert (rental.fee_cents, rental.fee_waived_cents, rental.fee_paid_cents, rental.fee_due_cents) == (1000, 300, 0, 700)
    assert not db.session.scalar(select(WalletEntry).where(WalletEntry.user_id == user.id))
