"""Plans: subscribe, upgrade (pro rata), downgrade and cancel at period end, renewal from the wallet,
member discounts in the one pricing service, and card payments through gateway charges."""
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from tests.checkout_helpers import pay, settle, shopper, start
from webapp.models import Charge, OutboundEmail, Subscription, WalletEntry, utcnow
from webapp.services.circulation import subscriptions, wallet
from webapp.services.commerce import charges, pricing, test_gateway


def funded(db, name, cents):
    user = shopper(name)
    if cents:
        wallet.credit(user.id, cents, "top_up", reference="opening")
    db.session.commit()
    return user


def subjects(db, user):
    return list(db.session.scalars(select(OutboundEmail.subject).where(OutboundEmail.recipient == user.email)
                                   .order_by(OutboundEmail.id)))


def test_subscribe_from_the_wallet(app, db):
    user = funded(db, "subscriber", 1000)
    assert subscriptions.tier_of(user).name == "free"
    now = utcnow()
    with time_machine.travel(now, tick=False):
        q = subscriptions.change(user, "plus")
        db.session.commit()
    assert (q.kind, q.charge_cents) == ("subscribe", 799)
    sub = db.session.get(Subscription, user.id)
    assert sub.tier == "plus" and sub.current_period_end == now + timedelta(days=30)
    assert wallet.balance(user.id) == 201
    assert subscriptions.tier_of(user).max_rental_days == 7 and subscriptions.tier_of(user).max_books == 5


def test_subscribe_without_funds_changes_nothing(app, db):
    user = funded(db, "broke", 500)
    with pytest.raises(wallet.InsufficientFunds):
        subscriptions.change(user, "premium")
    db.session.rollback()
    assert subscriptions.tier_of(user).name == "free" and wallet.balance(user.id) == 500


def test_upgrade_pays_the_difference_pro_rata(app, db):
    user = funded(db, "upgrader", 5000)
    t0 = utcnow()
    with time_machine.travel(t0, tick=False):
        subscriptions.change(user, "plus")
        db.session.commit()
    with time_machine.travel(t0 + timedelta(days=15), tick=False):
        q = subscriptions.change(user, "premium")
        db.session.commit()
    assert (q.kind, q.charge_cents) == ("upgrade", 350)  # half a period of (14.99 - 7.99)
    sub = db.session.get(Subscription, user.id)
    assert sub.tier == "premium" and sub.current_period_end == t0 + timedelta(days=30)  # same period
    assert wallet.balance(user.id) == 5000 - 799 - 350


def test_downgrade_and_cancel_take_effect_at_period_end(app, db):
    user = funded(db, "downgrader", 5000)
    t0 = utcnow()
    with time_machine.travel(t0, tick=False):
        subscriptions.change(user, "premium")
        q = subscriptions.change(user, "plus")
        db.session.commit()
    assert (q.kind, q.charge_cents) == ("downgrade", 0)
    assert subscriptions.tier_of(user).name == "premium"  # until the period ends
    with time_machine.travel(t0 + timedelta(days=30, minutes=5), tick=False):
        assert subscriptions.renew_due() == {"renewed": 0, "changed": 1, "lapsed": 0}
        assert subscriptions.renew_due() == {"renewed": 0, "changed": 0, "lapsed": 0}  # once per period
    assert subscriptions.tier_of(user).name == "plus" and wallet.balance(user.id) == 5000 - 1499 - 799
    with time_machine.travel(t0 + timedelta(days=31), tick=False):
        assert subscriptions.change(user, "free").kind == "cancel"
        db.session.commit()
    with time_machine.travel(t0 + timedelta(days=60, minutes=5), tick=False):
        assert subscriptions.renew_due()["changed"] == 1
    assert subscriptions.tier_of(user).name == "free" and wallet.balance(user.id) == 5000 - 1499 - 799
    assert subjects(db, user)[-2:] == ["Your Folio plan is now Plus", "Your Folio plan is now Free"]


