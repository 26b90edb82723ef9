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

from ..extensions import db
from ..models import Charge, User, utcnow
from . import audit, mail, payments, subscriptions, wallet
from .money import money

log = logging.getLogger(__name__)


class ChargeError(ValueError):
    pass


def _new_reference() -> str:
    return "CH-" + secrets.token_hex(5).upper()


def start(user: User, purpose: str, amount_cents: int, *, success_url, cancel_url, tier: str | None = None
          ) -> tuple[Charge, str]:
    """Open a gateway checkout for a top-up or a plan. Returns (charge, payment URL). The caller commits."""
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
    charge = Charge(reference=_new_reference(), user_id=user.id, purpose=purpose, tier=tier,
                    amount_cents=amount_cents, currency=config["CURRENCY"], status="pending",
                    payment_provider=payments.provider_name())
    db.session.add(charge)
    db.session.flush()
    request = payments.CheckoutRequest(
        reference=charge.reference, amount_cents=amount_cents, currency=charge.currency, email=user.email,
        title=title, description=description,
        line_items=[{"title": description, "quantity": 1, "amount": amount_cents, "mode": purpose}],
        expires_at=utcnow() + timedelta(minutes=config["CHECKOUT_EXPIRY_MINUTES"]), charge_id=charge.id)
    session = payments.gateway().create_checkout(request, success_url(charge), cancel_url(charge))
    charge.payment_session_id = session.id
    return charge, session.url


def by_session(session_id: str) -> Charge | None:
    return db.session.scalar(select(Charge).where(Charge.payment_session_id == session_id))


def by_reference(user_id: int, reference: str) -> Charge | None:
    return db.session.scalar(select(Charge).where(Charge.user_id == user_id, Charge.reference == (reference or "")[:30]))


def complete(session_id: str, *, payment_intent_id: str | None, amount_total: int | None) -> str:
    """The provider confirmed payment: credit the wallet (and buy the plan). Once per charge."""
    charge = by_session(session_id)
    if charge is None:
        log.warning("payment for unknown session %s", session_id)
        return "unknown"
    if amount_total is not None and amount_total != charge.amount_cents:
        log.error("charge %s: paid %s but asked %s", charge.reference, amount_total, charge.amount_cents)
    done = db.session.execute(update(Charge).where(Charge.id == charge.id, Charge.status.in_(("pending", "expired")))
                              .values(status="paid", paid_at=utcnow(), payment_intent_id=payment_intent_id)
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


def expire(session_id: str) -> str:
    charge = by_session(session_id)
    if charge is None:
        return "unknown"
    done = db.session.execute(update(Charge).where(Charge.id == charge.id, Charge.status == "pending")
                              .values(status="expired").execution_options(synchronize_session=False)).rowcount
    return "expired" if done else "already"


def handle_session_event(kind: str, obj: dict) -> str:
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") == "paid":
            return complete(obj["id"], payment_intent_id=obj.get("payment_intent"), amount_total=obj.get("amount_total"))
        return "awaiting_payment"
    if kind in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        return expire(obj["id"])
    return "ignored"


def confirm_from_provider(charge: Charge) -> str:
    """Success page: ask the provider whether the session is paid, and apply it if so."""
    if charge.status != "pending" or not charge.payment_session_id:
        return charge.status
    state = payments.gateway().retrieve(charge.payment_session_id)
    if state.payment_status == "paid":
        return complete(state.id, payment_intent_id=state.payment_intent, amount_total=state.amount_total)
    return "pending"
