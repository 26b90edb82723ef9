"""Property test of the holds queue: random sequences of holds, cancellations, restocks, copies leaving,
checkouts collecting held copies, plan upgrades and hold expiry, on one or two books and four customers
on Free / Plus / Premium. After every step the database is checked against the queue's rules and
against a small reference model of what the queue should look like.

Each example makes its own books and resets the four customers (plans, holds and emails deleted), so
nothing leaks between examples; `expire_due` only ever sees the current example's holds.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from tests.checkout_helpers import shopper
from tests.factories import make_book
from webapp.models import Book, Hold, Inventory, OutboundEmail, StockMovement, Subscription, User
from webapp.services.circulation import holds, subscriptions, wallet
from webapp.services.inventory import stock

USERS = 4
_examples = itertools.count(1)

# One step: (kind, customer, book, n). Kinds are repeated to weight them; the book index is folded onto the
# example's books (one or two); n is the copies restocked or removed, or picks how long a "wait" lasts.
# "cancel" and "claim" pick the customer among those with an open (for claim: ready) hold on the book, if any;
# an odd n makes "cancel" prefer a ready hold (its copy must pass to the next in line).
KINDS = (
    "place", "place", "place", "place",  # the queue needs customers in it
    "cancel", "cancel",
    "restock", "restock",
    "remove", "remove",  # copies on the shelf leave the shop (adjustment -n; more than are on the shelf is refused)
    "claim", "claim",  # checkout collects a ready hold; the order reserves that copy (as orders.start_checkout)
    "order_cancelled",  # such an order's reservation is released (checkout expired or cancelled)
    "order_paid",  # such an order is paid: the copy leaves the shop
    "upgrade",  # the customer moves up a plan: their waiting holds move up the queues
    "wait", "wait",  # days pass (1, 3 or 8: pick-up windows are 2, 4 and 7 days), then the expiry job runs
)
WAIT_DAYS = {1: 1, 2: 3, 3: 8}
_user = st.integers(0, USERS - 1)
_book = st.integers(0, 1)
_op = st.tuples(st.sampled_from(KINDS), _user, _book, st.integers(1, 3))
# Each step happens 0 or 1 minute after the previous one: 0 gives equal queued_at, so the id decides.
_minutes = st.sampled_from([0, 1])
_steps = st.lists(st.tuples(_op, _minutes), min_size=8, max_size=40)
# Examples open with two to four different customers joining the queues (often in the same minute), so that
# the random steps find queues to serve and ties for the id to break.
def _placements(order, books, minutes, size):
    return [(("place", u, b, 1), m) for u, b, m in zip(order, books, minutes, strict=True)][:size]


_opening = st.builds(_placements, st.permutations(range(USERS)), st.lists(_book, min_size=USERS, max_size=USERS),
                     st.lists(st.sampled_from([0, 0, 1]), min_size=USERS, max_size=USERS), st.integers(2, USERS))


@dataclass
class MHold:
    id: int
    user: int
    book: int
    priority: int
    queued_at: datetime
    status: str = "waiting"
    expires_at: datetime | None = None

    @property
    def key(self):
        return (self.priority, self.queued_at, self.id)


@dataclass
class Model:
    """What the queue should look like: stock per book, the simulated orders' reservations, the holds."""

    tier: list[str]
    on_hand: list[int]
    orders: list[int] = field(default_factory=lambda: [0, 0])  # copies reserved by simulated orders
    holds: dict[int, MHold] = field(default_factory=dict)
    ready_emails: Counter = field(default_factory=Counter)  # per customer

    def ready(self, b: int) -> int:
        return sum(1 for h in self.holds.values() if h.book == b and h.status == "ready")

    def reserved(self, b: int) -> int:
        return self.ready(b) + self.orders[b]

    def available(self, b: int) -> int:
        return self.on_hand[b] - self.reserved(b)

    def open_hold(self, u: int, b: int) -> MHold | None:
        found = [h for h in self.holds.values() if h.user == u and h.book == b and h.status in ("waiting", "ready")]
        assert len(found) <= 1
        return found[0] if found else None

    def in_use(self, u: int) -> int:
        return sum(1 for h in self.holds.values() if h.user == u and h.status in ("waiting", "ready"))

    def allocate(self, b: int, now: datetime) -> None:
        """One copy per waiting hold, in queue order, while copies last."""
        while self.available(b) > 0:
            waiting = [h for h in self.holds.values() if h.book == b and h.status == "waiting"]
            if not waiting:
                return
            head = min(waiting, key=lambda h: h.key)
            head.status = "ready"
            plan = subscriptions.ORDER[len(subscriptions.ORDER) - 1 - head.priority]
            head.expires_at = now + timedelta(days=subscriptions.tier(plan).hold_window_days)
            self.ready_emails[head.user] += 1