def test_renewal_charges_once_and_lapses_to_free_when_the_wallet_is_short(app, db):
    user = funded(db, "renewer", 799 * 2 + 100)
    t0 = utcnow()
    with time_machine.travel(t0, tick=False):
        subscriptions.change(user, "plus")
        db.session.commit()
    with time_machine.travel(t0 + timedelta(days=30, hours=1), tick=False):
        assert subscriptions.renew_due()["renewed"] == 1
        assert subscriptions.renew_due()["renewed"] == 0
    assert wallet.balance(user.id) == 100
    renewal_entries = db.session.scalar(select(func.count()).select_from(WalletEntry).where(
        WalletEntry.user_id == user.id, WalletEntry.reason == "subscription"))
    assert renewal_entries == 2
    with time_machine.travel(t0 + timedelta(days=60, hours=1), tick=False):
        assert subscriptions.renew_due() == {"renewed": 0, "changed": 0, "lapsed": 1}
    assert subscriptions.tier_of(user).name == "free" and wallet.balance(user.id) == 100
    assert subjects(db, user)[-1] == "Your Folio Plus plan has ended"


def test_member_discount_on_purchases_only_and_frequent_reader_capped(app, db, make_book):
    user = funded(db, "member", 5000)
    subscriptions.change(user, "premium")
    db.session.commit()
    q = pricing.quote([2000, 1000], user=user, purchase_cents=2000)
    assert (q.member_discount_pct, q.member_discount_cents) == (15, 300)  # 15 % of the 20.00 bought, not the rental
    book = make_book("Often", on_hand=20, price_cents=500)
    for _ in range(5):
        order = start(user, [(book, 1, "buy", 3)])
        settle(order, f"pi_often_{order.id}")
        db.session.commit()
    assert pricing.is_frequent_reader(user.id)
    assert pricing.member_discount_pct(user) == (20, "Premium 15% + frequent reader 5%")
    app.config["MEMBER_DISCOUNT_CAP_PCT"] = 18
    try:
        assert pricing.member_discount_pct(user) == (18, "Premium 15% + frequent reader 5%, capped at 18%")
        assert pricing.quote([1000], user=user).member_discount_cents == 180
    finally:
        app.config["MEMBER_DISCOUNT_CAP_PCT"] = 20
    with time_machine.travel(utcnow() + timedelta(days=91), tick=False):
        assert not pricing.is_frequent_reader(user.id)  # the 90-day window has passed


def test_member_discount_is_on_the_order(app, db, make_book):
    user = funded(db, "saver", 2000)
    subscriptions.change(user, "plus")
    db.session.commit()
    book = make_book("Discounted", on_hand=2, price_cents=4000)
    order = start(user, [(book, 1, "buy", 3)])
    assert (order.subtotal_cents, order.member_discount_cents, order.discount_cents) == (4000, 400, 400)
    assert order.total_cents == 3600


def _charge_urls():
    return dict(success_url=lambda c: f"/account/payments/{c.reference}", cancel_url=lambda c: "/account/wallet")


def test_wallet_top_up_through_the_gateway_credits_once(app, db, run_jobs):
    user = funded(db, "topper", 0)
    with pytest.raises(charges.ChargeError, match="Top-ups are from"):
        charges.start(user, "top_up", 100, **_charge_urls())
    charge, url = charges.start(user, "top_up", 2500, **_charge_urls())
    db.session.commit()
    assert url == f"/pay/test/{charge.payment_session_id}"
    assert test_gateway.TestGateway().pay(charge.payment_session_id, "4242424242424242", 12, 2099, "123") is None
    db.session.commit()
    assert charges.confirm_from_provider(charge) == "credited"  # the success page got there first
    db.session.commit()
    run_jobs()  # then the signed webhook event arrives: nothing more happens
    run_jobs()
    assert wallet.balance(user.id) == 2500
    assert db.session.get(Charge, charge.id).status == "paid"
    assert sum(1 for s in subjects(db, user) if "added to your Folio wallet" in s) == 1


