"""Orders: checkout (atomic stock reservation), fulfilment, expiry, cancellation and refunds.

State changes are conditional updates on the order's status, so each transition happens
exactly once however many webhooks, success-page visits and sweeper runs race for it.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ..extensions import db
from ..models import (
    ORDER_STATUSES,
    PAID_STATUSES,
    Book,
    DiscountCode,
    DiscountRedemption,
    Order,
    OrderEvent,
    OrderLine,
    Rental,
    User,
    utcnow,
)
from . import audit, cart, mail, payments, stock, wallet
from .money import money
from .stock import SoldOut

log = logging.getLogger(__name__)
_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class CheckoutError(ValueError):
    pass


class OrderStateError(ValueError):
    pass


def new_number() -> str:
    """Non-guessable, easy to read aloud: FO-XXXX-XXXX-XXXX (32^12, 60 bits)."""
    raw = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(12))
    return f"FO-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _event(order: Order, status: str, note: str | None = None, actor_id: int | None = None) -> None:
    db.session.add(OrderEvent(order_id=order.id, status=status, note=note, actor_id=actor_id))


def _transition(order_id: int, from_statuses: tuple[str, ...], to_status: str, **values) -> bool:
    """Move the order to `to_status` if it is still in one of `from_statuses`; True if this call did it."""
    result = db.session.execute(
        update(Order).where(Order.id == order_id, Order.status.in_(from_statuses))
        .values(status=to_status, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _stock_lines(order: Order, mode: str | None = None) -> list[tuple[int, int]]:
    return [(line.book_id, line.quantity) for line in order.lines
            if line.book_id is not None and (mode is None or line.mode == mode)]


# ---- checkout ----

@dataclass
class ShippingAddress:
    full_name: str
    line1: str
    city: str
    postcode: str
    country: str
    line2: str | None = None
    region: str | None = None
    phone: str | None = None


def start_checkout(user: User, items: list[cart.CartItem], address: ShippingAddress, *, code: str | None,
                   success_url, cancel_url, use_wallet: bool = False) -> tuple[Order, str]:
    """Create the order, reserve its stock and open a payment session. Returns (order, payment URL).

    Raises CheckoutError (nothing to buy, not verified, prices moved) or SoldOut; the caller rolls
    back on error so nothing is half-written."""
    if not user.is_verified:
        raise CheckoutError("Please confirm your email address before checking out.")
    if not items:
        raise CheckoutError("Your cart is empty.")
    if any(i.mode == "rent" for i in items):
        _check_rental_allowance(user, items)
    snapshot = [cart.CartItem(**vars(i)) for i in items]
    priced = cart.view(snapshot, user=user, code=code)
    if priced.changes:
        raise CheckoutError("Your cart changed: " + " ".join(priced.changes))
    if code and priced.quote.discount is None:
        raise CheckoutError(priced.quote.discount_error or "That discount code cannot be used.")
    quote = priced.quote
    config = current_app.config
    order = Order(
        number=new_number(), user_id=user.id, status="pending_payment", email=user.email,
        ship_name=address.full_name, ship_line1=address.line1, ship_line2=address.line2, ship_city=address.city,
        ship_region=address.region, ship_postcode=address.postcode, ship_country=address.country.upper(),
        ship_phone=address.phone, currency=config["CURRENCY"], subtotal_cents=quote.subtotal_cents,
        discount_cents=quote.discount_cents, member_discount_cents=quote.member_discount_cents, shipping_cents=quote.shipping_cents, tax_cents=quote.tax_cents,
        total_cents=quote.total_cents, discount_code_id=quote.discount.id if quote.discount else None,
        payment_provider=payments.provider_name(),
        reservation_expires_at=utcnow() + timedelta(minutes=config["CHECKOUT_EXPIRY_MINUTES"]),
    )
    for line in priced.lines:
        order.lines.append(OrderLine(
            book_id=line.book.id, title=line.book.title, isbn13=line.book.isbn13, mode=line.item.mode,
            rental_days=line.item.days if line.item.mode == "rent" else None, quantity=line.item.quantity,
            unit_cents=line.unit_cents, line_cents=line.line_cents))
    db.session.add(order)
    db.session.flush()
    # Copies set aside for this customer by their holds pass to the order first (services.holds).
    from . import holds

    holds.claim_for_order(user.id, [book_id for book_id, _ in _stock_lines(order)], order.id)
    # Re-checked here, on the final POST, whatever the cart page said: all lines or none.
    stock.reserve(_stock_lines(order), reference=order.number, actor_id=user.id)
    if quote.discount is not None:
        _redeem(quote.discount, order, user)
    _event(order, "pending_payment", "Checkout started; stock reserved for "
           f"{config['CHECKOUT_EXPIRY_MINUTES']} minutes.")
    if use_wallet:
        balance = wallet.balance(user.id)
        if balance >= order.total_cents:
            return order, _pay_from_wallet(order, user, success_url(order))
        if balance > 0:  # the wallet pays what it can now; the card pays the rest
            wallet.debit(user.id, balance, "order_payment", reference=order.number, note=f"Order {order.number} (part)")
            order.wallet_cents = balance
    session = payments.gateway().create_checkout(payments.order_request(order), success_url(order), cancel_url(order))
    order.payment_session_id = session.id
    return order, session.url


def _check_rental_allowance(user: User, items: list[cart.CartItem]) -> None:
    """Rentals within the plan: no overdue book or unpaid fee, loans within the plan's length, and no more
    books at once (rentals out + open holds) than the plan allows."""
    from . import holds, subscriptions
    from .rentals import rental_block_reason

    holds.lock_member(user.id)
    reason = rental_block_reason(user)
    if reason:
        raise CheckoutError(reason)
    plan = subscriptions.tier_of(user)
    rented = [i for i in items if i.mode == "rent"]
    if any(i.days > plan.max_rental_days for i in rented):
        raise CheckoutError(f"Your {plan.label} plan allows loans of up to {plan.max_rental_days} days: "
                            "shorten the rental in your cart, or upgrade your plan.")
    held = holds.ready_map(user.id, [i.book_id for i in rented])  # collecting a held copy adds no book
    extra = sum(i.quantity for i in rented) - sum(min(held.get(i.book_id, 0), i.quantity) for i in rented)
    in_use = holds.books_in_use(user.id)
    if in_use + extra > plan.max_books:
        raise CheckoutError(f"Your {plan.label} plan allows {plan.max_books} book{'s' if plan.max_books != 1 else ''} "
                            f"at once (rentals, holds and unpaid checkouts) and you have {in_use}. Return a book, "
                            "cancel an unpaid order, or upgrade your plan.")


def _pay_from_wallet(order: Order, user: User, success_url: str) -> str:
    """The wallet covers the whole order: debit it and complete the sale now (no payment page)."""
    try:
        wallet.debit(user.id, order.total_cents, "order_payment", reference=order.number,
                     note=f"Order {order.number}")
    except wallet.InsufficientFunds as exc:
        raise CheckoutError(f"{exc} Pay by card instead.") from None
    order.payment_provider = "wallet"
    order.wallet_cents = order.total_cents
    order.payment_session_id = f"wallet-{order.number}"
    db.session.flush()
    fulfil(order.payment_session_id, payment_intent_id=None, amount_total=0)
    return success_url


def _redeem(discount: DiscountCode, order: Order, user: User) -> None:
    taken = db.session.execute(
        update(DiscountCode)
        .where(DiscountCode.id == discount.id,
               (DiscountCode.max_uses.is_(None)) | (DiscountCode.uses_count < DiscountCode.max_uses))
        .values(uses_count=DiscountCode.uses_count + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        raise CheckoutError(f"“{discount.code}” has just been used up.")
    db.session.add(DiscountRedemption(discount_code_id=discount.id, user_id=user.id, order_id=order.id))


def _unredeem(order: Order) -> None:
    if order.discount_code_id is None:
        return
    redemption = db.session.scalar(select(DiscountRedemption).where(DiscountRedemption.order_id == order.id))
    if redemption is not None:
        db.session.delete(redemption)
        db.session.execute(update(DiscountCode).where(DiscountCode.id == order.discount_code_id,
                                                      DiscountCode.uses_count > 0)
                           .values(uses_count=DiscountCode.uses_count - 1)
                           .execution_options(synchronize_session=False))


# ---- payment outcomes (webhook, success page, sweeper) ----

def order_for_session(session_id: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.payment_session_id == session_id))


def fulfil(session_id: str, *, payment_intent_id: str | None, amount_total: int | None) -> str:
    """Payment for the session is confirmed: the reservation becomes a sale. Safe to call many
    times at once; only the first call does anything. Returns what happened."""
    order = order_for_session(session_id)
    if order is None:
        log.warning("payment for unknown session %s", session_id)
        return "unknown"
    if amount_total is not None and amount_total != order.card_cents:
        log.error("order %s: paid %s but the card part is %s", order.number, amount_total, order.card_cents)
    if order.status == "expired":
        return _fulfil_after_expiry(order, payment_intent_id)
    if not _transition(order.id, ("pending_payment",), "paid", paid_at=utcnow(), payment_intent_id=payment_intent_id):
        return "already"
    db.session.refresh(order)
    _complete_sale(order)
    return "paid"


def _complete_sale(order: Order, note: str = "Payment received.", actor_id: int | None = None) -> None:
    """The one sale path (gateway, wallet or manual payment): stock committed, rentals start, receipt sent."""
    stock.commit(_stock_lines(order, "buy"), reference=order.number, reason="sale")
    stock.commit(_stock_lines(order, "rent"), reference=order.number, reason="rental_out")
    now = utcnow()
    for line in order.lines:
        if line.book_id is None:
            continue
        if line.mode == "buy":
            db.session.execute(update(Book).where(Book.id == line.book_id)
                               .values(units_sold=Book.units_sold + line.quantity)
                               .execution_options(synchronize_session=False))
        else:
            for _ in range(line.quantity):
                db.session.add(Rental(user_id=order.user_id, book_id=line.book_id, order_id=order.id,
                                      order_line_id=line.id, starts_at=now,
                                      due_at=now + timedelta(days=line.rental_days or 7)))
    _event(order, "paid", note, actor_id)
    _send_receipt(order)


def _fulfil_after_expiry(order: Order, payment_intent_id: str | None) -> str:
    """Paid after we had released the stock (and returned any wallet part): take both again if we can,
    otherwise cancel and refund the card in full."""
    problem = _retake_after_expiry(order)
    if problem:
        if _transition(order.id, ("expired",), "cancelled", cancelled_at=utcnow(), payment_intent_id=payment_intent_id):
            db.session.refresh(order)
            _event(order, "cancelled", f"Paid after the reservation expired and {problem}; refunded.")
            payments.gateway().refund(order, order.card_cents)
            _send_cancelled(order, refunded=True, wallet_cents=order.wallet_cents)
        return "refunded"
    if not _transition(order.id, ("expired",), "paid", paid_at=utcnow(), payment_intent_id=payment_intent_id):
        raise RuntimeError("order changed while fulfilling")  # rolled back by the caller; retried
    db.session.refresh(order)
    _complete_sale(order)
    return "paid"


def _retake_after_expiry(order: Order) -> str | None:
    """An expired order is being paid after all: take its stock (and its wallet part) again, all or nothing.
    None when done, otherwise why it could not be done."""
    try:
        with db.session.begin_nested():
            stock.reserve(_stock_lines(order), reference=order.number)
            if order.wallet_cents and order.user_id:
                wallet.debit(order.user_id, order.wallet_cents, "order_payment", reference=f"{order.number}-late",
                             note=f"Order {order.number} (part, paid late)")
    except SoldOut:
        return "the stock was gone"
    except wallet.InsufficientFunds:
        return "the wallet no longer covered its part"
    return None


def expire(session_id: str, note: str = "The payment session expired; stock released.") -> str:
    order = order_for_session(session_id)
    if order is None:
        return "unknown"
    if not _transition(order.id, ("pending_payment",), "expired"):
        return "already"
    db.session.refresh(order)
    _release_unpaid(order)
    _event(order, "expired", note)
    return "expired"


def _release_unpaid(order: Order, actor_id: int | None = None) -> None:
    """An unpaid order ends (expired, failed, cancelled): its stock goes back, except copies it had collected
    from holds whose window is still open (those are set aside for the customer again); the code use and
    any wallet part are returned."""
    from . import holds

    lines = dict(_stock_lines(order))
    for hold_id, book_id in holds.reinstate_for_order(order.id):
        stock.release([(book_id, 1)], reference=order.number, actor_id=actor_id, reallocate=False)
        stock.reserve([(book_id, 1)], reference=f"hold-{hold_id}")
        lines[book_id] -= 1
    stock.release([(b, q) for b, q in lines.items() if q > 0], reference=order.number, actor_id=actor_id)
    _unredeem(order)
    if order.wallet_cents and order.user_id:
        wallet.credit(order.user_id, order.wallet_cents, "cancellation", reference=order.number,
                      note=f"Order {order.number} not completed")


def payment_failed(session_id: str) -> str:
    """An asynchronous payment failed: the checkout is over, stock goes back."""
    return expire(session_id, "The payment failed; stock released.")


def sweep_expired_reservations(now=None) -> int:
    """Safety net: release reservations of checkouts whose payment session is long over."""
    now = now or utcnow()
    grace = timedelta(minutes=current_app.config["RESERVATION_GRACE_MINUTES"])
    stale = db.session.scalars(
        select(Order).where(Order.status == "pending_payment", Order.reservation_expires_at < now - grace)
        .order_by(Order.id).limit(200)
    ).all()
    released = 0
    for order in stale:
        try:
            payments.gateway().expire_checkout(order)
        except payments.PaymentError as exc:  # e.g. already completed at the provider: leave it to the webhook
            log.warning("sweeper: could not expire %s: %s", order.number, exc)
            db.session.rollback()
            continue
        if order.payment_session_id and expire(order.payment_session_id,
                                               "Checkout abandoned; stock released by the sweeper.") == "expired":
            released += 1
        db.session.commit()
    return released


# ---- cancelling and refunds ----

def cancel(order: Order, *, actor: User, reason: str = "Cancelled by the customer.", ip: str | None = None,
           refund_to: str = "card") -> None:
    """Cancel before shipping. Unpaid: release stock. Paid: stock returns and the payment is refunded, to the
    card (through the payment provider) or at once to the customer's wallet (always, if the wallet paid).
    Staff may also record `refund_to="manual"` for an order paid outside the shop (a manual payment)."""
    before = order.status
    if order.status == "paid":
        _check_refund_to(order, refund_to)
    if order.status == "pending_payment":
        if not _transition(order.id, ("pending_payment",), "cancelled", cancelled_at=utcnow()):
            raise OrderStateError("This order changed meanwhile; please reload.")
        db.session.refresh(order)
        payments.gateway().expire_checkout(order)
        _release_unpaid(order, actor.id)
        _event(order, "cancelled", reason, actor.id)
    elif order.status == "paid":
        if not _transition(order.id, ("paid",), "cancelled", cancelled_at=utcnow()):
            raise OrderStateError("This order changed meanwhile; please reload.")
        db.session.refresh(order)
        for book_id, quantity in _stock_lines(order):
            stock.adjust(book_id, quantity, "return", actor_id=actor.id, reference=order.number,
                         note="order cancelled before shipping")
        for line in order.lines:
            if line.mode == "buy" and line.book_id:
                db.session.execute(update(Book).where(Book.id == line.book_id, Book.units_sold >= line.quantity)
                                   .values(units_sold=Book.units_sold - line.quantity)
                                   .execution_options(synchronize_session=False))
        db.session.execute(update(Rental).where(Rental.order_id == order.id, Rental.status == "active")
                           .values(status="returned", returned_at=utcnow())
                           .execution_options(synchronize_session=False))
        _event(order, "cancelled", reason, actor.id)
        to_wallet = order.wallet_cents if refund_to != "wallet" else order.total_cents
        if not order.user_id:
            to_wallet = 0
        if to_wallet:
            wallet.credit(order.user_id, to_wallet, "refund", reference=order.number,
                          note=f"Order {order.number} cancelled")
            _event(order, "refunded" if to_wallet == order.total_cents else "cancelled",
                   f"{money(to_wallet)} refunded to the customer's wallet.")
        rest = order.total_cents - to_wallet
        if rest and refund_to == "manual":
            _event(order, "refunded", f"{money(rest)} refunded outside the shop (recorded by staff).", actor.id)
        elif rest:
            payments.gateway().refund(order, rest)  # confirmed by the provider's webhook
        if not rest or refund_to == "manual":
            order.refunded_cents, order.refunded_at = order.total_cents, utcnow()
            _transition(order.id, ("cancelled",), "refunded")
            db.session.refresh(order)
        _send_cancelled(order, refunded=True, wallet_cents=to_wallet,
                        rest_to="you the way you paid" if refund_to == "manual" else "your card")
    else:
        raise OrderStateError(f"An order that is {order.status.replace('_', ' ')} cannot be cancelled.")
    audit.record("order.cancelled", actor_id=actor.id, object_type="order", object_id=order.number, ip=ip,
                 before={"status": before}, after={"status": order.status, "reason": reason} | (
                     {"refund_to": refund_to} if before == "paid" else {}))


def mark_refunded(payment_intent_id: str, amount_refunded: int) -> str:
    order = db.session.scalar(select(Order).where(Order.payment_intent_id == payment_intent_id))
    if order is None:
        return "unknown"
    # The wallet part went back to the wallet when staff cancelled or refunded the order.
    wallet_part = order.wallet_cents if order.status in ("cancelled", "refunded") else 0
    if order.refunded_cents >= amount_refunded + wallet_part and order.refunded_at is not None:
        return "already"
    order.refunded_cents = amount_refunded + wallet_part
    order.refunded_at = utcnow()
    if order.refunded_cents >= order.total_cents and _transition(order.id, ("cancelled", "paid"), "refunded"):
        db.session.refresh(order)
    _event(order, "refunded", f"Refund of {money(amount_refunded)} confirmed by the payment provider.")
    return "refunded"


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


def _words(status: str) -> str:
    return status.replace("_", " ")


def _refused(order: Order, what: str) -> OrderStateError:
    return OrderStateError(f"Order {order.number} is {_words(order.status)}, so it cannot be {what}.")


def _lost_race(order: Order, what: str) -> OrderStateError:
    db.session.refresh(order)
    return OrderStateError(f"Order {order.number} was changed by someone else meanwhile (it is now "
                           f"{_words(order.status)}), so it was not {what}. Check the timeline.")


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
        raise OrderStateError("The customer's account is gone, so there is no wallet to refund to.")


def _staff_audit(action: str, order: Order, actor: User, before: str, ip: str | None, **after) -> None:
    audit.record(action, actor_id=actor.id, object_type="order", object_id=order.number, ip=ip,
                 before={"status": before}, after={"status": order.status, **after})


def mark_paid(order: Order, *, actor: User, reference: str, ip: str | None = None) -> None:
    """Record a payment taken outside the checkout (bank transfer, cash ...) for an unpaid order. The sale
    then completes exactly as after a gateway payment. An expired order can be marked paid only if its stock
    (and any wallet part) can be taken again."""
    reference = _note(reference, "the payment reference or a note", required=True)
    before = order.status
    if order.status == "pending_payment":
        try:  # close the online payment page first, so the customer cannot pay a second time
            payments.gateway().expire_checkout(order)
        except payments.PaymentError as exc:
            if "already completed" in str(exc):
                raise OrderStateError(f"The customer has already paid order {order.number} online: wait for the "
                                      "payment to be confirmed instead of marking it paid.") from None
            log.warning("mark paid %s: no checkout session to close (%s)", order.number, exc)  # none to pay online
    elif order.status == "expired":
        problem = _retake_after_expiry(order)
        if problem:
            raise OrderStateError(f"Order {order.number} expired and {problem}, so it cannot be marked paid. "
                                  "Ask the customer to order again.")
    else:
        raise _refused(order, "marked paid")
    if not _transition(order.id, (before,), "paid", paid_at=utcnow(), payment_provider=MANUAL_PROVIDER,
                       payment_intent_id=None):
        raise _lost_race(order, "marked paid")
    db.session.refresh(order)
    _complete_sale(order, f"Payment received outside the checkout: {reference}", actor.id)
    _staff_audit("order.marked_paid", order, actor, before, ip, payment_provider=MANUAL_PROVIDER, reference=reference)


def mark_shipped(order: Order, *, actor: User, tracking: str | None = None, ip: str | None = None) -> None:
    """Paid → shipped; the customer gets the shipped email (with the tracking note, if any)."""
    tracking = _note(tracking, "the tracking note", required=False)
    if order.status != "paid":
        raise _refused(order, "shipped")
    if not _transition(order.id, ("paid",), "shipped", shipped_at=utcnow()):
        raise _lost_race(order, "shipped")
    db.session.refresh(order)
    _event(order, "shipped", f"Shipped. Tracking: {tracking}" if tracking else "Shipped.", actor.id)
    send_shipped(order, tracking or None)
    _staff_audit("order.shipped", order, actor, "paid", ip, **({"tracking": tracking} if tracking else {}))


def mark_delivered(order: Order, *, actor: User, ip: str | None = None) -> None:
    """Shipped → delivered."""
    if order.status != "shipped":
        raise _refused(order, "marked delivered")
    if not _transition(order.id, ("shipped",), "delivered", delivered_at=utcnow()):
        raise _lost_race(order, "marked delivered")
    db.session.refresh(order)
    _event(order, "delivered", "Delivered.", actor.id)
    _staff_audit("order.delivered", order, actor, "shipped", ip)


def staff_cancel(order: Order, *, actor: User, reason: str, refund_to: str = "card", ip: str | None = None) -> None:
    """Cancel an unpaid or paid order (stock returns; a paid order is refunded in full), via `cancel`."""
    reason = _note(reason, "the reason for cancelling", required=True)
    if order.status not in ("pending_payment", "paid"):
        raise _refused(order, "cancelled")
    cancel(order, actor=actor, reason=f"Cancelled by staff: {reason}", ip=ip, refund_to=refund_to)


def refund(order: Order, *, actor: User, reason: str, refund_to: str = "card", ip: str | None = None) -> None:
    """A full refund. Paid but not shipped: the order is cancelled (stock returns) and refunded. Shipped or
    delivered: the order becomes refunded at once; the wallet part (or everything, to the wallet) is credited
    now, a card part is refunded through the payment provider and confirmed by its webhook. Goods already sent
    stay with the customer (rentals stay out until returned). Partial refunds are not supported: the order
    has one refunded amount and no partially-refunded state."""
    reason = _note(reason, "the reason for the refund", required=True)
    if order.status == "paid":
        cancel(order, actor=actor, reason=f"Cancelled and refunded by staff: {reason}", ip=ip, refund_to=refund_to)
        return
    if order.status not in ("shipped", "delivered"):
        raise _refused(order, "refunded") if order.status != "refunded" else OrderStateError(
            f"Order {order.number} was already refunded.")
    _check_refund_to(order, refund_to)
    before = order.status
    if not _transition(order.id, ("shipped", "delivered"), "refunded"):
        raise _lost_race(order, "refunded")
    db.session.refresh(order)
    _event(order, "refunded", f"Refund by staff: {reason}", actor.id)
    to_wallet = (order.total_cents if refund_to == "wallet" else order.wallet_cents) if order.user_id else 0
    if to_wallet:
        wallet.credit(order.user_id, to_wallet, "refund", reference=order.number,
                      note=f"Order {order.number} refunded", actor_id=actor.id)
        _event(order, "refunded", f"{money(to_wallet)} refunded to the customer's wallet.", actor.id)
    rest = order.total_cents - to_wallet
    refunded_now = to_wallet
    if rest and refund_to == "manual":
        _event(order, "refunded", f"{money(rest)} refunded outside the shop (recorded by staff).", actor.id)
        refunded_now = order.total_cents
    elif rest:
        payments.gateway().refund(order, rest)  # mark_refunded records it when the provider confirms
        _event(order, "refunded", f"Refund of {money(rest)} to the card requested from the payment provider.",
               actor.id)
    order.refunded_cents = refunded_now
    if refunded_now >= order.total_cents:
        order.refunded_at = utcnow()
    _send_refunded(order, to_wallet, "you the way you paid" if refund_to == "manual" else "your card")
    _staff_audit("order.refunded", order, actor, before, ip, refund_to=refund_to, amount_cents=order.total_cents,
                 reason=reason)


def allowed_actions(order: Order) -> set[str]:
    """What staff can do to the order now (the page shows these; the services check again)."""
    return {
        "pending_payment": {"mark_paid", "cancel"},
        "expired": {"mark_paid"},
        "paid": {"ship", "cancel", "refund"},
        "shipped": {"deliver", "refund"},
        "delivered": {"refund"},
    }.get(order.status, set())


def admin_list(*, q: str = "", status: str = "", dates: str = "created", date_from=None, date_to=None,
               page: int = 1, per_page: int = 25):
    """Orders for the admin list, newest first, each with its customer's username: rows of (Order, username).
    `q` matches the order number, the email or the username; `dates` is "created" or "paid" for the range
    (whole UTC days, both ends included)."""
    from datetime import UTC, datetime, time

    from sqlalchemy import func, or_

    from . import paging

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


def by_number(number: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.number == (number or "")[:20]))


def timeline(order: Order) -> list[OrderEvent]:
    return list(db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)))


# ---- emails ----

def _receipt_text(order: Order) -> str:
    rows = []
    for line in order.lines:
        what = "Buy" if line.mode == "buy" else f"Rent {line.rental_days} days"
        rows.append(f"  {line.quantity} x {line.title} ({what})  {money(line.line_cents)}")
    totals = [f"  Subtotal  {money(order.subtotal_cents)}"]
    if order.member_discount_cents:
        totals.append(f"  Member discount  -{money(order.member_discount_cents)}")
    if order.discount_cents - order.member_discount_cents:
        totals.append(f"  Discount  -{money(order.discount_cents - order.member_discount_cents)}")
    totals += [f"  Shipping  {money(order.shipping_cents)}"]
    if order.tax_cents:
        totals.append(f"  Tax       {money(order.tax_cents)}")
    totals.append(f"  Total     {money(order.total_cents)}")
    if order.wallet_cents and order.wallet_cents < order.total_cents:
        totals.append(f"  From your wallet  {money(order.wallet_cents)}; by card  {money(order.card_cents)}")
    address = "\n  ".join(order.shipping_lines())
    return "\n".join(rows) + "\n\n" + "\n".join(totals) + f"\n\nShipping to:\n  {address}\n"


def _send_receipt(order: Order) -> None:
    shop = current_app.config["SHOP_NAME"]
    mail.send(order.email, f"{shop} receipt for order {order.number}",
              f"Thank you for your order!\n\nOrder {order.number}, paid {order.paid_at:%Y-%m-%d %H:%M} UTC\n\n"
              f"{_receipt_text(order)}\nWe will email you when it ships.\n\n— {shop}")


def _refund_parts(order: Order, wallet_cents: int, rest_to: str) -> str:
    shop = current_app.config["SHOP_NAME"]
    parts = []
    if wallet_cents:
        parts.append(f"{money(wallet_cents)} to your {shop} wallet (available now)")
    if wallet_cents < order.total_cents:
        parts.append(f"{money(order.total_cents - wallet_cents)} to {rest_to}")
    return " and ".join(parts)


def _send_cancelled(order: Order, refunded: bool, wallet_cents: int = 0, rest_to: str = "your card") -> None:
    shop = current_app.config["SHOP_NAME"]
    parts = [_refund_parts(order, wallet_cents, rest_to)] if refunded else []
    refund = f"We are refunding {parts[0]}.\n\n" if parts and parts[0] else ""
    mail.send(order.email, f"Order {order.number} is cancelled",
              f"Your order {order.number} is cancelled.\n\n{refund}{_receipt_text(order)}\n— {shop}")


def send_shipped(order: Order, tracking: str | None = None) -> None:
    shop = current_app.config["SHOP_NAME"]
    track = f"Tracking: {tracking}\n\n" if tracking else ""
    mail.send(order.email, f"Order {order.number} is on its way",
              f"Good news: order {order.number} has shipped.\n\n{track}{_receipt_text(order)}\n— {shop}")


def _send_refunded(order: Order, wallet_cents: int, rest_to: str) -> None:
    shop = current_app.config["SHOP_NAME"]
    mail.send(order.email, f"Order {order.number} is refunded",
              f"We are refunding your order {order.number}: {_refund_parts(order, wallet_cents, rest_to)}.\n\n"
              f"{_receipt_text(order)}\n— {shop}")


# ---- account deletion (see services.lifecycle) ----

def deletion_blockers(user: User) -> list[str]:
    from sqlalchemy import func

    rentals = db.session.scalar(select(func.count()).select_from(Rental)
                                .where(Rental.user_id == user.id, Rental.status == "active")) or 0
    unshipped = db.session.scalar(select(func.count()).select_from(Order)
                                  .where(Order.user_id == user.id, Order.status == "paid")) or 0
    reasons = []
    if rentals:
        reasons.append(f"You still have {rentals} rented book{'s' if rentals != 1 else ''} to return.")
    if unshipped:
        reasons.append(f"{unshipped} order{'s have' if unshipped != 1 else ' has'} not shipped yet; "
                       "wait for it to ship or cancel it first.")
    return reasons


def anonymise_orders(user: User) -> None:
    """Orders stay for the accounts; the personal details on them go."""
    for order in db.session.scalars(select(Order).where(Order.user_id == user.id, Order.status == "pending_payment")):
        cancel(order, actor=user, reason="Account deleted.")
    db.session.execute(
        update(Order).where(Order.user_id == user.id)
        .values(email=f"deleted-{user.id}@deleted.invalid", ship_name="Deleted customer", ship_line1="(removed)",
                ship_line2=None, ship_city="(removed)", ship_region=None, ship_postcode="(removed)", ship_phone=None)
        .execution_options(synchronize_session=False))
