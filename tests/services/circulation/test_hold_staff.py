"""Staff managing holds (services.circulation.hold_staff): cancel with a reason (a ready hold's copy goes to the
next in line), move within the plan tier of a book's queue (one conditional change, a well-defined order),
extend a pick-up window (bounded); each audited and the customer emailed."""
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.checkout_helpers import shopper
from webapp.models import AuditLog, Hold, Inventory, OutboundEmail, Subscription, User, utcnow
from webapp.services.circulation import hold_staff, holds
from webapp.services.circulation.holds import HoldError
from webapp.services.inventory import stock
from webapp.services.platform.errors import RuleError


def plan(db, user, tier):
    now = utcnow()
    db.session.add(Subscription(user_id=user.id, tier=tier, current_period_start=now,
                                current_period_end=now + timedelta(days=30)))
    db.session.commit()
    return user


def queue_of(db, book_id):
    """Usernames in queue order (the order allocation uses)."""
    db.session.expire_all()
    rows = db.session.scalars(select(Hold).where(Hold.book_id == book_id, Hold.status == "waiting")
                              .order_by(Hold.priority, Hold.queued_at, Hold.id)).all()
    return [db.session.get(User, h.user_id).username.removeprefix("u_") for h in rows]


def emails(db, user, contains):
    return db.session.scalars(select(OutboundEmail.body_text).where(
        OutboundEmail.recipient == user.email, OutboundEmail.subject.contains(contains)).order_by(OutboundEmail.id)).all()


def audits(db, action):
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


@pytest.fixture
def staff(app, db):
    return shopper("clerk")


@pytest.fixture
def queued(app, db, make_book):
    """A sold-out book; four Free readers a, b, c, d queued a minute apart, then a Premium reader p."""
    book = make_book("Queued Book", on_hand=0)
    t0 = utcnow() - timedelta(hours=1)
    users = {}
    for i, name in enumerate(["a", "b", "c", "d", "p"]):
        user = shopper(f"u_{name}")
        if name == "p":
            plan(db, user, "premium")
        with time_machine.travel(t0 + timedelta(minutes=i), tick=False):
            holds.place(user, book)
            db.session.commit()
        users[name] = user
    return book, users


def hold_of(user, book):
    return holds.open_hold(user.id, book.id)


def test_move_up_and_down_within_the_tier(app, db, queued, staff):
    book, u = queued
    assert queue_of(db, book.id) == ["p", "a", "b", "c", "d"]
    hold_staff.move(hold_of(u["c"], book).id, "up", actor=staff)
    db.session.commit()
    assert queue_of(db, book.id) == ["p", "a", "c", "b", "d"]
    assert holds.position(hold_of(u["c"], book)) == 3
    hold_staff.move(hold_of(u["c"], book).id, "up", actor=staff)  # now to the front of the Free tier
    db.session.commit()
    assert queue_of(db, book.id) == ["p", "c", "a", "b", "d"]
    hold_staff.move(hold_of(u["a"], book).id, "down", actor=staff)
    hold_staff.move(hold_of(u["a"], book).id, "down", actor=staff)  # to the very end: no hold beyond
    db.session.commit()
    assert queue_of(db, book.id) == ["p", "c", "b", "d", "a"]
    # audited, with before/after; the customer emailed with the new place
    moved = audits(db, "hold.moved")
    assert len(moved) == 4 and moved[0].actor_id == staff.id and moved[0].after["direction"] == "up"
    assert moved[0].before["queued_at"] != moved[0].after["queued_at"]
    assert moved[-1].after["position"] == 5
    body = emails(db, u["c"], "Your place in the queue")
    assert len(body) == 2 and "one place up in the queue: you are now number 2" in body[-1]


def test_moves_stop_at_the_tier_edges_and_the_ends(app, db, queued, staff):
    book, u = queued
    with pytest.raises(HoldError, match="already first"):
        hold_staff.move(hold_of(u["p"], book).id, "up", actor=staff)
    with pytest.raises(HoldError, match="plans come first"):
        hold_staff.move(hold_of(u["p"], book).id, "down", actor=staff)  # Premium cannot drop among Free
    with pytest.raises(HoldError, match="plans come first"):
        hold_staff.move(hold_of(u["a"], book).id, "up", actor=staff)  # Free cannot pass Premium
    with pytest.raises(HoldError, match="already last"):
        hold_staff.move(hold_of(u["d"], book).id, "down", actor=staff)
    with pytest.raises(RuleError):
        hold_staff.move(hold_of(u["d"], book).id, "sideways", actor=staff)
    db.session.rollback()
    assert queue_of(db, book.id) == ["p", "a", "b", "c", "d"]
    assert audits(db, "hold.moved") == []


def test_a_move_on_a_stale_view_changes_nothing(app, db, queued, staff):
    """The passed neighbour left the queue after staff looked: the conditional UPDATE refuses."""
    book, u = queued
    c = hold_of(u["c"], book)
    real_neighbours = hold_staff._neighbours
    b = hold_of(u["b"], book)

    def stale(hold, up):
        found = real_neighbours(hold, up)
        holds.cancel(b, u["b"])  # b leaves between the read and the UPDATE
        return found

    hold_staff._neighbours = stale
    try:
        with pytest.raises(HoldError, match="queue changed"):
            hold_staff.move(c.id, "up", actor=staff)
    finally:
        hold_staff._neighbours = real_neighbours