def test_plan_paid_by_card_is_a_top_up_then_a_wallet_payment(app, db, run_jobs):
    user = funded(db, "cardholder", 0)
    charge, _url = charges.start(user, "subscription", 1499, tier="premium", **_charge_urls())
    db.session.commit()

    test_gateway.TestGateway().pay(charge.payment_session_id, "4242424242424242", 12, 2099, "123")
    db.session.commit()
    run_jobs()
    run_jobs()
    assert subscriptions.tier_of(user).name == "premium" and wallet.balance(user.id) == 0
    reasons = list(db.session.scalars(select(WalletEntry.reason).where(WalletEntry.user_id == user.id)
                                      .order_by(WalletEntry.id)))
    assert reasons == ["top_up", "subscription"]
    assert "Welcome to Folio Premium" in subjects(db, user)


def test_declined_card_for_a_plan_changes_nothing(app, db):
    user = funded(db, "declined", 0)
    charge, _url = charges.start(user, "subscription", 799, tier="plus", **_charge_urls())
    db.session.commit()

    error = test_gateway.TestGateway().pay(charge.payment_session_id, "4000000000000002", 12, 2099, "123")
    assert error == "Your card was declined."
    assert charges.confirm_from_provider(charge) == "pending"
    assert subscriptions.tier_of(user).name == "free" and wallet.balance(user.id) == 0


def test_wallet_part_payment_with_a_member_discount_end_to_end(app, db, make_book, run_jobs):
    user = funded(db, "mixed", 1000)
    book = make_book("Mixed Pay", on_hand=2, price_cents=3000)
    from tests.checkout_helpers import ADDRESS
    from webapp.services.commerce import cart, checkout

    items = []
    cart.add(items, book.id, user=user)
    order, url = checkout.start_checkout(user, items, ADDRESS, code=None, use_wallet=True,
                                       success_url=lambda o: "s", cancel_url=lambda o: "c")
    db.session.commit()
    assert order.wallet_cents == 1000 and order.card_cents == order.total_cents - 1000
    assert pay(order) is None
    run_jobs()
    db.session.refresh(order)
    assert order.status == "paid"


def test_the_plan_table_is_one_setting_read_through_the_service(app):
    assert [p.name for p in subscriptions.all_tiers()] == ["free", "plus", "premium"]
    assert [(p.price_cents, p.discount_pct, p.max_rental_days, p.max_books, p.hold_window_days, p.hold_priority)
            for p in subscriptions.all_tiers()] == [(0, 0, 3, 1, 2, 2), (799, 10, 7, 5, 4, 1), (1499, 15, 14, 10, 7, 0)]
    assert [subscriptions.for_priority(p).label for p in (0, 1, 2)] == ["Premium", "Plus", "Free"]
    saved = app.config["PLANS"]
    app.config["PLANS"] = {**saved, "plus": {**saved["plus"], "max_books": 6, "discount_pct": 12}}
    try:
        plus = subscriptions.tier("plus")
        assert (plus.max_books, plus.discount_pct, plus.label) == (6, 12, "Plus")
    finally:
        app.config["PLANS"] = saved
    with pytest.raises(subscriptions.SubscriptionError):
        subscriptions.tier("gold")


def test_each_plan_number_is_still_its_own_environment_variable(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PLAN_PRICE_PLUS_CENTS": "899",
           "PLAN_DISCOUNT_PCT_PREMIUM": "20", "RENTAL_MAX_DAYS_FREE": "4", "MAX_BOOKS_PLUS": "6",
           "HOLD_WINDOW_DAYS_PREMIUM": "9"}
    code = "import config, json; print(json.dumps(config.Config.PLANS, sort_keys=True))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                            cwd=str(Path(__file__).resolve().parents[3]))
    plans = json.loads(result.stdout)
    assert plans["free"] == {"price_cents": 0, "discount_pct": 0, "max_rental_days": 4, "max_books": 1,
                             "hold_window_days": 2}
    assert plans["plus"] == {"price_cents": 899, "discount_pct": 10, "max_rental_days": 7, "max_books": 6,
                             "hold_window_days": 4}
    assert plans["premium"] == {"price_cents": 1499, "discount_pct": 20, "max_rental_days": 14, "max_books": 10,
                                "hold_window_days": 9}
