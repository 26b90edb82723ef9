"""Holds: the queue for books that are out of stock.

Queue order is (priority, queued_at, id): Premium (0) before Plus (1) before Free (2), first come
first served within a plan. Whenever copies become available (a rental comes back, a restock, a
cancelled order, a released checkout reservation, an expired or cancelled hold) services.inventory.stock calls
`allocate`, which sets one copy aside per waiting hold, in queue order, while copies last:

* the copy is reserved in stock (ledger reference hold-<id>), so nobody else can buy it;
* the hold turns `ready` with a pick-up window by plan (HOLD_WINDOW_DAYS_*), and the customer is emailed.

Both steps are conditional updates inside the caller's transaction; on PostgreSQL the inventory row
stays locked until commit, so concurrent returns of the same book allocate one hold each and never
give one copy to two customers. A ready hold is collected at checkout (`claim_for_order`), cancelled
(the copy goes to the next in line), or expires (`expire_due`, every few minutes; optional no-show fee
from the wallet, the copy goes to the next in line, who is emailed). A hold's status changes only through
`_move`, which allows the moves in models.membership.HOLD_TRANSITIONS.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import OPEN_HOLD, Book, Hold, Order, OrderLine, Rental, User, utcnow
from ...models.membership import HOLD_TRANSITIONS, HoldStatus
from ...models.orders import OrderStatus, RentalStatus
from ...models.wallet import WalletReason
from ..inventory import stock
from ..people import accounts
from ..platform import audit, dml, locks, mail, paging
from ..platform.states import require_move
from . import subscriptions, wallet


class HoldError(ValueError):
    """A hold the customer cannot place or cancel; the message is for them."""


def _ref(hold_id: int) -> str:
    return f"hold-{hold_id}"


def books_in_use(user_id: int) -> int:
    """Rentals out, rentals in an unpaid checkout and open holds: what the plan's "books at once"
    limit counts."""
    rentals = db.session.scalar(select(func.count()).select_from(Rental)
                                .where(Rental.user_id == user_id, Rental.status == RentalStatus.ACTIVE)) or 0
    pending = db.session.scalar(select(func.coalesce(func.sum(OrderLine.quantity), 0))
                                .join(Order, Order.id == OrderLine.order_id)
                                .where(Order.user_id == user_id, Order.status == OrderStatus.PENDING_PAYMENT,
                                       OrderLine.mode == "rent")) or 0
    holds = db.session.scalar(select(func.count()).select_from(Hold)
                              .where(Hold.user_id == user_id, Hold.status.in_(OPEN_HOLD))) or 0
    return rentals + pending + holds


# ---- placing and cancelling ----

def place(user: User, book: Book, now: datetime | None = None) -> Hold:
    """Join the book's queue. Raises HoldError with a message for the customer."""
    if not book.active:
        raise HoldError("This book is no longer sold.")
    if not user.is_verified:
        raise HoldError("Please confirm your email address before placing a hold.")
    if stock.state(book.id).available > 0:
        raise HoldError("This book is in stock: add it to your cart instead.")
    if open_hold(user.id, book.id) is not None:
        raise HoldError("You already hold this book.")
    plan = subscriptions.tier_of(user)
    locks.customer(user.id)
    if books_in_use(user.id) >= plan.max_books:
        raise HoldError(f"Your {plan.label} plan allows {plan.max_books} book{'s' if plan.max_books != 1 else ''} "
                        "at once (rentals and holds). Return a book, cancel a hold, or upgrade your plan.")
    hold = Hold(user_id=user.id, book_id=book.id, status=HoldStatus.WAITING, priority=plan.hold_priority,
                queued_at=now or utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(hold)
    except IntegrityError:
        raise HoldError("You already hold this book.") from None
    audit.record("hold.placed", actor_id=user.id, object_type="hold", object_id=hold.id,
                 after={"book_id": book.id, "priority": hold.priority})
    # A copy may have come back between the stock check and now: serve the queue.
    allocate(book.id)
    return hold


def cancel(hold: Hold, user: User, *, reason: str = "Cancelled by the customer.") -> None:
    """Leave the queue (or give up a set-aside copy, which goes to the next in line)."""
    if hold.user_id != user.id:
        raise PermissionError("not your hold")
    close(hold, actor_id=user.id, reason=reason)


def close(hold: Hold, *, actor_id: int | None, reason: str, ip: str | None = None,
          action: str = "hold.cancelled") -> HoldStatus:
    """Cancel an open hold, by whoever: a set-aside copy goes to the next in line. Returns the status it had.
    Closes by the status the row really has now, not the one loaded earlier: a waiting hold may have been made
    ready (copy set aside) by a concurrent return since it was read."""
    was = None
    for status in (HoldStatus.READY, HoldStatus.WAITING):
        if move(hold.id, status, HoldStatus.CANCELLED, closed_at=utcnow()):
            was = status
            break
    if was is None:
        raise HoldError("This hold is already closed.")
    if was == HoldStatus.READY:
        stock.release([(hold.book_id, 1)], reference=_ref(hold.id), actor_id=actor_id)  # -> next in line
    db.session.refresh(hold)
    audit.record(action, actor_id=actor_id, object_type="hold", object_id=hold.id, ip=ip,
                 after={"was": was, "reason": reason})
    return was


def move(hold_id: int, from_status: HoldStatus, to_status: HoldStatus, *,
          where: Sequence[ColumnElement[bool]] = (), **values: object) -> bool:
    """The one way a hold's status changes: a conditional UPDATE that moves it only if it is still
    `from_status` (and `where` holds). A move HOLD_TRANSITIONS does not allow is refused (states.IllegalMove, a
    ValueError) before touching the row. True when this transaction made the move."""
    require_move(HOLD_TRANSITIONS, (from_status,), to_status, what="a hold")
    return bool(dml.changed(update(Hold).where(Hold.id == hold_id, Hold.status == from_status, *where)
                            .values(status=to_status, **values).execution_options(synchronize_session=False)))


def close_for_book(book: Book, *, actor_id: int | None, reason: str = "The book is no longer sold.") -> int:
    """The book leaves the shop (archived): every open hold on it is cancelled, set-aside copies go back on
    the shelf (no one is left to pass them to) and each customer is told. Returns how many were closed."""
    closed = 0
    for status in (HoldStatus.WAITING, HoldStatus.READY):  # waiting first: a released copy goes to no closing hold
        for hold in db.session.scalars(select(Hold).where(Hold.book_id == book.id, Hold.status == status)
                                       .order_by(Hold.id)).all():
            if not move(hold.id, status, HoldStatus.CANCELLED, closed_at=utcnow()):
                continue  # moved meanwhile (claimed at checkout, expired): nothing to do here
            if status == HoldStatus.READY:
                stock.release([(book.id, 1)], reference=_ref(hold.id), actor_id=actor_id, reallocate=False)
            audit.record("hold.cancelled", actor_id=actor_id, object_type="hold", object_id=hold.id,
                         after={"was": status, "reason": reason})
            user = accounts.reachable(hold.user_id)
            if user is not None:
                mail.send_template(user.email, "hold_book_withdrawn", name=user.display_name, book=book)
            closed += 1
    return closed


def cancel_all(user: User, reason: str) -> int:
    """Close every open hold of the customer (account deletion)."""
    holds = db.session.scalars(select(Hold).where(Hold.user_id == user.id, Hold.status.in_(OPEN_HOLD))).all()
    for hold in holds:
        cancel(hold, user, reason=reason)
    return len(holds)


# ---- the queue ----

def servable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """What a waiting hold must be for a copy to be set aside for it: not suspended ("not needed until ..."),
    and not past its "not needed after" date (closed by `hold_dates.close_unneeded`, perhaps not yet)."""
    return (Hold.suspended_at.is_(None), or_(Hold.not_needed_after.is_(None), Hold.not_needed_after >= now))


def _next_waiting(book_id: int, skip: set[int], now: datetime) -> Hold | None:
    """The first hold in queue order that can be served now: suspended ones keep their place, skipped."""
    stmt = (select(Hold).where(Hold.book_id == book_id, Hold.status == HoldStatus.WAITING, *servable(now))
            .order_by(Hold.priority, Hold.queued_at, Hold.id).limit(1))
    if skip:
        stmt = stmt.where(Hold.id.not_in(skip))
    return db.session.scalar(stmt)


def allocate(book_id: int, now: datetime | None = None) -> list[Hold]:
    """Set available copies aside for waiting holds, in queue order. Returns the holds made ready."""
    now = now or utcnow()
    ready: list[Hold] = []
    skip: set[int] = set()
    while True:
        hold = _next_waiting(book_id, skip, now)
        if hold is None:
            break
        try:
            stock.reserve([(book_id, 1)], reference=_ref(hold.id))
        except stock.SoldOut:
            break
        window = timedelta(days=subscriptions.for_priority(hold.priority).hold_window_days)
        if not move(hold.id, HoldStatus.WAITING, HoldStatus.READY, where=servable(now), ready_at=now,
                     expires_at=now + window):
            # cancelled or suspended meanwhile: the copy goes back and the next hold is tried
            stock.release([(book_id, 1)], reference=_ref(hold.id), reallocate=False)
            skip.add(hold.id)
            continue
        db.session.refresh(hold)
        ready.append(hold)
        _email_ready(hold)
    return ready


def claim_for_order(user_id: int, book_ids: Iterable[int], order_id: int) -> dict[int, int]:
    """At checkout: the customer's set-aside copies of these books pass to the order. Returns
    {book_id: 1} for each claimed hold; their reservations are released without re-allocation so the
    order can reserve them at once (the caller's transaction holds the inventory rows)."""
    claimed: dict[int, int] = {}
    holds = db.session.scalars(select(Hold).where(Hold.user_id == user_id, Hold.status == HoldStatus.READY,
                                                  Hold.book_id.in_(list(set(book_ids))))).all()
    for hold in holds:
        if move(hold.id, HoldStatus.READY, HoldStatus.FULFILLED, closed_at=utcnow(), order_id=order_id):
            stock.release([(hold.book_id, 1)], reference=_ref(hold.id), reallocate=False)
            claimed[hold.book_id] = 1
    return claimed


def reinstate_for_order(order_id: int, now: datetime | None = None) -> list[tuple[int, int]]:
    """The order that collected held copies was not paid: holds whose window is still open are ready again.
    Returns [(hold_id, book_id)] per reinstated hold: the caller moves those copies from the order back to it."""
    now = now or utcnow()
    kept = []
    for hold in db.session.scalars(select(Hold).where(Hold.order_id == order_id,
                                                      Hold.status == HoldStatus.FULFILLED)).all():
        if hold.expires_at and hold.expires_at > now and move(hold.id, HoldStatus.FULFILLED, HoldStatus.READY,
                                                               closed_at=None, order_id=None):
            kept.append((hold.id, hold.book_id))
    return kept


def ready_map(user_id: int | None, book_ids: Iterable[int]) -> dict[int, int]:
    """{book_id: copies set aside for this customer} (1 per ready hold)."""
    ids = list(set(book_ids))
    if user_id is None or not ids:
        return {}
    rows = db.session.execute(select(Hold.book_id, func.count()).where(
        Hold.user_id == user_id, Hold.status == HoldStatus.READY, Hold.book_id.in_(ids)).group_by(Hold.book_id))
    return {book_id: count for book_id, count in rows.all()}


# ---- expiry (jobs.membership, every few minutes) ----

def expire_due(now: datetime | None = None, limit: int = 500) -> int:
    """Close ready holds whose window has passed: optional no-show fee, copy to the next in line."""
    now = now or utcnow()
    due = db.session.scalars(select(Hold).where(Hold.status == HoldStatus.READY, Hold.expires_at < now)
                             .order_by(Hold.expires_at).limit(limit)).all()
    expired = 0
    fee = int(current_app.config["HOLD_NO_SHOW_FEE_CENTS"])
    for hold in due:
        if not move(hold.id, HoldStatus.READY, HoldStatus.EXPIRED, closed_at=now, fee_cents=fee):
            db.session.rollback()
            continue
        db.session.refresh(hold)
        if fee:
            paid = min(fee, wallet.balance(hold.user_id))
            if paid:
                wallet.debit(hold.user_id, paid, WalletReason.HOLD_FEE, reference=_ref(hold.id),
                             note=f"Held copy not collected: {hold.book.title}"[:200])
                hold.fee_paid_cents = paid
        user = accounts.reachable(hold.user_id)
        if user is not None:
            mail.send_template(user.email, "hold_expired", name=user.display_name, hold=hold, fee_cents=fee)
        stock.release([(hold.book_id, 1)], reference=_ref(hold.id))  # -> next in line, who is emailed
        db.session.commit()
        expired += 1
    return expired


# ---- reading ----

def open_hold(user_id: int, book_id: int) -> Hold | None:
    """The customer's waiting or ready hold on the book (at most one, by a unique index)."""
    return db.session.scalar(select(Hold).where(Hold.user_id == user_id, Hold.book_id == book_id,
                                                Hold.status.in_(OPEN_HOLD)))


def position(hold: Hold) -> int | None:
    """1 for the next in line. None once the hold is not waiting."""
    if not hold.is_waiting:
        return None
    ahead = db.session.scalar(select(func.count()).select_from(Hold).where(
        Hold.book_id == hold.book_id, Hold.status == HoldStatus.WAITING,
        or_(Hold.priority < hold.priority,
            and_(Hold.priority == hold.priority,
                 or_(Hold.queued_at < hold.queued_at, and_(Hold.queued_at == hold.queued_at, Hold.id < hold.id))))))
    return (ahead or 0) + 1


def positions(hold_list: Sequence[Hold]) -> dict[int, int]:
    """{hold id: queue position} for the waiting holds among `hold_list`, in one query."""
    waiting = [h for h in hold_list if h.is_waiting]
    if not waiting:
        return {}
    rank = func.row_number().over(partition_by=Hold.book_id, order_by=(Hold.priority, Hold.queued_at, Hold.id))
    ranked = (select(Hold.id.label("id"), rank.label("pos"))
              .where(Hold.status == HoldStatus.WAITING, Hold.book_id.in_({h.book_id for h in waiting})).subquery())
    wanted = [h.id for h in waiting]
    rows = db.session.execute(select(ranked.c.id, ranked.c.pos).where(ranked.c.id.in_(wanted))).all()
    return dict(cast("list[tuple[int, int]]", rows))  # a subquery's columns are untyped: both are integers


def queue_length(book_id: int) -> int:
    """Readers waiting for the book (a renewal is refused while anyone is)."""
    return db.session.scalar(select(func.count()).select_from(Hold)
                             .where(Hold.book_id == book_id, Hold.status == HoldStatus.WAITING)) or 0


def for_user(user_id: int) -> tuple[list[tuple[Hold, int | None]], list[Hold]]:
    """(open holds with their queue position, recent closed holds)."""
    holds = db.session.scalars(select(Hold).where(Hold.user_id == user_id)
                               .order_by(Hold.queued_at.desc(), Hold.id.desc()).limit(200)).all()
    where = positions(holds)
    open_ = [(h, where.get(h.id)) for h in holds if h.status in OPEN_HOLD]
    open_.sort(key=lambda pair: (not pair[0].is_ready, pair[1] or 0))
    return open_, [h for h in holds if h.status not in OPEN_HOLD][:50]


ADMIN_VIEWS = {"ready": "Set aside", "waiting": "Waiting", "closed": "Closed"}


def admin_list(view: str = "ready", page: int = 1, per_page: int = 25) -> paging.Page:
    """The staff list for one of ADMIN_VIEWS: set-aside copies by expiry, waiting holds by queue, or closed holds,
    newest first."""
    stmt = select(Hold)
    if view == "waiting":
        stmt = stmt.where(Hold.status == HoldStatus.WAITING).order_by(Hold.book_id, Hold.priority, Hold.queued_at,
                                                                      Hold.id)
    elif view == "ready":
        stmt = stmt.where(Hold.status == HoldStatus.READY).order_by(Hold.expires_at, Hold.id)
    else:
        stmt = stmt.where(Hold.status.not_in(OPEN_HOLD)).order_by(Hold.closed_at.desc(), Hold.id.desc())
    return paging.paginate(stmt, page, per_page)


def unpaid_fees_cents(user_id: int) -> int:
    """No-show fees the wallet could not cover: they block renting, as late fees do."""
    return db.session.scalar(select(func.coalesce(func.sum(Hold.fee_cents - Hold.fee_paid_cents - Hold.fee_waived_cents), 0))
                             .where(Hold.user_id == user_id)) or 0


def _email_ready(hold: Hold) -> None:
    user = accounts.reachable(hold.user_id)
    if user is not None:
        mail.send_template(user.email, "hold_ready", name=user.display_name, hold=hold)


@dataclass
class Panel:
    """What the book page says about holds for this shopper."""

    hold: Hold | None = None
    position: int | None = None
    waiting: int = 0  # readers in the queue
    held: int = 0  # copies set aside for this shopper


def panel(user: User | None, book_id: int) -> Panel:
    """The book page's holds box for this shopper (visitors see only the queue length)."""
    result = Panel(waiting=queue_length(book_id))
    if user is not None and getattr(user, "is_authenticated", False):
        result.hold = open_hold(user.id, book_id)
        if result.hold is not None:
            result.position = position(result.hold)
            result.held = 1 if result.hold.is_ready else 0
    return result
