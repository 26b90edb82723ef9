"""Orders after checkout: cancellation and refunds, staff operations (mark paid, ship, deliver, refund),
reading, and what account deletion does to them. Checkout is services.commerce.checkout; payment outcomes are
services.commerce.fulfilment.

State changes are conditional updates on the order's status (services.commerce.order_state), so when a customer
and staff (or two staff) act at once, one wins and the other is told. Card refunds go through the outbox
(services.commerce.payments.request_refund): never lost, never sent for a transaction that rolled back.
"""
from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time

from sqlalchemy import func, or_, select, update

from ...extensions import db
from ...models import ORDER_STATUSES, PAID_STATUSES, Order, OrderEvent, OrderStatus, Rental, User, staff_moves, utcnow
from ...models.orders import DeliveryMethod, RentalStatus
from ..circulation import fees, loans, wallet
from ..platform import audit, paging
from ..platform.money import money
from . import fulfilment, order_mail, payments
from .order_state import OrderStateError, event, lock_customer, transition
from .timeline import staff_note

log = logging.getLogger(__name__)
CUSTOMER_CANCEL = staff_note("cancelled_by_customer")


# ---- cancelling and refunds ----

def cancel(order: Order, *, actor: User, reason: str = CUSTOMER_CANCEL, ip: str | None = None,
           refund_to: str = "card", close_now: bool = True) -> None:
    """Cancel before shipping. Unpaid: the payment page is closed (at the provider first, when `close_now`:
    raises AlreadyPaid if the customer paid before it closed) and the stock released. Paid: stock returns and
    the payment is refunded, to the card (through the outbox) or at once to the customer's wallet (always, if
    the wallet paid). Staff may also record `refund_to="manual"` for an order paid outside the shop."""
    before = order.status
    if order.status == OrderStatus.PAID:
        _check_refund_to(order, refund_to)
    if order.status == OrderStatus.PENDING_PAYMENT:
        if not fulfilment.cancel_unpaid(order, reason=reason, actor_id=actor.id, close_now=close_now):
            raise OrderStateError("This order changed meanwhile; please reload.")
    elif order.status == OrderStatus.PAID:
        lock_customer(order)
        if not transition(order.id, (OrderStatus.PAID,), OrderStatus.CANCELLED, cancelled_at=utcnow()):
            raise OrderStateError("This order changed meanwhile; please reload.")
        db.session.refresh(order)
        fulfilment.reverse_sale(order, actor.id, "order cancelled before shipping")
        event(order, OrderStatus.CANCELLED, reason, actor.id)
        to_wallet, to_card = _pay_back(order, refund_to, actor, "cancelled")
        order_mail.send_cancelled(order, refunded=True, wallet_cents=to_wallet, card_cents=to_card,
                                  rest_to="you the way you paid" if refund_to == "manual" else "your card")
    else:
        raise OrderStateError(f"An order that is {order.status_words} cannot be cancelled.")
    audit.record("order.cancelled", actor_id=actor.id, object_type="order", object_id=order.number, ip=ip,
                 before={"status": before}, after={"status": order.status, "reason": reason} | (
                     {"refund_to": refund_to} if before == OrderStatus.PAID else {}))


def _pay_back(order: Order, refund_to: str, actor: User, verb: str) -> tuple[int, int]:
    """Give back what the customer paid for this order and has not had back yet (a refund already made at the
    provider counts): to the wallet at once (the wallet part always; everything with refund_to="wallet"), the
    rest to the card through the outbox, or recorded as refunded outside the shop. Returns (to wallet, to card
    or outside)."""
    owed = order.total_cents - order.refunded_cents
    to_wallet = 0
    if order.user_id is not None:
        to_wallet = min(owed, order.total_cents if refund_to == "wallet" else order.wallet_cents)
    if to_wallet and order.user_id is not None:
        wallet.credit(order.user_id, to_wallet, "refund", reference=order.number, note=f"Order {order.number} {verb}",
                      actor_id=actor.id)
        fees.settle(order.user_id)  # money back in the wallet pays fees due first
        event(order, OrderStatus.REFUNDED if to_wallet == owed else order.status,
              staff_note("refund_to_wallet", amount=money(to_wallet)), actor.id)
    rest = owed - to_wallet
    if rest and refund_to == "manual":
        event(order, OrderStatus.REFUNDED, staff_note("refund_outside", amount=money(rest)), actor.id)
    elif rest:
        _refund_card(order, rest)
        event(order, OrderStatus.REFUNDED, staff_note("refund_to_card", amount=money(rest)), actor.id)
    settled = order.total_cents if (not rest or refund_to == "manual") else order.refunded_cents + to_wallet
    order.refunded_cents = settled
    if settled >= order.total_cents:
        order.refunded_at = utcnow()
        transition(order.id, (OrderStatus.CANCELLED,), OrderStatus.REFUNDED)
        db.session.refresh(order)
    return to_wallet, rest


