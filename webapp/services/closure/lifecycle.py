"""What the rest of the shop says when an account is deleted: one list, in one place.

Payments still open (a checkout or a top-up waiting on its payment page) are closed at the provider
first, so nothing can be paid once the account is gone; a payment that got in first is applied, and
then counts as what it is (an order to ship, money in the wallet). Orders stay (their personal fields
are anonymised); money in the wallet, books still out on rental and orders not yet shipped block
deletion until they are settled. Open holds are cancelled (a copy set aside goes to the next reader)
and a paid plan simply ends.
"""
from __future__ import annotations

from sqlalchemy import select

from ...extensions import db
from ...models import Charge, Order, Subscription, User
from ...models.membership import Tier
from ...models.orders import OrderStatus
from ...models.payments import ChargeStatus
from ..circulation import holds, wallet
from ..commerce import charges, fulfilment, orders, payment_events, payments


def close_open_payments(user: User) -> None:
    """Close the customer's open payment pages at the provider, one at a time outside any transaction, and
    settle what they were for (the checkout is cancelled and its stock, code and wallet part go back; the
    top-up closes). Commits after each. Raises PaymentError if the provider cannot be reached: deletion
    waits rather than leave a page that could still take money."""
    db.session.rollback()
    pending_orders = db.session.scalars(
        select(Order).where(Order.user_id == user.id, Order.status == OrderStatus.PENDING_PAYMENT)).all()
    for order in pending_orders:
        try:
            fulfilment.cancel_unpaid(order, reason="Account deleted.", actor_id=user.id)
        except payments.AlreadyPaid:  # only an order with a payment page can have been paid meanwhile
            db.session.rollback()
            if order.payment_session_id:
                payment_events.apply_provider_state(payments.gateway(order.payment_provider)
                                                    .retrieve(order.payment_session_id))
        db.session.commit()
    pending = db.session.scalars(select(Charge).where(Charge.user_id == user.id, Charge.status == ChargeStatus.PENDING)).all()
    for charge in pending:
        provider, session_id = charge.payment_provider, charge.payment_session_id
        if session_id:
            try:
                payments.close_page(provider, session_id)
            except payments.AlreadyPaid:
                payment_events.apply_provider_state(payments.gateway(provider).retrieve(session_id))
                db.session.commit()
                continue
        current = db.session.get(Charge, charge.id)  # as it is now, after the provider was asked
        if current is not None:
            charges.expire_charge(current)
        db.session.commit()


def deletion_blockers(user: User) -> list[str]:
    """What must be settled first: orders not yet shipped, books still out, money left in the wallet."""
    return orders.deletion_blockers(user) + wallet.deletion_blockers(user)


def before_delete(user: User) -> None:
    """Everything but the person's own data, in the deletion's transaction."""
    holds.cancel_all(user, "Account deleted.")
    orders.anonymise_orders(user)
    _end_plan(user)


def _end_plan(user: User) -> None:
    sub = db.session.get(Subscription, user.id)
    if sub is not None:
        sub.tier, sub.next_tier, sub.current_period_end = Tier.FREE, None, None
