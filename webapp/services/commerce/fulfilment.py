"""Payment outcomes for orders: the rule is that every payment ends in exactly one fulfilled order or one
refund, each exactly once, whatever the order of events, and nothing is fulfilled for less than its total.

- A payment for a pending order whose amount and currency match its card part makes it a sale.
- A payment that does not match is never fulfilled: the order is cancelled, the payment refunded and a
  payment issue raised for staff.
- A payment for an order that ended unpaid meanwhile (expired, or cancelled while the customer was paying)
  is honoured if its stock, wallet part and discount can be taken again, otherwise refunded with an email.
- Expiry, failure and unpaid cancellation give the reserved stock, the code use and the wallet part back.

Every outcome is a conditional UPDATE on the order's status (and, for late payments, on the payment
intent not yet being recorded), so webhooks, the success page, the reconciler and the outbox can race
for the same payment and only one of them acts. Refunds go through the outbox (services.commerce.payments), so
none is lost if the provider is down and none is sent if the transaction rolls back.
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select, update

from ...extensions import db
from ...models import Book, DiscountCode, DiscountRedemption, LineMode, Order, OrderStatus, Rental, User, utcnow
from ..circulation import fees, holds, rentals, wallet
from ..inventory import stock
from ..inventory.stock import SoldOut
from ..platform import dml
from ..platform.money import money
from . import cart, order_mail, payment_issues, payments
from .order_state import OrderStateError, event, lock_customer, stock_lines, transition, update_while
from .provider import Payment
from .timeline import staff_note

log = logging.getLogger(__name__)


def order_for_session(session_id: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.payment_session_id == session_id))


def fulfil(payment: Payment) -> str:
    """Apply a confirmed payment to its order. Safe to call many times at once; returns what happened:
    "paid", "refunded" (late, could not be honoured), "mismatch", "already" or "unknown"."""
    order = order_for_session(payment.session_id)
    if order is None:
        log.warning("payment for unknown session %s", payment.session_id)
        return "unknown"
    if order.paid_at is not None:
        return "already"
    lock_customer(order)
    problem = payment.mismatch(order.card_cents, order.currency, "the order (by card)")
    if problem:
        return _refuse_mismatch(order, payment, problem)
    if order.status == OrderStatus.PENDING_PAYMENT:
        if transition(order.id, (OrderStatus.PENDING_PAYMENT,), OrderStatus.PAID, paid_at=utcnow(),
                      payment_intent_id=payment.payment_intent_id):
            db.session.refresh(order)
            complete_sale(order)
            return "paid"
        db.session.refresh(order)  # lost a race: decide by what the order is now
    if order.status in (OrderStatus.EXPIRED, OrderStatus.CANCELLED) and order.paid_at is None:
        return _late(order, payment)
    return "already"


def _refuse_mismatch(order: Order, payment: Payment, problem: str) -> str:
    """Never fulfil for less (or for another currency): cancel an unpaid order, refund what was paid, and tell
    staff. Once per session, however often the provider repeats it."""
    reference = f"session:{payment.session_id}"
    if not payment_issues.record("amount_mismatch", reference,
                                 f"Order {order.number}: {problem}. Not fulfilled; the payment is refunded.",
                                 order_number=order.number, amount_cents=payment.amount_cents,
                                 currency=payment.currency):
        return "already"
    pending = OrderStatus.PENDING_PAYMENT
    if order.status == pending and transition(order.id, (pending,), OrderStatus.CANCELLED, cancelled_at=utcnow(),
                                              payment_intent_id=payment.payment_intent_id):
        db.session.refresh(order)
        release_unpaid(order)
        event(order, OrderStatus.CANCELLED, staff_note("mismatch_cancelled", problem=problem))
    elif order.paid_at is None and update_while(order.id, OrderStatus(order.status), Order.payment_intent_id.is_(None),
                                                payment_intent_id=payment.payment_intent_id):
        db.session.refresh(order)  # an order that had ended: its page now says a payment came and goes back
        event(order, order.status, staff_note("mismatch_refunded", problem=problem))
    _refund_payment(order, payment, key=f"refund-mismatch-{payment.session_id}")
    if isinstance(payment.amount_cents, int) and payment.amount_cents > 0:
        order_mail.send_payment_returned(order, payment.amount_cents, "the amount did not match the order")
    return "mismatch"


def _refund_payment(order: Order, payment: Payment, *, key: str) -> None:
    if payment.payment_intent_id and isinstance(payment.amount_cents, int) and payment.amount_cents > 0:
        payments.request_refund(provider=order.payment_provider, payment_intent_id=payment.payment_intent_id,
                                amount_cents=payment.amount_cents, currency=payment.currency or order.currency,
                                key=key, reason="payment could not complete the order", order_number=order.number)


def _late(order: Order, payment: Payment) -> str:
    """Paid after the order had ended unpaid. Claim the payment for this order first (one caller wins), then
    take its stock, wallet part and code use again: all of them, or refund."""
    ended = OrderStatus(order.status)
    if not update_while(order.id, ended, Order.paid_at.is_(None), Order.payment_intent_id.is_(None),
                        payment_intent_id=payment.payment_intent_id):
        return "already"
    db.session.refresh(order)
    problem = retake(order)
    if problem is None:
        if not transition(order.id, (ended,), OrderStatus.PAID, paid_at=utcnow()):
            raise OrderStateError("order changed while fulfilling")  # rolled back by the caller; retried
        db.session.refresh(order)
        complete_sale(order, staff_note("paid_late", ended=_ended_words(ended)))
        return "paid"
    assert payment.amount_cents is not None  # a payment without an amount is a mismatch, refused before this
    event(order, ended, staff_note("paid_late_refused", amount=money(payment.amount_cents),
                                   ended=_ended_words(ended), problem=problem))
    _refund_payment(order, payment, key=f"refund-{order.number}")
    customer = db.session.get(User, order.user_id) if order.user_id else None
    if (order.guest and order.user_id is None) or (customer is not None and customer.deleted_at is None):
        # a guest's address took the receipt; a closed account has no address to write to
        order_mail.send_payment_returned(order, payment.amount_cents,
                                         f"the order had {_ended_words(ended)} and {problem}")
    return "refunded"


def _ended_words(status: OrderStatus) -> str:
    return "expired" if status == OrderStatus.EXPIRED else "been cancelled"


def retake(order: Order) -> str | None:
    """An order that ended unpaid is being paid after all: take its stock (its customer's held copies first),
    its wallet part and its code use again, within its customer's limits now (the customer lock is held), all or
    nothing. None when done, otherwise why not."""
    customer = db.session.get(User, order.user_id) if order.user_id else None
    unclaimed_guest = order.guest and order.user_id is None  # bought without an account (buying only)
    if not unclaimed_guest and (customer is None or customer.deleted_at is not None):
        return "your account had been closed"
    rented = [(line.book_id, line.quantity, line.rental_days or 7) for line in order.lines
              if line.mode == LineMode.RENT and line.book_id is not None]
    problem = rentals.allowance_problem(customer, rented) if rented and customer is not None else None
    if problem:
        return f"your plan no longer allowed its rentals ({problem.rstrip('.')})"
    try:
        with db.session.begin_nested():
            if order.user_id:
                holds.claim_for_order(order.user_id, [book_id for book_id, _ in stock_lines(order)], order.id)
            stock.reserve(stock_lines(order), reference=order.number)
            if order.wallet_cents and order.user_id:
                wallet.debit(order.user_id, order.wallet_cents, "order_payment", reference=f"{order.number}-late",
                             note=f"Order {order.number} (part, paid late)")
            if order.discount_code_id is not None and not _redeem_again(order):
                raise _CodeUsedUp()
    except SoldOut:
        return "the books had gone to other customers"
    except wallet.InsufficientFunds:
        return "your wallet no longer covered its part"
    except _CodeUsedUp:
        return "its discount code had been used up"
    return None


class _CodeUsedUp(Exception):
    pass


def redeem(discount: DiscountCode, order: Order, user_id: int | None) -> str | None:
    """Count one use of the code for this order: None when counted, else "used_by_customer" (the per-customer
    limit; the caller holds the customer lock, so two tabs cannot both pass) or "used_up" (the total limit,
    one conditional UPDATE). The one place both limits are applied, at checkout and for a late payment."""
    if discount.max_uses_per_user is not None and user_id is not None:
        used = db.session.scalar(
            select(func.count()).select_from(DiscountRedemption)
            .join(Order, Order.id == DiscountRedemption.order_id)
            .where(DiscountRedemption.discount_code_id == discount.id, DiscountRedemption.user_id == user_id,
                   Order.status.not_in((OrderStatus.EXPIRED, OrderStatus.CANCELLED)))) or 0
        if used >= discount.max_uses_per_user:
            return "used_by_customer"
    taken = dml.changed(  # whether a use was left
        update(DiscountCode)
        .where(DiscountCode.id == discount.id,
               (DiscountCode.max_uses.is_(None)) | (DiscountCode.uses_count < DiscountCode.max_uses))
        .values(uses_count=DiscountCode.uses_count + 1)
        .execution_options(synchronize_session=False))
    if not taken:
        return "used_up"
    db.session.add(DiscountRedemption(discount_code_id=discount.id, user_id=user_id, order_id=order.id))
    return None


def _redeem_again(order: Order) -> bool:
    discount = db.session.get(DiscountCode, order.discount_code_id)
    return discount is not None and redeem(discount, order, order.user_id) is None


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


def complete_sale(order: Order, note: str = "Payment received.", actor_id: int | None = None) -> None:
    """The one sale path (gateway, wallet or manual payment): stock committed, rentals made (on their way: the
    loan clock starts at delivery or collection, services.circulation.loans.start_for_order), the books leave
    the customer's saved cart, receipt sent."""
    stock.commit(stock_lines(order, LineMode.BUY), reference=order.number, reason="sale")
    stock.commit(stock_lines(order, LineMode.RENT), reference=order.number, reason="rental_out")
    for line in order.lines:
        if line.book_id is None:
            continue
        if line.mode == LineMode.BUY:
            db.session.execute(update(Book).where(Book.id == line.book_id)
                               .values(units_sold=Book.units_sold + line.quantity)
                               .execution_options(synchronize_session=False))
        else:
            for _ in range(line.quantity):
                db.session.add(Rental(user_id=order.user_id, book_id=line.book_id, order_id=order.id,
                                      order_line_id=line.id, starts_at=None, due_at=None))
    if order.user_id is not None:
        cart.remove_user_lines(order.user_id, {(line.book_id, line.mode) for line in order.lines if line.book_id})
    event(order, OrderStatus.PAID, note, actor_id)
    order_mail.send_receipt(order)


# ---- ending unpaid ----

def release_unpaid(order: Order, actor_id: int | None = None) -> None:
    """An unpaid order ends (expired, failed, cancelled): its stock goes back, except copies it had collected
    from holds whose window is still open (those are set aside for the customer again); the code use and
    any wallet part are returned."""
    lines = dict(stock_lines(order))
    for hold_id, book_id in holds.reinstate_for_order(order.id):
        stock.release([(book_id, 1)], reference=order.number, actor_id=actor_id, reallocate=False)
        stock.reserve([(book_id, 1)], reference=f"hold-{hold_id}")
        lines[book_id] -= 1
    stock.release([(b, q) for b, q in lines.items() if q > 0], reference=order.number, actor_id=actor_id)
    _unredeem(order)
    if order.wallet_cents and order.user_id:
        wallet.credit(order.user_id, order.wallet_cents, "cancellation", reference=order.number,
                      note=f"Order {order.number} not completed")
        fees.settle(order.user_id)  # money back in the wallet pays fees due first


def expire(session_id: str, note: str = "The payment session expired; stock released.") -> str:
    order = order_for_session(session_id)
    if order is None:
        return "unknown"
    return expire_order(order, note)


def expire_order(order: Order, note: str) -> str:
    lock_customer(order)
    if not transition(order.id, (OrderStatus.PENDING_PAYMENT,), OrderStatus.EXPIRED):
        return "already"
    db.session.refresh(order)
    release_unpaid(order)
    event(order, OrderStatus.EXPIRED, note)
    return "expired"


def payment_failed(session_id: str) -> str:
    """An asynchronous payment failed: the checkout is over, stock goes back."""
    return expire(session_id, "The payment failed; stock released.")


def cancel_unpaid(order: Order, *, reason: str, actor_id: int | None = None, close_now: bool = True) -> bool:
    """Cancel a pending order. With `close_now` the payment page is closed at the provider first (outside any
    transaction: the caller must not have written yet); if the customer paid before it closed, AlreadyPaid
    is raised and nothing changes. Otherwise (or when the provider cannot be reached) the page is closed
    through the outbox after commit, and a payment that slips in meanwhile is honoured or refunded by
    `fulfil`. False if the order was no longer pending."""
    session_id = order.payment_session_id if order.payment_provider in ("stripe", "test") else None
    closed = False
    if session_id and close_now:
        try:
            payments.close_page(order.payment_provider, session_id)
            closed = True
        except payments.AlreadyPaid:
            raise
        except payments.PaymentError as exc:
            log.warning("could not close the payment page of %s now (%s): closing it after commit", order.number, exc)
        db.session.refresh(order)
    lock_customer(order)  # after the provider call: no lock is held across the network
    if not transition(order.id, (OrderStatus.PENDING_PAYMENT,), OrderStatus.CANCELLED, cancelled_at=utcnow()):
        return False
    db.session.refresh(order)
    release_unpaid(order, actor_id)
    event(order, OrderStatus.CANCELLED, reason, actor_id)
    if session_id and not closed:
        payments.request_expiry(provider=order.payment_provider, session_id=session_id, reference=order.number)
    return True


def reverse_sale(order: Order, actor_id: int | None, note: str) -> None:
    """A paid order is called off before it ships: its copies come back through the stock ledger (the holds
    queue is served first), the sales count goes back and its rentals end. The money is the caller's part."""
    for book_id, quantity in stock_lines(order):
        stock.adjust(book_id, quantity, "return", actor_id=actor_id, reference=order.number, note=note)
    for line in order.lines:
        if line.mode == LineMode.BUY and line.book_id:
            db.session.execute(update(Book).where(Book.id == line.book_id, Book.units_sold >= line.quantity)
                               .values(units_sold=Book.units_sold - line.quantity)
                               .execution_options(synchronize_session=False))
    rentals.end_for_order(order.id)


# ---- refunds confirmed by the provider ----

def refund_confirmed(payment_intent_id: str, amount_refunded: int) -> str:
    """The provider confirms `amount_refunded` (cumulative) of this payment went back to the card: a refund we
    asked for, or one made at the provider (its dashboard, a dispute). An unshipped order refunded in full there
    is called off as if cancelled (its books come back, its wallet part is returned); any other refund made
    there is recorded and shown to staff. "unknown" when no order took this payment."""
    order = db.session.scalar(select(Order).where(Order.payment_intent_id == payment_intent_id))
    if order is None:
        return "unknown"
    lock_customer(order)
    db.session.refresh(order)
    if order.status == OrderStatus.PAID and amount_refunded >= order.card_cents:
        return _refunded_at_provider(order, amount_refunded)
    # Refunds we asked for: the order had ended, and its wallet part went back then.
    ours = order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED, OrderStatus.EXPIRED)
    total = min(order.total_cents, amount_refunded + (order.wallet_cents if ours else 0))
    if order.refunded_at is not None and order.refunded_cents >= total:
        return "already"
    order.refunded_cents = total
    order.refunded_at = utcnow()
    if order.paid_at is not None and total >= order.total_cents:
        transition(order.id, (OrderStatus.CANCELLED,), OrderStatus.REFUNDED)
        db.session.refresh(order)
    event(order, order.status, staff_note("refund_confirmed", amount=money(amount_refunded)))
    if not ours:
        payment_issues.record("provider_refund", f"refund:{payment_intent_id}:{amount_refunded}",
                              f"Order {order.number} ({order.status}): {money(amount_refunded)} was refunded at the "
                              "payment provider. Check whether the order or its stock should change.",
                              order_number=order.number, amount_cents=amount_refunded, currency=order.currency)
    return "refunded"


def _refunded_at_provider(order: Order, amount_refunded: int) -> str:
    """An unshipped order's card payment was refunded in full at the provider: call the order off."""
    if not transition(order.id, (OrderStatus.PAID,), OrderStatus.REFUNDED, cancelled_at=utcnow(),
                      refunded_at=utcnow(), refunded_cents=order.total_cents):
        return "already"
    db.session.refresh(order)
    reverse_sale(order, None, "refunded at the payment provider")
    if order.wallet_cents and order.user_id:
        wallet.credit(order.user_id, order.wallet_cents, "refund", reference=order.number,
                      note=f"Order {order.number} refunded")
        fees.settle(order.user_id)  # money back in the wallet pays fees due first
    event(order, OrderStatus.REFUNDED, staff_note("refunded_at_provider", amount=money(amount_refunded)))
    order_mail.send_refunded(order, order.wallet_cents, amount_refunded, "your card")
    return "refunded"
