"""Reconciliation with the payment provider (every few minutes): every order, top-up and plan charge still
pending past its payment page's expiry is settled by asking the provider, not by guessing.

- paid at the provider: applied now (fulfilled, credited, or refunded if it cannot be), so a payment whose
  webhook was missed, or whose offline-gateway event never left, is never lost;
- still open: the page is closed at the provider first (if the customer paid in that instant, the payment is
  applied instead), then the order expires and its stock goes back;
- expired or never opened (a crash before the page opened): the order expires, the charge closes;
- completed but unpaid (a bank debit in progress): left alone until the provider decides.

Each provider call happens outside any transaction; each record is settled and committed on its own, so
one that the provider cannot answer for is retried on the next run and does not hold up the rest.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ...models import Charge, Order, utcnow
from ...models.orders import OrderStatus
from ...models.payments import ChargeStatus, SessionStatus
from . import charges, fulfilment, payment_events, payments
from .provider import SessionState

log = logging.getLogger(__name__)


def run(now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Settle what is overdue. Returns counts of outcomes (for the job's log and the tests)."""
    now = now or utcnow()
    cutoff = now - timedelta(minutes=current_app.config["RESERVATION_GRACE_MINUTES"])
    order_ids = db.session.scalars(select(Order.id).where(Order.status == OrderStatus.PENDING_PAYMENT,
                                                          Order.reservation_expires_at < cutoff)
                                   .order_by(Order.reservation_expires_at).limit(limit)).all()
    charge_ids = db.session.scalars(select(Charge.id).where(Charge.status == ChargeStatus.PENDING,
                                                            Charge.expires_at < cutoff)
                                    .order_by(Charge.expires_at).limit(limit)).all()
    db.session.rollback()
    counts: dict[str, int] = {}
    work: tuple[tuple[str, Sequence[int], Callable[[int], str]], ...] = (("order", order_ids, _order),
                                                                        ("charge", charge_ids, _charge))
    for kind, ids, settle in work:
        for record_id in ids:
            try:
                outcome = settle(record_id)
                db.session.commit()
            except payments.PaymentError as exc:  # the provider could not answer: next run
                db.session.rollback()
                log.warning("reconcile %s %s: %s", kind, record_id, exc)
                outcome = "unreachable"
            except Exception:  # one record that fails must not stop the others: logged, tried again next run
                db.session.rollback()
                log.exception("reconcile %s %s failed", kind, record_id)
                outcome = "error"
            key = f"{kind}_{outcome}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def _close_at_provider(provider: str, session_id: str) -> SessionState:
    """The session's state after making sure it can no longer be paid."""
    state = payments.gateway(provider).retrieve(session_id)
    if state.status == SessionStatus.OPEN:
        try:
            payments.close_page(provider, session_id)
        except payments.AlreadyPaid:
            pass
        state = payments.gateway(provider).retrieve(session_id)
    return state


def _order(order_id: int) -> str:
    order = db.session.get(Order, order_id)
    if order is None or order.status != OrderStatus.PENDING_PAYMENT:
        return "settled"
    note = "Checkout not paid in time: the payment page was closed and the stock released."
    if not order.payment_session_id:  # the page was never opened (a crash before the provider answered)
        return fulfilment.expire_order(order, "Checkout not completed; stock released.")
    try:
        state = _close_at_provider(order.payment_provider, order.payment_session_id)
    except payments.NoSuchSession:
        return fulfilment.expire_order(db.session.get_one(Order, order_id), note)
    if state.paid:
        return payment_events.apply_provider_state(state)
    if state.status == SessionStatus.COMPLETE:
        return "awaiting"  # paid by a method that settles later; the provider will tell us
    return fulfilment.expire_order(db.session.get_one(Order, order_id), note)


def _charge(charge_id: int) -> str:
    charge = db.session.get(Charge, charge_id)
    if charge is None or charge.status != ChargeStatus.PENDING:
        return "settled"
    if not charge.payment_session_id:
        return charges.expire_charge(charge)
    try:
        state = _close_at_provider(charge.payment_provider, charge.payment_session_id)
    except payments.NoSuchSession:
        return charges.expire_charge(db.session.get_one(Charge, charge_id))
    if state.paid:
        return payment_events.apply_provider_state(state)
    if state.status == SessionStatus.COMPLETE:
        return "awaiting"
    return charges.expire_charge(db.session.get_one(Charge, charge_id))