@dataclass
class World:
    """This example's customers and books, by index (plain ids: reading them never touches the database)."""

    user_ids: list[int]
    emails: list[str]
    book_ids: list[int]

    def user(self, db, u: int) -> User:
        return db.session.get(User, self.user_ids[u])

    def book(self, db, b: int) -> Book:
        return db.session.get(Book, self.book_ids[b])


@dataclass(frozen=True)
class Row:
    id: int
    user: int
    book: int
    status: str
    priority: int
    queued_at: datetime
    expires_at: datetime | None

    @property
    def key(self):
        return (self.priority, self.queued_at, self.id)


def _rows(db, world: World) -> dict[int, Row]:
    """The example's holds as the database has them now (plain columns, so nothing cached in the session)."""
    user_index = {uid: i for i, uid in enumerate(world.user_ids)}
    book_index = {bid: i for i, bid in enumerate(world.book_ids)}
    result = db.session.execute(select(Hold.id, Hold.user_id, Hold.book_id, Hold.status, Hold.priority,
                                       Hold.queued_at, Hold.expires_at).where(Hold.book_id.in_(world.book_ids)))
    return {r.id: Row(r.id, user_index[r.user_id], book_index[r.book_id], r.status, r.priority, r.queued_at,
                      r.expires_at) for r in result}


def _check(db, model: Model, world: World, before: dict[int, Row], what) -> None:
    rows = _rows(db, world)

    # The database agrees with the model, hold by hold.
    assert {i: (r.book, r.user, r.status, r.priority) for i, r in rows.items()} == \
        {i: (h.book, h.user, h.status, h.priority) for i, h in model.holds.items()}, what
    for i, h in model.holds.items():
        if h.status == "ready":
            assert rows[i].expires_at == h.expires_at, what

    for b, book_id in enumerate(world.book_ids):
        on_hand, reserved, available = db.session.execute(
            select(Inventory.on_hand, Inventory.reserved, Inventory.available).where(Inventory.book_id == book_id)).one()
        ready = [r for r in rows.values() if r.book == b and r.status == "ready"]
        waiting = [r for r in rows.values() if r.book == b and r.status == "waiting"]
        # (a) every reserved copy is a ready hold's or a simulated order's
        assert reserved == len(ready) + model.orders[b], what
        assert (on_hand, reserved) == (model.on_hand[b], model.reserved(b)), what
        assert available == on_hand - reserved, what
        # (b) a copy on the shelf means nobody is waiting for it
        if available > 0:
            assert not waiting, what
        # (d) a copy is never given to two customers: set-aside copies plus the orders' never exceed the shelf
        assert len(ready) + model.orders[b] <= on_hand, what
        # the stock ledger adds up to the counts
        ledger = db.session.execute(select(func.coalesce(func.sum(StockMovement.on_hand_delta), 0),
                                           func.coalesce(func.sum(StockMovement.reserved_delta), 0))
                                    .where(StockMovement.book_id == book_id)).one()
        assert tuple(ledger) == (on_hand, reserved), what
        # (e) a hold that turned ready (or was placed ready) had nobody with a better key still waiting
        for r in ready:
            if r.id not in before or before[r.id].status != "ready":
                better = [w.id for w in waiting if w.key < r.key]
                assert not better, (what, r.id, better)

    # (c) one open hold per customer and book
    per_pair = Counter((r.user, r.book) for r in rows.values() if r.status in ("waiting", "ready"))
    assert all(n == 1 for n in per_pair.values()), what
    # one "is waiting for you" email each time a hold turned ready
    emails = dict(db.session.execute(
        select(OutboundEmail.recipient, func.count()).where(
            OutboundEmail.recipient.in_(world.emails), OutboundEmail.subject.contains("is waiting for you"))
        .group_by(OutboundEmail.recipient)).all())
    assert [emails.get(e, 0) for e in world.emails] == [model.ready_emails[u] for u in range(USERS)], what


