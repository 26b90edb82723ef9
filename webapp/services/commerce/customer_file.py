"""What staff see of one customer on the admin customer page (/admin/users/<id>), one function per tab.

Every list is bounded (a page, or a fixed number of the newest rows) and loaded in a fixed number of queries:
books come joined with their rentals and holds, order numbers joined with the rentals, queue positions in one
query (holds.positions), so a customer with many rows costs the same number of queries as one with a few.
The wallet statement is services.circulation.wallet.statement; the sessions list services.people.sessions.active.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from ...extensions import db
from ...models import Hold, Order, Rental, utcnow
from ...models.membership import Tier
from ...models.orders import RentalStatus
from ..circulation import holds, plan_staff, rentals, subscriptions
from ..platform import paging

RETURNED_SHOWN = 50  # the newest returned rentals on the Rentals tab


def orders(user_id: int, page: int = 1, per_page: int = 25) -> paging.Page:
    """The customer's orders, newest first, a page at a time."""
    return paging.paginate(select(Order).where(Order.user_id == user_id)
                           .order_by(Order.created_at.desc(), Order.id.desc()), page, per_page)


@dataclass(frozen=True)
class RentalLine:
    rental: Rental
    order_number: str
    state: rentals.LoanState  # where the copy is (rentals.loan_state), as the customer's own page says
    late_days: int  # started days overdue (rentals.overdue_days: stops counting once sent back)
    fee_cents: int  # the late fee so far (charged or accrued)
    due_cents: int  # what is still owed on it (fees less paid and waived)


@dataclass(frozen=True)
class RentalsTab:
    out: list[RentalLine]  # on its way, with the customer, sent back, or lost
    returned: list[RentalLine]  # the newest RETURNED_SHOWN


def _lines(stmt: Select[Rental, str], now: datetime) -> list[RentalLine]:
    lines = []
    for rental, number in db.session.execute(stmt):
        fee = rentals.accrued_fee_cents(rental, now)  # the charged fee once returned or lost
        lines.append(RentalLine(rental, number, rentals.loan_state(rental), rentals.overdue_days(rental, now), fee,
                                max(0, fee - rental.fee_paid_cents - rental.fee_waived_cents)))
    return lines


def rentals_of(user_id: int, now: datetime | None = None) -> RentalsTab:
    """Books out now (soonest due first; on their way last) and the newest returned ones."""
    now = now or utcnow()
    base = select(Rental, Order.number).join(Order, Order.id == Rental.order_id).where(Rental.user_id == user_id)
    out = _lines(base.where(Rental.status != RentalStatus.RETURNED)
                 .order_by(Rental.due_at.is_(None), Rental.due_at, Rental.id).limit(200), now)
    returned = _lines(base.where(Rental.status == RentalStatus.RETURNED)
                      .order_by(Rental.returned_at.desc(), Rental.id.desc()).limit(RETURNED_SHOWN), now)
    return RentalsTab(out, returned)


def holds_of(user_id: int) -> tuple[list[tuple[Hold, int | None]], list[Hold]]:
    """(open holds with their queue position, recent closed holds), as the customer's own holds page has them."""
    return holds.for_user(user_id)


@dataclass(frozen=True)
class PlanTab:
    tier: subscriptions.Plan
    next_tier: subscriptions.Plan | None  # what the plan becomes at period_end (None: renews as it is)
    period_start: datetime | None
    period_end: datetime | None
    comped_until: datetime | None
    comped: bool
    stamp: str  # the plan as shown, for the comp and cancel forms (plan_staff)
    refund_now_cents: int  # what cancelling now would refund
    paid_tiers: list[subscriptions.Plan]


def plan_of(user_id: int, now: datetime | None = None) -> PlanTab:
    now = now or utcnow()
    sub = subscriptions.subscription_of(user_id)
    current = subscriptions.tier(sub.tier if sub else Tier.FREE)
    nxt = subscriptions.tier(sub.next_tier) if sub is not None and sub.next_tier else None
    return PlanTab(tier=current, next_tier=nxt, period_start=sub.current_period_start if sub else None,
                   period_end=sub.current_period_end if sub else None,
                   comped_until=sub.comped_until if sub else None, comped=subscriptions.is_comped(sub, now),
                   stamp=plan_staff.stamp(sub), refund_now_cents=plan_staff.unused_refund_cents(sub, now),
                   paid_tiers=[t for t in subscriptions.all_tiers() if not t.is_free])
