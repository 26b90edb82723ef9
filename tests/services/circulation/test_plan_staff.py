"""Staff plan changes (services.circulation.plan_staff): comp a paid plan for N periods (nothing charged during it,
back to the previous plan after it, time-travelled through renew_due), cancel at the period end or now with a
pro-rata refund, and a form sent twice applied once."""
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.checkout_helpers import shopper
from webapp.models import AuditLog, OutboundEmail, Subscription, WalletEntry, utcnow
from webapp.services.circulation import plan_staff, subscriptions, wallet
from webapp.services.circulation.subscriptions import SubscriptionError

PERIOD = timedelta(days=30)


@pytest.fixture
def boss(app, db):
    from webapp.services.people import accounts

    user = accounts.create_user("boss", "boss@example.com", "correct horse battery staple 42", role="admin",
                                verified=True, check_strength=False)
    db.session.commit()
    return user


def customer(db, name="reader", cents=0, tier=None, started=None):
    user = shopper(name)
    if cents:
        wallet.credit(user.id, cents, "top_up", reference="opening")
    if tier:
        start = started or utcnow()
        db.session.add(Subscription(user_id=user.id, tier=tier, current_period_start=start,
                                    current_period_end=start + PERIOD))
    db.session.commit()
    return user


def seen(user):
    return plan_staff.stamp(subscriptions.subscription_of(user.id))


def sub_of(db, user):
    db.session.expire_all()
    return db.session.get(Subscription, user.id)


def subjects(db, user):
    return list(db.session.scalars(select(OutboundEmail.subject).where(OutboundEmail.recipient == user.email)
                                   .order_by(OutboundEmail.id)))


def test_comp_from_free_charges_nothing_during_it_and_goes_back_to_free(app, db, boss):
    user = customer(db, cents=5000)
    now = utcnow()
    with time_machine.travel(now, tick=False):
        done = plan_staff.comp(boss, user, "premium", 3, seen=seen(user))
        db.session.commit()
    assert (done.tier, done.next_tier, done.refund_cents) == ("premium", "free", 0)
    sub = sub_of(db, user)
    assert sub.tier == "premium" and sub.next_tier == "free"
    assert sub.current_period_end == sub.comped_until == now + 3 * PERIOD
    assert subscriptions.tier_of(user).name == "premium"
    # Each month of the comp, the hourly renewal finds nothing due.
    for month in (1, 2):
        with time_machine.travel(now + month * PERIOD + timedelta(hours=1), tick=False):
            assert subscriptions.renew_due() == {"renewed": 0, "changed": 0, "lapsed": 0}
    assert wallet.balance(user.id) == 5000 and sub_of(db, user).tier == "premium"
    with time_machine.travel(now + 3 * PERIOD + timedelta(minutes=5), tick=False):
        assert subscriptions.renew_due()["changed"] == 1
    sub = sub_of(db, user)
    assert (sub.tier, sub.next_tier, sub.current_period_end, sub.comped_until) == ("free", None, None, None)
    assert wallet.balance(user.id) == 5000  # nothing charged, ever
    mails = subjects(db, user)
    assert mails[0].startswith("A free Premium plan") and mails[-1].endswith("plan is now Free")
    body = db.session.scalars(select(OutboundEmail.body_text).where(OutboundEmail.recipient == user.email)
                              .order_by(OutboundEmail.id.desc())).first()
    assert "The Premium plan we gave you has ended" in body
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.plan_comped")).one()
    assert entry.actor_id == boss.id and entry.object_id == str(user.id)
    assert entry.before["tier"] is None and entry.after["tier"] == "premium" and entry.after["periods"] == 3