def _apply(db, model: Model, world: World, op, now: datetime, seq: int) -> None:
    """Run one step through the services and move the model the same way."""
    kind, u, b, n = op
    b %= len(world.book_ids)
    if kind in ("cancel", "claim"):
        wanted = ("ready",) if kind == "claim" or n % 2 else ("waiting", "ready")
        candidates = sorted({h.user for h in model.holds.values() if h.book == b and h.status in wanted})
        if candidates:
            u = candidates[u % len(candidates)]
    book_id = world.book_ids[b]

    if kind == "place":
        if model.available(b) > 0:
            expected = "in stock"
        elif model.open_hold(u, b) is not None:
            expected = "already hold"
        elif model.in_use(u) >= subscriptions.tier(model.tier[u]).max_books:
            expected = "plan allows"
        else:
            expected = None
        event(f"place: {expected or 'queued'}")
        if expected:
            with pytest.raises(holds.HoldError, match=expected):
                holds.place(world.user(db, u), world.book(db, b))
            db.session.rollback()
            return
        hold = holds.place(world.user(db, u), world.book(db, b))
        priority = subscriptions.tier(model.tier[u]).hold_priority
        assert (hold.priority, hold.queued_at) == (priority, now)
        model.holds[hold.id] = MHold(hold.id, u, b, priority, now)
        model.allocate(b, now)
    elif kind == "cancel":
        mine = model.open_hold(u, b)
        if mine is not None:
            was = mine.status
            holds.cancel(db.session.get(Hold, mine.id), world.user(db, u))
            event(f"cancel: {was}")
            mine.status = "cancelled"
            if was == "ready":
                model.allocate(b, now)
            return
        closed = [h for h in model.holds.values() if h.user == u and h.book == b]
        if closed:  # cancelling a closed hold again is refused and changes nothing
            with pytest.raises(holds.HoldError, match="already closed"):
                holds.cancel(db.session.get(Hold, closed[-1].id), world.user(db, u))
            db.session.rollback()
    elif kind == "restock":
        stock.adjust(book_id, n, "restock")
        model.on_hand[b] += n
        model.allocate(b, now)
    elif kind == "remove":
        available = model.available(b)
        if n > available:  # refused as a whole: set-aside and reserved copies cannot be taken
            with pytest.raises(stock.StockError, match=f"only {available} available"):
                stock.adjust(book_id, -n, "adjustment", note="copies damaged")
            db.session.rollback()
        removed = min(n, available)
        if removed:
            stock.adjust(book_id, -removed, "adjustment", note="copies damaged")
            model.on_hand[b] -= removed
    elif kind == "claim":
        mine = model.open_hold(u, b)
        claimed = holds.claim_for_order(world.user_ids[u], [book_id], order_id=None)
        if mine is not None and mine.status == "ready":
            assert claimed == {book_id: 1}
            event("claim: collected")
            mine.status = "fulfilled"
            # as orders.start_checkout does: the order reserves the copy the hold gave up
            stock.reserve([(book_id, 1)], reference=f"order-sim-{seq}")
            model.orders[b] += 1
        else:
            assert claimed == {}
    elif kind == "order_cancelled":
        if model.orders[b]:
            stock.release([(book_id, 1)], reference=f"order-sim-{seq}")
            model.orders[b] -= 1
            model.allocate(b, now)
    elif kind == "order_paid":
        if model.orders[b]:
            stock.commit([(book_id, 1)], reference=f"order-sim-{seq}", reason="sale")
            model.orders[b] -= 1
            model.on_hand[b] -= 1
    elif kind == "upgrade":
        rank = subscriptions.ORDER.index(model.tier[u])
        if rank == len(subscriptions.ORDER) - 1:
            return
        target = subscriptions.ORDER[rank + 1]
        wallet.credit(world.user_ids[u], 100_000, "top_up", reference=f"hprop-{seq}-{now:%Y%m%d%H%M}-{target}")
        subscriptions.change(world.user(db, u), target)
        event(f"upgrade to {target}")
        model.tier[u] = target
        for h in model.holds.values():
            if h.user == u and h.status == "waiting":
                h.priority = subscriptions.tier(target).hold_priority
    elif kind == "wait":  # the clock has already moved on by WAIT_DAYS[n] days
        due = [h for h in model.holds.values() if h.status == "ready" and h.expires_at < now]
        assert holds.expire_due() == len(due)
        event(f"wait: {'expired some' if due else 'nothing due'}")
        for h in due:
            h.status = "expired"
        for book_index in sorted({h.book for h in due}):
            model.allocate(book_index, now)
    else:  # pragma: no cover
        raise AssertionError(kind)