def _refund_card(order: Order, cents: int) -> None:
    """Refund `cents` to the card that paid: the payment intent actually charged, through the outbox (once,
    after commit); the provider's refund event confirms it (fulfilment.refund_confirmed)."""
    if not order.payment_intent_id:
        raise OrderStateError("Nothing was paid by card, so there is nothing to refund to a card.")
    payments.request_refund(provider=order.payment_provider, payment_intent_id=order.payment_intent_id,
                            amount_cents=cents, currency=order.currency, key=f"refund-{order.number}",
                            reason="order cancelled or refunded", order_number=order.number)


# ---- staff operations (admin panel) ----
# Each one checks the order's current status, then moves it with a conditional update: when two people act
# at once, one wins and the other gets OrderStateError. Each writes an OrderEvent with the staff member as
# actor and an audit entry with the status before and after. The caller commits, or rolls back on error.

MANUAL_PROVIDER = "manual"
REFUND_TO = {
    "card": "The card (through the payment provider)",
    "wallet": "The customer's wallet (instant)",
    "manual": "Refunded outside the shop (record only; for manual payments)",
}
# Each staff action and the status it moves an order to. Which of them an order offers is not listed anywhere:
# it follows from models.ORDER_TRANSITIONS (see allowed_actions).
STAFF_ACTIONS: dict[str, OrderStatus] = {
    "mark_paid": OrderStatus.PAID,
    "ship": OrderStatus.SHIPPED,
    "deliver": OrderStatus.DELIVERED,
    "collected": OrderStatus.DELIVERED,  # a collect-in-store order handed over at the counter
    "cancel": OrderStatus.CANCELLED,
    "refund": OrderStatus.REFUNDED,
}


def allowed_actions(order: Order) -> set[str]:
    """What staff can do to the order now: the actions whose move the transition table allows from its status
    (less the moves only a payment makes). The page shows these; each operation checks again."""
    moves = staff_moves(order.status, order.delivery_method)
    other = "deliver" if order.delivery_method == DeliveryMethod.COLLECT else "collected"
    return {action for action, to in STAFF_ACTIONS.items() if to in moves and action != other}


def _check_allowed(order: Order, action: str, what: str) -> None:
    if action not in allowed_actions(order):
        raise _refused(order, what)


def _refused(order: Order, what: str) -> OrderStateError:
    return OrderStateError(f"Order {order.number} is {order.status_words}, so it cannot be {what}.")


def _lost_race(order: Order, what: str) -> OrderStateError:
    db.session.refresh(order)
    return OrderStateError(f"Order {order.number} was changed by someone else meanwhile (it is now "
                           f"{order.status_words}), so it was not {what}. Check the timeline.")