def test_comp_over_a_paid_period_refunds_it_pro_rata_and_goes_back_to_the_paid_plan(app, db, boss):
    start = utcnow() - timedelta(days=10)
    user = customer(db, cents=2000, tier="plus", started=start)
    now = start + timedelta(days=10)
    with time_machine.travel(now, tick=False):
        done = plan_staff.comp(boss, user, "premium", 1, seen=seen(user))
        db.session.commit()
    assert done.refund_cents == round(799 * 20 / 30) and done.next_tier == "plus"
    assert wallet.balance(user.id) == 2000 + done.refund_cents
    refund = db.session.scalars(select(WalletEntry).where(WalletEntry.amount_cents > 0,
                                                          WalletEntry.reference.like("SUB-%"))).one()
    assert refund.reason == "subscription" and refund.actor_id == boss.id
    with time_machine.travel(now + PERIOD + timedelta(minutes=1), tick=False):
        assert subscriptions.renew_due()["changed"] == 1
    sub = sub_of(db, user)
    assert sub.tier == "plus" and sub.comped_until is None
    assert wallet.balance(user.id) == 2000 + done.refund_cents - 799  # back to Plus, paid as before


def test_comp_of_the_same_tier_continues_it_at_its_price_and_the_customer_can_keep_a_comped_tier(app, db, boss):
    now = utcnow()
    same = customer(db, "same", cents=2000, tier="plus", started=now)
    refund = plan_staff.comp(boss, same, "plus", 1, seen=seen(same), now=now).refund_cents
    db.session.commit()
    assert sub_of(db, same).next_tier is None and refund == 799  # the whole paid period was still unused
    keeper = customer(db, "keeper", cents=3000)
    plan_staff.comp(boss, keeper, "premium", 1, seen=seen(keeper), now=now)
    db.session.commit()
    assert subscriptions.quote_change(keeper, "premium").kind == "resume"  # the plan page offers to keep it
    subscriptions.change(keeper, "premium")
    db.session.commit()
    with time_machine.travel(now + PERIOD + timedelta(minutes=1), tick=False):
        counts = subscriptions.renew_due()
    assert counts["renewed"] == 2
    assert sub_of(db, keeper).tier == "premium" and wallet.balance(keeper.id) == 3000 - 1499
    assert sub_of(db, same).tier == "plus" and wallet.balance(same.id) == 2000 + refund - 799


def test_a_comp_on_a_comp_keeps_where_the_plan_goes_back_to(app, db, boss):
    user = customer(db, cents=2000, tier="plus")
    plan_staff.comp(boss, user, "premium", 1, seen=seen(user))
    db.session.commit()
    refunded = wallet.balance(user.id) - 2000
    plan_staff.comp(boss, user, "plus", 4, seen=seen(user))
    db.session.commit()
    sub = sub_of(db, user)
    assert sub.tier == "plus" and sub.next_tier == "plus" and wallet.balance(user.id) == 2000 + refunded


@pytest.mark.parametrize(("tier", "periods", "message"), [
    ("free", 1, "paid plan"), ("gold", 1, "Unknown plan"), ("plus", 0, "between 1 and 12"),
    ("plus", 13, "between 1 and 12"), ("plus", True, "between 1 and 12")])
def test_comp_refuses_bad_choices(app, db, boss, tier, periods, message):
    user = customer(db)
    with pytest.raises(SubscriptionError, match=f"(?i){message}"):
        plan_staff.comp(boss, user, tier, periods, seen=seen(user))
    db.session.rollback()
    assert sub_of(db, user) is None and not subjects(db, user)


def test_the_same_comp_form_sent_twice_applies_once(app, db, boss):
    user = customer(db, cents=1000, tier="plus")
    shown = seen(user)
    plan_staff.comp(boss, user, "premium", 2, seen=shown)
    db.session.commit()
    with pytest.raises(SubscriptionError, match="changed since this page was shown"):
        plan_staff.comp(boss, user, "premium", 2, seen=shown)
    db.session.rollback()
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "admin.plan_comped")
                             .order_by(AuditLog.id.desc()).offset(1)) is None
    assert len(subjects(db, user)) == 1
    refunds = db.session.scalars(select(WalletEntry).where(WalletEntry.reason == "subscription")).all()
    assert len(refunds) == 1
    newcomer = customer(db, "newcomer")
    shown = seen(newcomer)
    plan_staff.comp(boss, newcomer, "plus", 1, seen=shown)
    db.session.commit()
    with pytest.raises(SubscriptionError, match="changed since"):
        plan_staff.comp(boss, newcomer, "plus", 1, seen=shown)