def test_holds_queued_at_the_same_instant(app, db, make_book, staff):
    """Same queued_at: the order is by id; a hold can still swap with its neighbour when the gap allows, and is
    refused (not misplaced) when two others share one instant."""
    book = make_book("Same Instant", on_hand=0)
    users = [shopper(f"u_s{i}") for i in range(3)]
    with time_machine.travel(utcnow(), tick=False):
        for user in users:
            holds.place(user, book)
        db.session.commit()
    assert queue_of(db, book.id) == ["s0", "s1", "s2"]
    with pytest.raises(HoldError, match="same instant"):
        hold_staff.move(hold_of(users[2], book).id, "up", actor=staff)  # would have to go between s0 and s1
    hold_staff.move(hold_of(users[1], book).id, "up", actor=staff)  # to the front: a second earlier
    db.session.commit()
    assert queue_of(db, book.id) == ["s1", "s0", "s2"]


def test_staff_cancel_of_a_ready_hold_passes_the_copy_on(app, db, queued, staff):
    book, u = queued
    stock.adjust(book.id, 1, "restock")
    db.session.commit()
    first = hold_of(u["p"], book)
    assert first.status == "ready"
    with pytest.raises(RuleError, match="reason"):
        hold_staff.cancel(first.id, reason="   ", actor=staff)
    hold_staff.cancel(first.id, reason="Customer asked by phone.", actor=staff, ip="10.0.0.1")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Hold, first.id).status == "cancelled"
    assert hold_of(u["a"], book).status == "ready"  # next in line
    inv = db.session.get(Inventory, book.id)
    assert (inv.on_hand, inv.reserved) == (1, 1)
    entry = audits(db, "hold.cancelled_by_staff")[0]
    assert entry.actor_id == staff.id and entry.ip == "10.0.0.1"
    assert entry.after == {"was": "ready", "reason": "Customer asked by phone."}
    body = emails(db, u["p"], "is cancelled")[0]
    assert "The reason they gave: Customer asked by phone." in body and "gone to the next reader" in body
    with pytest.raises(HoldError, match="already closed"):
        hold_staff.cancel(first.id, reason="again", actor=staff)


def test_staff_cancel_of_a_waiting_hold(app, db, queued, staff):
    book, u = queued
    hold_staff.cancel(hold_of(u["b"], book).id, reason="Duplicate account.", actor=staff)
    db.session.commit()
    assert queue_of(db, book.id) == ["p", "a", "c", "d"]
    body = emails(db, u["b"], "is cancelled")[0]
    assert "The reason they gave: Duplicate account." in body and "set aside" not in body


def test_extend_a_ready_hold_bounded(app, db, queued, staff):
    book, u = queued
    stock.adjust(book.id, 1, "restock")
    db.session.commit()
    hold = hold_of(u["p"], book)
    end = hold.expires_at
    with pytest.raises(RuleError, match="1 to 14"):
        hold_staff.extend(hold.id, 0, actor=staff)
    with pytest.raises(RuleError, match="1 to 14"):
        hold_staff.extend(hold.id, 15, actor=staff)
    with pytest.raises(RuleError, match="1 to 14"):
        hold_staff.extend(hold.id, True, actor=staff)  # a bool is not a number of days
    hold_staff.extend(hold.id, 3, actor=staff)
    db.session.commit()
    assert hold_of(u["p"], book).expires_at == end + timedelta(days=3)
    # Premium's window is 7 days: 7 + 3 + 5 > 14 days from now
    with pytest.raises(RuleError, match="at most 14 days from now"):
        hold_staff.extend(hold.id, 5, actor=staff)
    entry = audits(db, "hold.extended")[0]
    assert entry.before == {"expires_at": end.isoformat()} and entry.after["days"] == 3
    body = emails(db, u["p"], "More time to collect")[0]
    assert "now waits 3 more days" in body
    with pytest.raises(HoldError, match="pick-up window"):
        hold_staff.extend(hold_of(u["a"], book).id, 2, actor=staff)  # waiting: no window


def test_an_extended_window_is_what_expiry_honours(app, db, queued, staff):
    book, u = queued
    stock.adjust(book.id, 1, "restock")
    db.session.commit()
    hold = hold_of(u["p"], book)
    end = hold.expires_at
    hold_staff.extend(hold.id, 2, actor=staff)
    db.session.commit()
    with time_machine.travel(end + timedelta(hours=1), tick=False):
        assert holds.expire_due() == 0
    with time_machine.travel(end + timedelta(days=2, hours=1), tick=False):
        assert holds.expire_due() == 1
    assert hold_of(u["a"], book).status == "ready"


def test_customers_and_tier_edges(app, db, queued):
    book, u = queued
    page = hold_staff.book_queue(book.id)
    names = hold_staff.customers(page.items)
    assert {n.username for n in names.values()} == {"u_a", "u_b", "u_c", "u_d", "u_p"}
    edges = hold_staff.tier_edges(page.items)
    by_name = {names[h.user_id].username.removeprefix("u_"): edges[h.id] for h in page.items}
    assert by_name == {"p": (False, False), "a": (False, True), "b": (True, True), "c": (True, True),
                       "d": (True, False)}
    assert db.session.scalar(select(func.count()).select_from(Hold)) == 5