def _note(text: str | None, what: str, *, required: bool, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    if required and not text:
        raise OrderStateError(f"Enter {what}.")
    if len(text) > limit:
        raise OrderStateError(f"Keep {what} under {limit} characters.")
    return text


def _check_refund_to(order: Order, refund_to: str) -> None:
    if refund_to not in REFUND_TO:
        raise OrderStateError("Choose where the refund goes.")
    manual = order.payment_provider == MANUAL_PROVIDER
    if manual and refund_to == "card" and order.card_cents:
        raise OrderStateError("This order was paid outside the shop's checkout, so the money cannot go back to a "
                              "card: refund it to the wallet (or staff: record a refund made outside the shop).")
    if refund_to == "manual" and not manual and order.card_cents:
        raise OrderStateError("This order was paid by card: refund it to the card or to the wallet.")
    if refund_to == "wallet" and not order.user_id:
        if order.guest:  # placed without an account: the money goes back the way it came
            raise OrderStateError("This order was placed without an account, so there is no wallet to refund to: "
                                  "refund it to the card.")
        raise OrderStateError("The customer's account is gone, so there is no wallet to refund to.")


def _staff_audit(action: str, order: Order, actor: User, before: str, ip: str | None, **after: object) -> None:
    audit.record(action, actor_id=actor.id, object_type="order", object_id=order.number, ip=ip,
                 before={"status": before}, after={"status": order.status, **after})


def mark_paid(order: Order, *, actor: User, reference: str, ip: str | None = None) -> None:
    """Record a payment taken outside the checkout (bank transfer, cash ...) for an unpaid order. The sale
    then completes exactly as after a gateway payment. An expired order can be marked paid only if its stock
    (and any wallet part) can be taken again."""
    reference = _note(reference, "the payment reference or a note", required=True)
    _check_allowed(order, "mark_paid", "marked paid")
    before = OrderStatus(order.status)
    if before == OrderStatus.PENDING_PAYMENT and order.payment_session_id:
        try:  # close the online payment page first (outside any transaction), so nobody can pay it twice
            payments.close_page(order.payment_provider, order.payment_session_id)
        except payments.AlreadyPaid:
            raise OrderStateError(f"The customer has already paid order {order.number} online: wait for the "
                                  "payment to be confirmed instead of marking it paid.") from None
        except payments.PaymentError as exc:
            raise OrderStateError(f"The online payment page of order {order.number} could not be closed ({exc}), "
                                  "so it was not marked paid: try again in a moment.") from None
        db.session.refresh(order)
        if order.status != before:
            raise _refused(order, "marked paid")
    elif before == OrderStatus.EXPIRED:
        if order.payment_intent_id:
            raise OrderStateError(f"A card payment for order {order.number} arrived after it expired and is being "
                                  "refunded, so it cannot be marked paid. Ask the customer to order again.")
        lock_customer(order)  # before its stock: the one lock order (services.platform.locks)
        problem = fulfilment.retake(order)
        if problem:
            raise OrderStateError(f"Order {order.number} expired and {problem}, so it cannot be marked paid. "
                                  "Ask the customer to order again.")
    lock_customer(order)
    if not transition(order.id, (before,), OrderStatus.PAID, paid_at=utcnow(), payment_provider=MANUAL_PROVIDER,
                      payment_intent_id=None):
        raise _lost_race(order, "marked paid")
    db.session.refresh(order)
    fulfilment.complete_sale(order, staff_note("paid_outside", reference=reference), actor.id)
    _staff_audit("order.marked_paid", order, actor, before, ip, payment_provider=MANUAL_PROVIDER, reference=reference)


def mark_shipped(order: Order, *, actor: User, tracking: str | None = None, ip: str | None = None) -> None:
    """Paid → shipped; the customer gets the shipped email (with the tracking note, if any)."""
    tracking = _note(tracking, "the tracking note", required=False)
    _check_allowed(order, "ship", "shipped")
    if not transition(order.id, (OrderStatus.PAID,), OrderStatus.SHIPPED, shipped_at=utcnow()):
        raise _lost_race(order, "shipped")
    db.session.refresh(order)
    event(order, OrderStatus.SHIPPED,
          staff_note("shipped_tracking", tracking=tracking) if tracking else staff_note("shipped"), actor.id)
    order_mail.send_shipped(order, tracking or None)
    _staff_audit("order.shipped", order, actor, OrderStatus.PAID, ip,
                 **({"tracking": tracking} if tracking else {}))


def mark_delivered(order: Order, *, actor: User, ip: str | None = None) -> None:
    """Shipped → delivered (a posted order): its rentals' loans start now."""
    _check_allowed(order, "deliver", "marked delivered")
    _hand_over(order, OrderStatus.SHIPPED, "delivered", "order.delivered", "marked delivered", actor, ip)


def mark_collected(order: Order, *, actor: User, ip: str | None = None) -> None:
    """Paid → delivered for an order collected in store (the customer took it at the counter): its rentals'
    loans start now. A posted order cannot be "collected" (order_state refuses the move for it)."""
    if order.delivery_method != DeliveryMethod.COLLECT:
        raise OrderStateError(f"Order {order.number} is sent by post, so it cannot be collected in store: mark it "
                              "shipped, then delivered.")
    _check_allowed(order, "collected", "marked collected")
    _hand_over(order, OrderStatus.PAID, "collected", "order.collected", "marked collected", actor, ip)


def _hand_over(order: Order, from_status: OrderStatus, kind: str, action: str, done: str, actor: User,
               ip: str | None) -> None:
    """The books reached the customer (delivered or collected): the order moves to delivered once, and the loan
    clock of its rentals starts now, in the same transaction."""
    now = utcnow()
    if not transition(order.id, (from_status,), OrderStatus.DELIVERED, delivered_at=now):
        raise _lost_race(order, done)
    db.session.refresh(order)
    started = loans.start_for_order(order.id, now)
    note = staff_note(f"{kind}_loans", loans=f"{started} rental loan{'s' if started != 1 else ''}") if started \
        else staff_note(kind)
    event(order, OrderStatus.DELIVERED, note, actor.id)
    _staff_audit(action, order, actor, from_status, ip, **_started(started))



def _started(started: int) -> dict[str, int]:
    return {"rentals_started": started} if started else {}


def staff_cancel(order: Order, *, actor: User, reason: str, refund_to: str = "card", ip: str | None = None) -> None:
    """Cancel an unpaid or paid order (stock returns; a paid order is refunded in full), via `cancel`."""
    reason = _note(reason, "the reason for cancelling", required=True)
    _check_allowed(order, "cancel", "cancelled")
    try:
        cancel(order, actor=actor, reason=staff_note("cancelled_by_staff", reason=reason), ip=ip, refund_to=refund_to)
    except payments.AlreadyPaid:
        raise OrderStateError(f"The customer paid order {order.number} online just now, so it was not cancelled. "
                              "Reload: once the payment shows, you can cancel and refund it.") from None


def refund(order: Order, *, actor: User, reason: str, refund_to: str = "card", ip: str | None = None) -> None:
    """A full refund. Paid but not shipped: the order is cancelled (stock returns) and refunded. Shipped or
    delivered: the order becomes refunded at once; the wallet part (or everything, to the wallet) is credited
    now, a card part is refunded through the payment provider and confirmed by its webhook. Goods already sent
    stay with the customer (rentals stay out until returned). Partial refunds are not supported: the order
    has one refunded amount and no partially-refunded state."""
    reason = _note(reason, "the reason for the refund", required=True)
    if order.status == OrderStatus.REFUNDED:
        raise OrderStateError(f"Order {order.number} was already refunded.")
    _check_allowed(order, "refund", "refunded")
    if order.status == OrderStatus.PAID:  # not shipped yet: called off (its books come back), then refunded
        cancel(order, actor=actor, reason=staff_note("cancelled_refunded_by_staff", reason=reason), ip=ip,
               refund_to=refund_to)
        return
    _check_refund_to(order, refund_to)
    before = order.status
    if not transition(order.id, (OrderStatus.SHIPPED, OrderStatus.DELIVERED), OrderStatus.REFUNDED):
        raise _lost_race(order, "refunded")
    db.session.refresh(order)
    event(order, OrderStatus.REFUNDED, staff_note("refunded_by_staff", reason=reason), actor.id)
    to_wallet, to_card = _pay_back(order, refund_to, actor, "refunded")
    order_mail.send_refunded(order, to_wallet, to_card,
                             "you the way you paid" if refund_to == "manual" else "your card")
    _staff_audit("order.refunded", order, actor, before, ip, refund_to=refund_to, amount_cents=order.total_cents,
                 reason=reason)


def admin_list(*, q: str = "", status: str = "", dates: str = "created", date_from: date | None = None,
               date_to: date | None = None, page: int = 1, per_page: int = 25) -> paging.Page:
    """Orders for the admin list, newest first, each with its customer's username: rows of (Order, username).
    `q` matches the order number, the email or the username; `dates` is "created" or "paid" for the range
    (whole UTC days, both ends included)."""
    stmt = select(Order, User.username).outerjoin(User, User.id == Order.user_id)
    if status in ORDER_STATUSES:
        stmt = stmt.where(Order.status == status)
    elif status == "sales":  # what the admin home and the reports count as sales
        stmt = stmt.where(Order.status.in_(PAID_STATUSES))
    q = " ".join((q or "").split())[:100]
    if q:
        number = q.upper()
        if len(number) == 17 and number.startswith("FO-"):
            stmt = stmt.where(Order.number == number)
        else:
            text = q.lower()
            stmt = stmt.where(or_(Order.number.contains(number, autoescape=True),
                                  func.lower(Order.email).contains(text, autoescape=True),
                                  func.lower(User.username).contains(text, autoescape=True)))
    column = Order.paid_at if dates == "paid" else Order.created_at
    if date_from is not None:
        stmt = stmt.where(column >= datetime.combine(date_from, time.min, UTC))
    if date_to is not None:
        stmt = stmt.where(column <= datetime.combine(date_to, time.max, UTC))  # 9999-12-31 must not overflow
    return paging.paginate(stmt.order_by(Order.created_at.desc(), Order.id.desc()), page, per_page, scalars=False)


def actor_names(events: list[OrderEvent]) -> dict[int, str]:
    """{user id: username} for the staff and customers in a timeline, in one query."""
    ids = {e.actor_id for e in events if e.actor_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


# ---- reading ----

def for_user(user: User, limit: int = 50) -> list[Order]:
    return list(db.session.scalars(select(Order).where(Order.user_id == user.id)
                                   .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)))


def page_for_user(user: User, cursor: str | None, limit: int) -> paging.CursorPage:
    """The customer's orders newest first, `limit` after `cursor` (the JSON API's keyset pages, on
    ix_orders_user_created). Raises paging.BadCursor for a cursor it did not hand out."""
    return paging.keyset(select(Order).where(Order.user_id == user.id), Order.created_at, Order.id, cursor, limit)


def by_number(number: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.number == (number or "")[:20]))