def test_cancel_at_period_end_schedules_free_once(app, db, boss):
    user = customer(db, cents=0, tier="premium")
    done = plan_staff.cancel(boss, user, "period_end", seen=seen(user))
    db.session.commit()
    assert done.next_tier == "free" and done.refund_cents == 0
    sub = sub_of(db, user)
    assert sub.tier == "premium" and sub.next_tier == "free"
    with pytest.raises(SubscriptionError, match="already ends"):
        plan_staff.cancel(boss, user, "period_end", seen=seen(user))
    db.session.rollback()
    with time_machine.travel(sub.current_period_end + timedelta(minutes=1), tick=False):
        assert subscriptions.renew_due()["changed"] == 1
    assert sub_of(db, user).tier == "free" and wallet.balance(user.id) == 0
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.plan_cancelled")).one()
    assert entry.before["next_tier"] is None and entry.after["next_tier"] == "free"
    assert subjects(db, user)[0].endswith("plan will end")


def test_cancel_now_refunds_the_unused_part_once(app, db, boss):
    start = utcnow() - timedelta(days=6)
    user = customer(db, cents=100, tier="premium", started=start)
    now = start + timedelta(days=6)
    shown = seen(user)
    with time_machine.travel(now, tick=False):
        done = plan_staff.cancel(boss, user, "now", seen=shown)
        db.session.commit()
        with pytest.raises(SubscriptionError):  # the same form again: the plan is Free now
            plan_staff.cancel(boss, user, "now", seen=shown)
        db.session.rollback()
    assert done.refund_cents == round(1499 * 24 / 30) and done.tier == "free"
    assert wallet.balance(user.id) == 100 + done.refund_cents
    sub = sub_of(db, user)
    assert (sub.tier, sub.next_tier, sub.current_period_end) == ("free", None, None)
    assert subscriptions.tier_of(user).name == "free"
    assert subjects(db, user) == ["Your Folio Premium plan has ended"]


def test_cancel_now_during_a_comp_refunds_nothing_and_free_has_nothing_to_cancel(app, db, boss):
    user = customer(db)
    plan_staff.comp(boss, user, "plus", 2, seen=seen(user))
    db.session.commit()
    assert plan_staff.unused_refund_cents(sub_of(db, user)) == 0
    done = plan_staff.cancel(boss, user, "now", seen=seen(user))
    db.session.commit()
    assert done.refund_cents == 0 and wallet.balance(user.id) == 0
    assert sub_of(db, user).comped_until is None
    with pytest.raises(SubscriptionError, match="no paid plan"):
        plan_staff.cancel(boss, user, "now", seen=seen(user))
    with pytest.raises(SubscriptionError, match="when"):
        plan_staff.cancel(boss, user, "tomorrow", seen=seen(user))


def test_holds_follow_the_comped_plan_in_the_queue(app, db, boss, make_book):
    from webapp.models import Hold

    user = customer(db)
    book = make_book("Queued", on_hand=0)
    db.session.add(Hold(user_id=user.id, book_id=book.id, priority=2))
    db.session.commit()
    plan_staff.comp(boss, user, "premium", 1, seen=seen(user))
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalars(select(Hold.priority)).one() == 0


def test_a_plan_refund_pays_fees_due_first(app, db, boss):
    from tests.fee_helpers import late_return
    from webapp.services.circulation import fees

    user = customer(db, tier="plus")
    late_return(user, days_late=2)  # $1.00 due
    done = plan_staff.cancel(boss, user, "now", seen=seen(user))
    db.session.commit()
    assert done.refund_cents > 100 and fees.total_due(user.id) == 0
    assert wallet.balance(user.id) == done.refund_cents - 100
