"""Charges: money taken through the payment gateway for something other than an order.

A wallet top-up credits the wallet when the provider confirms payment (webhook or success page,
whichever comes first; each charge is applied once). A plan bought by card is a top-up of exactly
the plan's price followed, in the same transaction, by the plan change paid from the wallet; if the
plan can no longer be applied as quoted (say the customer changed plans meanwhile), the money
simply stays in the wallet and the customer is told so.
"""
from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ...extensions import db
from ...models import Charge, User, utcnow
from ..circulation import subscriptions, wallet
from ..platform import audit, mail
from ..platform.money import money
from . import payment_issues, payments
from .fulfilment import Payment

log = logging.getLogger(__name__)


class ChargeError(ValueError):
    pass


def _new_reference() -> str:
    return "CH-" + secrets.token_hex(5).upper()


def start(user: User, purpose: str, amount_cents: int, *, success_url, cancel_url, tier: str | None = None
          ) -> tuple[Charge, str]:
    """Open a gateway checkout for a top-up or a plan. Returns (charge, payment URL).

    Commits: the charge is stored before the provider is called (no transaction across the network call);
    if the provider cannot open the page, the charge is closed and PaymentError raised. ChargeError is
    raised before anything is written."""
    config = current_app.config
    if purpose == "top_up":
        low, high = config["WALLET_TOP_UP_MIN_CENTS"], config["WALLET_TOP_UP_MAX_CENTS"]
        if not low <= amount_cents <= high:
            raise ChargeError(f"Top-ups are from {money(low)} to {money(high)}.")
        title, description = f"{config['SHOP_NAME']} wallet top-up", f"Wallet top-up of {money(amount_cents)}"
    elif purpose == "subscription":
        if amount_cents <= 0 or tier not in ("plus", "premium"):
            raise ChargeError("Nothing to pay for this plan change.")
        label = subscriptions.tier(tier).label
        title, description = f"{config['SHOP_NAME']} {label} plan", f"{label} plan, {money(amount_cents)}"
    else:
        raise ChargeError("Unknown payment.")
    if not user.is_verified:
        raise ChargeError("Please confirm your email address first.")
    expires_at = utcnow() + timedelta(minutes=config["CHECKOUT_EXPIRY_MINUTES"] + 1)
    charge = Charge(reference=_new_reference(), user_id=user.id, purpose=purpose, tier=tier,
                    amount_cents=amount_cents, currency=config["CURRENCY"], status="pending",
                    payment_provider=payments.provider_name(), expires_at=expires_at)
    db.session.add(charge)
    db.session.commit()
    request = payments.CheckoutRequest(
        reference=charge.reference, amount_cents=amount_cents, currency=charge.currency, email=user.email,
        title=title, description=description,
        line_items=[{"title": description, "quantity": 1, "amount": amount_cents, "mode": purpose}],
        expires_at=expires_at, charge_id=charge.id)
    try:
        session = payments.gateway(charge.payment_provider).create_checkout(request, success_url(charge),
                                                                            cancel_url(charge))
    except payments.PaymentError:
        db.session.rollback()
        db.session.execute(update(Charge).where(Charge.id == charge.id, Charge.status == "pending")
                           .values(status="expired").execution_options(synchronize_session=False))
        db.session.commit()
        raise
    db.session.execute(update(Charge).where(Charge.id == charge.id, Charge.payment_session_id.is_(None))
                       .values(payment_session_id=session.id, payment_url=session.url)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(charge)
    return charge, session.url


def by_session(session_id: str) -> Charge | None:
    return db.session.scalar(select(Charge).where(Charge.payment_session_id == session_id))


def by_reference(user_id: int, reference: str) -> Charge | None:
    return db.session.scalar(select(Charge).where(Charge.user_id == user_id, Charge.reference == (reference or "")[:30]))


def complete(payment: Payment) -> str:
    """The provider confirmed payment: credit the wallet (and buy the plan). Once per charge; a payment that
    arrives after the page expired is credited all the same (a wallet can always take it). A payment whose
    amount or currency differs is never credited: it is refunded and staff are told."""
    charge = by_session(payment.session_id)
    if charge is None:
        log.warning("payment for unknown session %s", payment.session_id)
        return "unknown"
    problem = payment.mismatch(charge.amount_cents, charge.currency, "the payment")
    if problem:
        return _refuse(charge, payment, problem)
    if charge.status == "paid":
        return "already"
    owner = db.session.get(User, charge.user_id)
    if owner is None or owner.deleted_at is not None:
        return _refuse(charge, payment, "the account had been closed", tell_staff=False)
    done = db.session.execute(update(Charge).where(Charge.id == charge.id, Charge.status.in_(("pending", "expired")),
                                                   Charge.refunded_at.is_(None))
                              .values(status="paid", paid_at=utcnow(), payment_intent_id=payment.payment_intent_id)
                              .execution_options(synchronize_session=False)).rowcount
    if not done:
        return "already"
    db.session.refresh(charge)
    wallet.credit(charge.user_id, charge.amount_cents, "top_up", reference=charge.reference,
                  note="Card payment" + (f" for the {subscriptions.tier(charge.tier).label} plan" if charge.tier else ""))
    user = db.session.get(User, charge.user_id)
    shop = current_app.config["SHOP_NAME"]
    if charge.purpose == "subscription" and user is not None:
        try:
            with db.session.begin_nested():
                q = subscriptions.quote_change(user, charge.tier)
                # An upgrade costs a little less the later it is paid (pro rata): any difference stays in the wallet.
                if q.kind not in ("subscribe", "upgrade") or q.charge_cents > charge.amount_cents:
                    raise subscriptions.SubscriptionError("The plan changed meanwhile.")
                subscriptions.change(user, charge.tier, paid_reference=charge.reference)
        except (subscriptions.SubscriptionError, wallet.InsufficientFunds) as exc:
            log.warning("charge %s: plan not applied: %s", charge.reference, exc)
            mail.send(user.email, f"Your {shop} payment is in your wallet",
                      f"Hello {user.display_name},\n\nWe received {money(charge.amount_cents)} for the "
                      f"{subscriptions.tier(charge.tier).label} plan, but your plan had changed meanwhile, so the "
                      f"money is in your wallet. You can use it for a plan or for books.\n\n— {shop}")
            return "credited"
        mail.send(user.email, f"Welcome to {shop} {subscriptions.tier(charge.tier).label}",
                  f"Hello {user.display_name},\n\nThank you: your {subscriptions.tier(charge.tier).label} plan is "
                  f"active. Receipt {charge.reference}, {money(charge.amount_cents)} by card.\n\n— {shop}")
        return "subscribed"
    if user is not None:
        mail.send(user.email, f"{money(charge.amount_cents)} added to your {shop} wallet",
                  f"Hello {user.display_name},\n\nWe added {money(charge.amount_cents)} to your wallet "
                  f"(receipt {charge.reference}).\n\n— {shop}")
    audit.record("wallet.top_up", actor_id=charge.user_id, object_type="charge", object_id=charge.reference,
                 after={"amount_cents": charge.amount_cents})
    return "credited"


def _refuse(charge: Charge, payment: Payment, problem: str, *, tell_staff: bool = True) -> str:
    """Not credited: refund what was paid, once per session (the charge is closed by one conditional UPDATE),
    and for a mismatch raise a payment issue for staff."""
    closed = db.session.execute(
        update(Charge).where(Charge.id == charge.id, Charge.status.in_(("pending", "expired")),
                             Charge.refunded_at.is_(None))
        .values(status="expired", refunded_at=utcnow(), payment_intent_id=payment.payment_intent_id)
        .execution_options(synchronize_session=False)).rowcount
    if tell_staff:
        payment_issues.record("amount_mismatch", f"session:{payment.session_id}",
                              f"Payment {charge.reference}: {problem}. Not credited; the payment is refunded.",
                              charge_reference=charge.reference, amount_cents=payment.amount_cents,
                              currency=payment.currency)
    if not closed:
        return "already"
    if payment.payment_intent_id and isinstance(payment.amount_cents, int) and payment.amount_cents > 0:
        payments.request_refund(provider=charge.payment_provider, payment_intent_id=payment.payment_intent_id,
                                amount_cents=payment.amount_cents, currency=payment.currency or charge.currency,
                                key=f"refund-{payment.session_id}", reason=problem, charge_reference=charge.reference)
        user = db.session.get(User, charge.user_id)
        if user is not None and user.deleted_at is None:
            shop = current_app.config["SHOP_NAME"]
            mail.send(user.email, f"Your {shop} payment {charge.reference} is being refunded",
                      f"Hello {user.display_name},\n\nWe received {money(payment.amount_cents)} for payment "
                      f"{charge.reference}, but it did not match what was asked, so we did not use it. We are "
                      f"refunding it in full to your card.\n\n— {shop}")
    return "refunded" if not tell_staff else "mismatch"


def expire(session_id: str) -> str:
    charge = by_session(session_id)
    if charge is None:
        return "unknown"
    return expire_charge(charge)


def expire_charge(charge: Charge) -> str:
    """The payment page closed unpaid. A payment that still arrives later is credited all the same."""
    done = db.session.execute(update(Charge).where(Charge.id == charge.id, Charge.status == "pending")
                              .values(status="expired").execution_options(synchronize_session=False)).rowcount
    return "expired" if done else "already"


def refund_confirmed(payment_intent_id: str, amount_refunded: int) -> str:
    """The provider confirms a refund of a charge's payment. One we asked for (a payment we could not use) is
    only recorded. A top-up refunded at the provider after it was credited (its dashboard, a dispute) takes the
    money back out of the wallet, as far as it is still there; what was spent meanwhile goes to staff."""
    charge = db.session.scalar(select(Charge).where(Charge.payment_intent_id == payment_intent_id))
    if charge is None:
        return "unknown"
    audit.record("charge.refunded", actor_id=None, object_type="charge", object_id=charge.reference,
                 after={"amount_refunded_cents": amount_refunded})
    if charge.status != "paid":
        return "refunded"
    taken_back = db.session.execute(update(Charge).where(Charge.id == charge.id, Charge.refunded_at.is_(None))
                                    .values(refunded_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if not taken_back:
        return "already"
    amount = min(amount_refunded, charge.amount_cents)
    take = min(amount, wallet.balance(charge.user_id))
    if take:
        wallet.debit(charge.user_id, take, "adjustment", reference=f"{charge.reference}-refunded",
                     note=f"Payment {charge.reference} was refunded to your card")
    if take < amount:
        payment_issues.record("provider_refund", f"refund:{payment_intent_id}:{amount_refunded}",
                              f"Payment {charge.reference} ({money(charge.amount_cents)}) was refunded at the payment "
                              f"provider, but only {money(take)} was left in the wallet to take back: "
                              f"{money(amount - take)} was spent meanwhile.",
                              charge_reference=charge.reference, amount_cents=amount - take, currency=charge.currency)
    return "refunded"


def confirm_from_provider(charge: Charge) -> str:
    """Success page: ask the provider whether the session is paid, and apply it if so."""
    from . import payment_events

    if charge.status != "pending" or not charge.payment_session_id:
        return charge.status
    provider, session_id = charge.payment_provider, charge.payment_session_id
    return payment_events.apply_provider_state(payments.gateway(provider).retrieve(session_id))