def timeline(order: Order) -> list[OrderEvent]:
    return list(db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)))


# ---- account closing (see services.closure) ----

def deletion_blockers(user: User) -> list[str]:
    """Why this customer's account cannot be closed yet (books out, orders not shipped); empty when it can."""
    rentals = db.session.scalar(select(func.count()).select_from(Rental)
                                .where(Rental.user_id == user.id, Rental.status == RentalStatus.ACTIVE)) or 0
    unshipped = db.session.scalar(select(func.count()).select_from(Order)
                                  .where(Order.user_id == user.id, Order.status == OrderStatus.PAID)) or 0
    reasons = []
    if rentals:
        reasons.append(f"You still have {rentals} rented book{'s' if rentals != 1 else ''} to return.")
    if unshipped:
        reasons.append(f"{unshipped} order{'s have' if unshipped != 1 else ' has'} not shipped yet; "
                       "wait for it to ship or cancel it first.")
    return reasons


def anonymise_orders(user: User) -> None:
    """Orders stay for the accounts; the personal details on them go."""
    unpaid = select(Order).where(Order.user_id == user.id, Order.status == OrderStatus.PENDING_PAYMENT)
    for order in db.session.scalars(unpaid):
        # Inside the deletion's transaction: the payment page closes through the outbox after commit.
        cancel(order, actor=user, reason="Account deleted.", close_now=False)
    db.session.execute(
        update(Order).where(Order.user_id == user.id)
        .values(email=f"deleted-{user.id}@deleted.invalid", ship_name="Deleted customer", ship_line1="(removed)",
                ship_line2=None, ship_city="(removed)", ship_region=None, ship_postcode="(removed)", ship_phone=None)
        .execution_options(synchronize_session=False))
