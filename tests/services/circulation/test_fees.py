"""services.circulation.fees: the cap, settling from the wallet (oldest first, in part, once), money arriving
(top-up, refund, cancelled order) paying fees, a plan's card payment left alone, and waivers."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.checkout_helpers import paid_order, shopper
from tests.factories import make_book
from tests.fee_helpers import late_return, rental_out, staff
from webapp.models import AuditLog, Charge, Hold, OutboundEmail, Rental, WalletEntry, utcnow
from webapp.services.circulation import fees, rentals, subscriptions, wallet
from webapp.services.commerce import charges, orders, test_gateway


def _urls():
    return dict(success_url=lambda c: f"/account/payments/{c.reference}", cancel_url=lambda c: "/account/rentals")


def _entries(db, user):
    db.session.expire_all()
    return [(e.reason, e.amount_cents, e.reference) for e in db.session.scalars(
        select(WalletEntry).where(WalletEntry.user_id == user.id).order_by(WalletEntry.id))]


def _pay_charge(db, charge):
    assert test_gateway.TestGateway().pay(charge.payment_session_id, "4242424242424242", 12, 2099, "123") is None
    db.session.commit()
    charges.confirm_from_provider(charge)
    db.session.commit()


def test_late_fee_is_capped_at_the_books_price(app, db, monkeypatch):
    user = shopper("capped")
    rental = rental_out(user, price_cents=1200)
    with time_machine.travel(rental.due_at + timedelta(days=40), tick=False):
        assert rentals.overdue_days(rental) == 40  # 40 x 50 = 2000 uncapped
        assert rentals.accrued_fee_cents(rental) == 1200
        monkeypatch.setitem(app.config, "RENTAL_FEE_CAP_PCT", 50)
        assert rentals.accrued_fee_cents(rental) == 600
        assert rentals.mark_returned(rental, actor=staff()) == 600
        db.session.commit()
    assert db.session.get(Rental, rental.id).fee_cents == 600


def test_settle_pays_oldest_first_in_part_and_once(app, db):
    user = shopper("owes")
    first = late_return(user, days_late=4, title="First")  # 200
    second = late_return(user, days_late=6, title="Second")  # 300, returned later
    assert fees.total_due(user.id) == 500
    assert [(i.kind, i.id, i.due_cents) for i in fees.outstanding(user.id)] == [("rental", first.id, 200),
                                                                                 ("rental", second.id, 300)]
    wallet.credit(user.id, 250, "adjustment", reference="gift")
    assert fees.settle(user.id) == 250
    db.session.commit()
    assert fees.settle(user.id) == 0  # a second call finds an empty wallet: nothing twice
    db.session.commit()
    db.session.expire_all()
    assert (db.session.get(Rental, first.id).fee_due_cents, db.session.get(Rental, second.id).fee_due_cents) == (0, 250)
    wallet.credit(user.id, 1000, "adjustment", reference="gift2")
    assert fees.pay_now(user.id) == (250, 0)
    db.session.commit()
    assert _entries(db, user) == [
        ("adjustment", 250, "gift"), ("late_fee", -200, f"rental-{first.id}/pay-1"),
        ("late_fee", -50, f"rental-{second.id}/pay-1"), ("adjustment", 1000, "gift2"),
        ("late_fee", -250, f"rental-{second.id}/pay-2")]
    assert wallet.balance(user.id) == 750 and fees.total_due(user.id) == 0
    assert rentals.rental_block_reason(user) is None


def test_hold_no_show_fees_are_settled_too(app, db):
    user = shopper("noshow")
    book = make_book("Held", on_hand=0)
    db.session.add(Hold(user_id=user.id, book_id=book.id, status="expired", priority=2, fee_cents=300,
                        closed_at=utcnow()))
    db.session.commit()
    hold = db.session.scalars(select(Hold)).one()
    assert fees.outstanding(user.id)[0].reason == "Held copy not collected"
    assert "settle your late fees ($3.00)" in rentals.rental_block_reason(user)
    wallet.credit(user.id, 1000, "adjustment", reference="gift")
    assert fees.settle(user.id) == 300
    db.session.commit()
    assert _entries(db, user)[-1] == ("hold_fee", -300, f"hold-{hold.id}/pay-1")
    assert db.session.get(Hold, hold.id).fee_paid_cents == 300


def test_a_top_up_pays_the_fees_it_can(app, db):
    user = shopper("topper")
    rental = late_return(user, days_late=10)  # 500 due
    with time_machine.travel(utcnow() + timedelta(days=2), tick=False):
        charge, _ = charges.start(user, "top_up", 600, **_urls())
        db.session.commit()
        _pay_charge(db, charge)
    assert db.session.get(Rental, rental.id).fee_due_cents == 0
    assert wallet.balance(user.id) == 100
    assert [r for r, _, _ in _entries(db, user)] == ["top_up", "late_fee"]
    mail = db.session.scalar(select(OutboundEmail).where(OutboundEmail.recipient == user.email,
                                                         OutboundEmail.subject.contains("added to your")))
    assert "$5.00 of it paid the fees you owed" in mail.body_text


def test_paying_fees_by_card_is_a_top_up_of_exactly_what_is_due(app, db):
    user = shopper("cardfee")
    late_return(user, days_late=2)  # 100: below the top-up minimum
    with pytest.raises(charges.ChargeError, match="changed meanwhile"):
        charges.start(user, "top_up", 150, for_fees=True, **_urls())
    charge, _ = charges.start(user, "top_up", 100, for_fees=True, **_urls())
    db.session.commit()
    _pay_charge(db, charge)
    assert db.session.get(Charge, charge.id).status == "paid"
    assert fees.total_due(user.id) == 0 and wallet.balance(user.id) == 0
    with pytest.raises(charges.ChargeError, match="no fees"):
        charges.start(user, "top_up", 100, for_fees=True, **_urls())


def test_a_plan_paid_by_card_is_not_eaten_by_fees(app, db):
    user = shopper("planner")
    late_return(user, days_late=2)  # 100 due
    charge, _ = charges.start(user, "subscription", 799, tier="plus", **_urls())
    db.session.commit()
    _pay_charge(db, charge)
    assert subscriptions.tier_of(user).name == "plus"
    assert fees.total_due(user.id) == 100 and wallet.balance(user.id) == 0


def test_a_refund_to_the_wallet_pays_fees(app, db, run_jobs):
    user = shopper("refundee")
    rental = late_return(user, days_late=3)  # 150 due
    order = paid_order(db, run_jobs, user, make_book("Bought", on_hand=2, price_cents=1000))
    assert order.status == "paid"
    with time_machine.travel(utcnow() + timedelta(days=1), tick=False):
        orders.cancel(order, actor=staff(), refund_to="wallet", reason="Changed my mind")
        db.session.commit()
    assert db.session.get(Rental, rental.id).fee_due_cents == 0
    assert wallet.balance(user.id) == order.total_cents - 150
    assert [r for r, _, _ in _entries(db, user)][-2:] == ["refund", "late_fee"]


def test_waive_part_then_the_rest_with_reasons(app, db):
    user = shopper("lucky")
    clerk = staff()
    rental = late_return(user, days_late=4)  # 200
    with pytest.raises(fees.FeeError, match="reason"):
        fees.waive("rental", rental.id, 50, reason="  ", actor=clerk)
    with pytest.raises(fees.FeeError, match="Only \\$2.00"):
        fees.waive("rental", rental.id, 500, reason="x", actor=clerk)
    assert fees.waive("rental", rental.id, 50, reason="Post was slow", actor=clerk, ip="10.0.0.1") == 50
    db.session.commit()
    assert fees.total_due(user.id) == 150
    assert fees.waive("rental", rental.id, 150, reason="Goodwill", actor=clerk) == 150
    db.session.commit()
    with pytest.raises(fees.FeeError, match="Nothing is due"):
        fees.waive("rental", rental.id, 1, reason="again", actor=clerk)
    db.session.rollback()
    row = db.session.get(Rental, rental.id)
    assert (row.fee_waived_cents, row.fee_due_cents) == (200, 0)
    audits = db.session.scalars(select(AuditLog).where(AuditLog.action == "fee.waived").order_by(AuditLog.id)).all()
    assert [(a.note, a.after["waived_cents"], a.actor_id) for a in audits] == [("Post was slow", 50, clerk.id),
                                                                               ("Goodwill", 150, clerk.id)]
    mails = db.session.scalars(select(OutboundEmail.body_text).where(OutboundEmail.recipient == user.email,
                                                                     OutboundEmail.subject.contains("waived"))
                                .order_by(OutboundEmail.id)).all()
    assert len(mails) == 2 and "You owe no fees now." in mails[1]


def test_a_payment_reference_already_used_is_never_a_free_payment(app, db):
    """If the wallet already holds an entry with the reference a payment would use, the payment is not counted."""
    user = shopper("dup")
    rental = late_return(user, days_late=2)
    wallet.credit(user.id, 500, "adjustment", reference="gift")
    db.session.commit()
    item = fees.outstanding(user.id)[0]
    ref = fees._reference(user.id, item)
    assert ref == f"rental-{rental.id}/pay-1"
    wallet.debit(user.id, 7, "late_fee", reference=ref)  # someone used it (a twin that slipped the lock)
    db.session.commit()
    # The count now says pay-2, so the real payment goes through under its own reference.
    assert fees.settle(user.id) == 100
    db.session.commit()
    assert _entries(db, user)[-1] == ("late_fee", -100, f"rental-{rental.id}/pay-2")


def test_a_reused_reference_of_the_same_amount_pays_nothing(app, db, monkeypatch):
    """A payment whose reference the wallet already holds, even for the same amount, is not counted: the fee row
    and the balance stay as they were (the wallet would hand back the old entry without debiting)."""
    user = shopper("twin")
    rental = late_return(user, days_late=2)  # 100 due
    wallet.credit(user.id, 500, "adjustment", reference="gift")
    wallet.debit(user.id, 100, "late_fee", reference="taken")
    db.session.commit()
    monkeypatch.setattr(fees, "_reference", lambda user_id, fee: "taken")
    assert fees.settle(user.id) == 0
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Rental, rental.id).fee_paid_cents == 0 and wallet.balance(user.id) == 400


def test_a_wallet_part_returned_by_an_expired_checkout_pays_fees(app, db):
    from tests.checkout_helpers import ADDRESS
    from webapp.services.commerce import cart, checkout, fulfilment

    user = shopper("expirer")
    rental = rental_out(user)
    wallet.credit(user.id, 1000, "adjustment", reference="gift")
    db.session.commit()
    items: list = []
    cart.add(items, make_book("Wanted", on_hand=2, price_cents=1500).id, user=user)
    order, _url = checkout.start_checkout(user, items, ADDRESS, code=None, use_wallet=True,
                                          success_url=lambda o: "s", cancel_url=lambda o: "c")
    db.session.commit()
    assert order.wallet_cents == 1000 and wallet.balance(user.id) == 0
    with time_machine.travel(rental.due_at + timedelta(days=3, hours=1), tick=False):
        assert rentals.mark_returned(rental, actor=staff()) == 200  # the wallet is empty: all of it due
        db.session.commit()
        assert fees.total_due(user.id) == 200
        assert fulfilment.expire_order(order, "The payment session expired.") != "already"
        db.session.commit()
    assert fees.total_due(user.id) == 0 and wallet.balance(user.id) == 800
    assert [r for r, _, _ in _entries(db, user)][-2:] == ["cancellation", "late_fee"]