def _customers(db) -> list[User]:
    """The four customers, made by the first example and reset by each: no plan, no holds, no emails."""
    names = [f"hprop{i}" for i in range(USERS)]
    found = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(names)))}
    users = [found.get(name) or shopper(name) for name in names]
    ids = [u.id for u in users]
    db.session.execute(delete(Hold))  # earlier examples' holds (on earlier books): expire_due would see them
    db.session.execute(delete(Subscription).where(Subscription.user_id.in_(ids)))
    db.session.execute(delete(OutboundEmail).where(OutboundEmail.recipient.in_([u.email for u in users])))
    db.session.commit()
    return users


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tiers=st.lists(st.sampled_from(subscriptions.ORDER), min_size=USERS, max_size=USERS),
       two_books=st.booleans(), opening=_opening, steps=_steps)
def test_random_hold_sequences_keep_the_queue_rules(app, db, tiers, two_books, opening, steps):
    seq = next(_examples)
    users = _customers(db)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for user, tier in zip(users, tiers, strict=True):
        if tier != "free":
            db.session.add(Subscription(user_id=user.id, tier=tier, current_period_start=start,
                                        current_period_end=start + timedelta(days=30)))
    db.session.commit()
    # Out of stock to begin with, so the opening customers queue; restocks bring copies in.
    books = [make_book(f"Held {seq}-{i}", on_hand=0) for i in range(2 if two_books else 1)]
    world = World([u.id for u in users], [u.email for u in users], [b.id for b in books])
    model = Model(list(tiers), [0] * len(books))
    _check(db, model, world, {}, "start")

    now = start
    steps = opening + steps
    for n, (op, minutes) in enumerate(steps):
        now += timedelta(minutes=minutes)
        if op[0] == "wait":
            now += timedelta(days=WAIT_DAYS[op[3]])
        before = _rows(db, world)
        emailed = sum(model.ready_emails.values())
        with time_machine.travel(now, tick=False):
            _apply(db, model, world, op, now, seq)
            db.session.commit()
        _check(db, model, world, before, (n, op, steps[:n + 1]))
        if sum(model.ready_emails.values()) > emailed:
            event(f"{op[0]}: a hold turned ready")
