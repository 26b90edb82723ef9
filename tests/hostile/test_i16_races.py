"""Issue 16, hostile races on real PostgreSQL (one connection per thread, released together): "Pay now" from two
tabs racing a staff waiver and a top-up; "received" pressed twice on a lost rental; the lost job racing itself
and staff receiving the copy. Invariants read back: paid + waived <= fee, the wallet ledger sums to the balance,
no payment reference twice, one refund, one write-off."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.checkout_helpers import shopper
from tests.concurrency import race
from tests.conftest import using_postgres
from tests.fee_helpers import late_return, rental_out, staff
from webapp.models import Rental, StockMovement, User, WalletEntry

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                                                 "SQLite serialises writers")


def _invariants(db, user_id: int, rental_id: int) -> Rental:
    db.session.expire_all()
    rental = db.session.get(Rental, rental_id)
    assert rental.fee_paid_cents + rental.fee_waived_cents <= rental.fee_cents
    assert rental.fee_paid_cents >= 0 and rental.fee_waived_cents >= 0
    entries = db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user_id)).all()
    assert sum(e.amount_cents for e in entries) == db.session.scalar(
        select(User.wallet_balance_cents).where(User.id == user_id))
    assert all(e.balance_after_cents >= 0 for e in entries)
    refs = [e.reference for e in entries]
    assert len(refs) == len(set(refs)), refs
    paid = -sum(e.amount_cents for e in entries if e.reason in ("late_fee", "lost_book"))
    assert paid == rental.fee_paid_cents  # every cent paid on the row came out of the wallet, once
    return rental


@pytest.mark.parametrize("round_", range(3))
def test_two_pay_nows_a_waiver_and_a_top_up_at_once(app, db, round_):
    user = shopper(f"tabs{round_}")
    rental = late_return(user, days_late=10)  # 500 due
    clerk = staff()
    from webapp.services.circulation import wallet

    wallet.credit(user.id, 200, "adjustment", reference="gift")
    db.session.commit()
    user_id, rental_id, clerk_id = user.id, rental.id, clerk.id

    def work(i: int):
        from webapp.extensions import db as tdb
        from webapp.services.circulation import fees
        from webapp.services.circulation import wallet as twallet

        actor = tdb.session.get(User, clerk_id)
        if i < 2:
            return lambda: fees.pay_now(user_id, "rental", rental_id)
        if i == 2:
            return lambda: fees.pay_now(user_id)
        if i == 3:
            return lambda: fees.waive("rental", rental_id, 150, reason="goodwill", actor=actor)

        def top_up():
            twallet.credit(user_id, 400, "top_up", reference=f"topup-{round_}")
            fees.settle(user_id)
        return top_up

    outcomes = race(app, work, 5)
    assert all(o == "ok" or o.startswith("FeeError") for o in outcomes), outcomes
    rental = _invariants(db, user_id, rental_id)
    assert rental.fee_cents == 500
    waived = 150 if sum(o == "ok" for o in outcomes) == 5 or rental.fee_waived_cents else 0
    assert rental.fee_waived_cents == waived
    # 600 came in; what was due after the waiver is paid as far as the money goes
    assert rental.fee_paid_cents == min(600, 500 - waived)


@pytest.mark.parametrize("round_", range(2))
def test_received_twice_at_once_on_a_lost_rental_refunds_once(app, db, round_):
    from webapp.services.circulation import lost, wallet

    user = shopper(f"found{round_}")
    rental = rental_out(user, price_cents=2000)
    wallet.credit(user.id, 5000, "adjustment", reference="gift")
    clerk = staff()
    db.session.commit()
    with time_machine.travel(rental.due_at + timedelta(days=31), tick=False):
        assert lost.mark_lost_due() == 1
    user_id, rental_id, clerk_id, book_id = user.id, rental.id, clerk.id, rental.book_id

    def work(i: int):
        from webapp.extensions import db as tdb
        from webapp.services.circulation import rentals

        row = tdb.session.get(Rental, rental_id)
        actor = tdb.session.get(User, clerk_id)
        return lambda: rentals.mark_returned(row, actor=actor)

    outcomes = race(app, work, 3)
    assert sum(o == "ok" for o in outcomes) == 1, outcomes
    assert all(o == "ok" or o.startswith("RentalError") for o in outcomes), outcomes
    rental = _invariants_found(db, user_id, rental_id)
    assert rental.status == "returned"
    assert db.session.scalar(select(func.count()).select_from(StockMovement).where(
        StockMovement.book_id == book_id, StockMovement.reason == "found")) == 1


def _invariants_found(db, user_id: int, rental_id: int) -> Rental:
    db.session.expire_all()
    rental = db.session.get(Rental, rental_id)
    entries = db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user_id)).all()
    assert sum(1 for e in entries if e.reason == "refund") == 1
    assert sum(e.amount_cents for e in entries) == db.session.scalar(
        select(User.wallet_balance_cents).where(User.id == user_id))
    charged = -sum(e.amount_cents for e in entries if e.reason in ("late_fee", "lost_book"))
    refunded = sum(e.amount_cents for e in entries if e.reason == "refund")
    assert charged - refunded == rental.fee_paid_cents
    assert rental.fee_paid_cents + rental.fee_waived_cents <= rental.fee_cents
    return rental


@pytest.mark.parametrize("round_", range(2))
def test_the_lost_job_twice_and_staff_receiving_at_once(app, db, round_):
    from webapp.services.circulation import wallet

    user = shopper(f"lostrace{round_}")
    rental = rental_out(user, price_cents=2000)
    wallet.credit(user.id, 5000, "adjustment", reference="gift")
    clerk = staff()
    db.session.commit()
    user_id, rental_id, clerk_id, book_id = user.id, rental.id, clerk.id, rental.book_id
    when = rental.due_at + timedelta(days=31)

    def work(i: int):
        from webapp.extensions import db as tdb
        from webapp.services.circulation import lost, rentals

        if i < 2:
            return lambda: lost.mark_lost_due(now=when)
        row = tdb.session.get(Rental, rental_id)
        actor = tdb.session.get(User, clerk_id)
        return lambda: rentals.mark_returned(row, actor=actor, now=when)

    outcomes = race(app, work, 3)
    assert outcomes == ["ok"] * 3, outcomes
    db.session.expire_all()
    rental = db.session.get(Rental, rental_id)
    assert rental.status == "returned"  # the copy is in the shop whichever came first
    moves = db.session.scalars(select(StockMovement.reason).where(
        StockMovement.book_id == book_id, StockMovement.reason.in_(("lost", "found", "return")))).all()
    assert sorted(moves) in (["return"], ["found", "lost"]), moves
    entries = db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user_id)).all()
    assert sum(e.amount_cents for e in entries) == db.session.scalar(
        select(User.wallet_balance_cents).where(User.id == user_id))
    charged = -sum(e.amount_cents for e in entries if e.reason in ("late_fee", "lost_book"))
    refunded = sum(e.amount_cents for e in entries if e.reason == "refund")
    assert charged - refunded == rental.fee_paid_cents == rental.fee_cents  # the late fee, paid once


@pytest.mark.parametrize("round_", range(2))
def test_comp_and_cancel_now_sent_together_apply_one_and_refund_once(app, db, round_):
    from webapp.models import Subscription, utcnow
    from webapp.services.circulation import plan_staff, subscriptions

    boss = shopper(f"boss{round_}")
    user = shopper(f"planned{round_}")
    start = utcnow() - timedelta(days=6)
    db.session.add(Subscription(user_id=user.id, tier="premium", current_period_start=start,
                                current_period_end=start + timedelta(days=30)))
    db.session.commit()
    shown = plan_staff.stamp(subscriptions.subscription_of(user.id))
    user_id, boss_id = user.id, boss.id

    def work(i: int):
        from webapp.extensions import db as tdb

        actor, customer = tdb.session.get(User, boss_id), tdb.session.get(User, user_id)
        if i % 2:
            return lambda: plan_staff.comp(actor, customer, "plus", 2, seen=shown)
        return lambda: plan_staff.cancel(actor, customer, "now", seen=shown)

    outcomes = race(app, work, 4)
    assert sum(o == "ok" for o in outcomes) == 1, outcomes
    assert all(o == "ok" or o.startswith("SubscriptionError") for o in outcomes), outcomes
    db.session.expire_all()
    entries = db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user_id)).all()
    assert len([e for e in entries if e.reason == "subscription"]) == 1
    assert sum(e.amount_cents for e in entries) == db.session.scalar(
        select(User.wallet_balance_cents).where(User.id == user_id))


@pytest.mark.parametrize("round_", range(3))
def test_resume_racing_a_returned_copy_sets_one_copy_aside_for_one_customer(app, db, round_):
    from tests.factories import make_book
    from webapp.models import Hold, Inventory
    from webapp.services.circulation import hold_dates, holds

    book = make_book(f"Paused {round_}", on_hand=0)
    first, second = shopper(f"first{round_}"), shopper(f"second{round_}")
    db.session.commit()
    one = holds.place(first, book)
    db.session.commit()
    two = holds.place(second, book)
    db.session.commit()
    hold_dates.suspend(one, first, None)
    db.session.commit()
    ids = (one.id, two.id, first.id, book.id)

    def work(i: int):
        from webapp.extensions import db as tdb
        from webapp.services.inventory import stock

        hold, user = tdb.session.get(Hold, ids[0]), tdb.session.get(User, ids[2])
        if i == 0:
            return lambda: hold_dates.resume(hold, user)

        def copy_back():
            stock.adjust(ids[3], 1, "return", reference=f"race-{round_}")
            holds.allocate(ids[3])
        return copy_back

    outcomes = race(app, work, 2)
    assert outcomes == ["ok", "ok"], outcomes
    db.session.expire_all()
    ready = db.session.scalars(select(Hold).where(Hold.book_id == ids[3], Hold.status == "ready")).all()
    inv = db.session.get(Inventory, ids[3])
    assert len(ready) == 1 and (inv.on_hand, inv.reserved) == (1, 1), (ready, inv.on_hand, inv.reserved)
    assert not db.session.get(Hold, ids[0]).is_suspended


@pytest.mark.parametrize("round_", range(3))
def test_a_waiver_a_pay_now_and_received_at_once_on_a_lost_rental(app, db, round_):
    from webapp.services.circulation import lost, wallet

    user = shopper(f"lostmix{round_}")
    rental = rental_out(user, price_cents=2000)
    clerk = staff()
    db.session.commit()
    with time_machine.travel(rental.due_at + timedelta(days=31), tick=False):
        assert lost.mark_lost_due() == 1  # 2000 due, nothing in the wallet
    wallet.credit(user.id, 700, "adjustment", reference="later-gift")  # not settled yet: Pay now will
    db.session.commit()
    user_id, rental_id, clerk_id = user.id, rental.id, clerk.id
    when = rental.due_at + timedelta(days=32)

    def work(i: int):
        from webapp.extensions import db as tdb
        from webapp.services.circulation import fees, rentals

        row, actor = tdb.session.get(Rental, rental_id), tdb.session.get(User, clerk_id)
        if i == 0:
            return lambda: fees.pay_now(user_id, "rental", rental_id)
        if i == 1:
            return lambda: fees.waive("rental", rental_id, 400, reason="goodwill", actor=actor)
        return lambda: rentals.mark_returned(row, actor=actor, now=when)

    outcomes = race(app, work, 3)
    assert all(o == "ok" or o.startswith("FeeError") for o in outcomes), outcomes
    db.session.expire_all()
    rental = db.session.get(Rental, rental_id)
    assert rental.status == "returned" and rental.fee_cents <= 2000
    assert rental.fee_paid_cents + rental.fee_waived_cents <= rental.fee_cents
    entries = db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user_id)).all()
    assert sum(e.amount_cents for e in entries) == db.session.scalar(
        select(User.wallet_balance_cents).where(User.id == user_id)) >= 0
    charged = -sum(e.amount_cents for e in entries if e.reason in ("late_fee", "lost_book"))
    refunded = sum(e.amount_cents for e in entries if e.reason == "refund")
    assert charged - refunded == rental.fee_paid_cents
    assert sum(1 for e in entries if e.reason == "refund") <= 1
    # whatever the order, nothing due is left unpaid while the wallet still holds money
    assert rental.fee_due_cents == 0 or wallet.balance(user_id) == 0
