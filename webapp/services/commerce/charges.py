"""Charges: money taken through the payment gateway for something other than an order.

A wallet top-up credits the wallet when the provider confirms payment (webhook or success page,
whichever comes first; each charge is applied once). A plan bought by card is a top-up of exactly
the plan's price followed, in the same transaction, by the plan change paid from the wallet; if the
plan can no longer be applied as quoted (say the customer changed plans meanwhile), the money
simply stays in the wallet and the customer is told so.

A charge's status moves only through `transition` (one conditional UPDATE, within the moves
models.payments.CHARGE_TRANSITIONS allows), so the webhook, the success page and the reconciler can race
for the same payment and only one of them acts.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import ColumnElement, Update, select, update

from ...extensions import db
from ...models import Charge, User, utcnow
from ...models.payments import CHARGE_TRANSITIONS, ChargeStatus, IssueKind
from ..circulation import fees, subscriptions, wallet
from ..platform import audit, dml, mail
from ..platform.money import money
from ..platform.states import IllegalMove, require_move
from . import payment_issues, payments
from .provider import Payment

log = logging.getLogger(__name__)
PENDING, PAID, EXPIRED = ChargeStatus.PENDING, ChargeStatus.PAID, ChargeStatus.EXPIRED


class ChargeError(ValueError):
    pass


class ChargeStateError(IllegalMove):
    """A status move that CHARGE_TRANSITIONS does not allow: a bug, never a customer's doing."""


def _changed(statement: Update) -> bool:
    """Run a one-row UPDATE; True if it changed the row."""
    return dml.changed(statement.execution_options(synchronize_session=False)) == 1


def transition(charge_id: int, from_statuses: tuple[ChargeStatus, ...], to_status: ChargeStatus,
               *conditions: ColumnElement[bool], **values: object) -> bool:
    """Move the charge to `to_status` if it is still in one of `from_statuses` (and meets `conditions`); True
    if this call did it. Raises ChargeStateError, before touching anything, for a move the table refuses."""
    require_move(CHARGE_TRANSITIONS, from_statuses, to_status, what="a charge", error=ChargeStateError)
    return _changed(update(Charge).where(Charge.id == charge_id, Charge.status.in_(from_statuses), *conditions)
                    .values(status=to_status, **values))


def _new_reference() -> str:
    return "CH-" + secrets.token_hex(5).upper()


def start(user: User, purpose: str, amount_cents: int, *, success_url: Callable[[Charge], str],
          cancel_url: Callable[[Charge], str], tier: str | None = None, for_fees: bool = False) -> tuple[Charge, str]:
    """Open a gateway checkout for a top-up or a plan. Returns (charge, payment URL). A top-up `for_fees` is for
    exactly the fees due (it may be below WALLET_TOP_UP_MIN_CENTS); once credited, `complete` pays them with it.

    Commits: the charge is stored before the provider is called (no transaction across the network call);
    if the provider cannot open the page, the charge is closed and PaymentError raised. ChargeError is
    raised before anything is written."""
    config = current_app.config
    if purpose == "top_up" and for_fees:
        due = fees.total_due(user.id)
        if due <= 0 or amount_cents != due:
            raise ChargeError("Your fees changed meanwhile; please check the amount and try again." if due
                              else "You have no fees to pay.")
        title, description = f"{config['SHOP_NAME']} fees", f"Fees due, {money(amount_cents)}"
    elif purpose == "top_up":
        low, high = config["WALLET_TOP_UP_MIN_CENTS"], config["WALLET_TOP_UP_MAX_CENTS"]
        if not low <= amount_cents <= high:
            raise ChargeError(f"Top-ups are from {money(low)} to {money(high)}.")
        title, description = f"{config['SHOP_NAME']} wallet top-up", f"Wallet top-up of {money(amount_cents)}"
    elif purpose == "subscription":
        if amount_cents <= 0 or tier is None or tier not in ("plus", "premium"):
            raise ChargeError("Nothing to pay for this plan change.")
        label = subscriptions.tier(tier).label
        title, description = f"{config['SHOP_NAME']} {label} plan", f"{label} plan, {money(amount_cents)}"
    else:
        raise ChargeError("Unknown payment.")
    if not user.is_verified:
        raise ChargeError("Please confirm your email address first.")
    expires_at = utcnow() + timedelta(minutes=config["CHECKOUT_EXPIRY_MINUTES"] + 1)
    charge = Charge(reference=_new_reference(), user_id=user.id, purpose=purpose, tier=tier,
                    amount_cents=amount_cents, currency=config["CURRENCY"], status=PENDING,
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
        transition(charge.id, (PENDING,), EXPIRED)
        db.session.commit()
        raise
    _changed(update(Charge).where(Charge.id == charge.id, Charge.payment_session_id.is_(None))
             .values(payment_session_id=session.id, payment_url=session.url))
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
    if charge.status == PAID:
        return "already"
    owner = db.session.get(User, charge.user_id)
    if owner is None or owner.deleted_at is not None:
        return _refuse(charge, payment, "the account had been closed", tell_staff=False)
    if not transition(charge.id, (PENDING, EXPIRED), PAID, Charge.refunded_at.is_(None), paid_at=utcnow(),
                      payment_intent_id=payment.payment_intent_id):
        return "already"
    db.session.refresh(charge)
    plan = subscriptions.tier(charge.tier).label if charge.tier else None
    wallet.credit(charge.user_id, charge.amount_cents, "top_up", reference=charge.reference,
                  note="Card payment" + (f" for the {plan} plan" if plan else ""))
    user = db.session.get(User, charge.user_id)
    if charge.purpose == "subscription" and charge.tier and user is not None:
        try:
            with db.session.begin_nested():
                q = subscriptions.quote_change(user, charge.tier)
                # An upgrade costs a little less the later it is paid (pro rata): any difference stays in the wallet.
                if q.kind not in ("subscribe", "upgrade") or q.charge_cents > charge.amount_cents:
                    raise subscriptions.SubscriptionError("The plan changed meanwhile.")
                subscriptions.change(user, charge.tier, paid_reference=charge.reference)
        except (subscriptions.SubscriptionError, wallet.InsufficientFunds) as exc:
            log.warning("charge %s: plan not applied: %s", charge.reference, exc)
            mail.send_template(user.email, "charge_plan_kept_in_wallet", name=user.display_name,
                               amount_cents=charge.amount_cents, plan=plan)
            return "credited"
        mail.send_template(user.email, "charge_plan_active", name=user.display_name, plan=plan,
                           reference=charge.reference, amount_cents=charge.amount_cents)
        return "subscribed"
    # Only a plain top-up settles fees here: a plan's money stays in the wallet for the plan (above).
    fees_paid = fees.settle(charge.user_id) if charge.purpose == "top_up" else 0
    if user is not None:
        mail.send_template(user.email, "charge_top_up", name=user.display_name, reference=charge.reference,
                           amount_cents=charge.amount_cents, fees_paid_cents=fees_paid,
                           fees_due_cents=fees.total_due(user.id) if fees_paid else 0)
    audit.record("wallet.top_up", actor_id=charge.user_id, object_type="charge", object_id=charge.reference,
                 after={"amount_cents": charge.amount_cents})
    return "credited"


def _refuse(charge: Charge, payment: Payment, problem: str, *, tell_staff: bool = True) -> str:
    """Not credited: refund what was paid, once per session (the charge is closed by one conditional UPDATE),
    and for a mismatch raise a payment issue for staff."""
    closed = transition(charge.id, (PENDING, EXPIRED), EXPIRED, Charge.refunded_at.is_(None), refunded_at=utcnow(),
                        payment_intent_id=payment.payment_intent_id)
    if tell_staff:
        payment_issues.record(IssueKind.AMOUNT_MISMATCH, f"session:{payment.session_id}",
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
            mail.send_template(user.email, "charge_refused", name=user.display_name, reference=charge.reference,
                               amount_cents=payment.amount_cents)
    return "refunded" if not tell_staff else "mismatch"


def expire(session_id: str) -> str:
    charge = by_session(session_id)
    if charge is None:
        return "unknown"
    return expire_charge(charge)


def expire_charge(charge: Charge) -> str:
    """The payment page closed unpaid. A payment that still arrives later is credited all the same."""
    return "expired" if transition(charge.id, (PENDING,), EXPIRED) else "already"


def refund_confirmed(payment_intent_id: str, amount_refunded: int) -> str:
    """The provider confirms a refund of a charge's payment. One we asked for (a payment we could not use) is
    only recorded. A top-up refunded at the provider after it was credited (its dashboard, a dispute) takes the
    money back out of the wallet, as far as it is still there; what was spent meanwhile goes to staff."""
    charge = db.session.scalar(select(Charge).where(Charge.payment_intent_id == payment_intent_id))
    if charge is None:
        return "unknown"
    audit.record("charge.refunded", actor_id=None, object_type="charge", object_id=charge.reference,
                 after={"amount_refunded_cents": amount_refunded})
    if charge.status != PAID:
        return "refunded"
    # The charge stays paid (it was, and the wallet was credited); refunded_at records the money going back.
    if not _changed(update(Charge).where(Charge.id == charge.id, Charge.refunded_at.is_(None))
                    .values(refunded_at=utcnow())):
        return "already"
    amount = min(amount_refunded, charge.amount_cents)
    take = min(amount, wallet.balance(charge.user_id))
    if take:
        wallet.debit(charge.user_id, take, "adjustment", reference=f"{charge.reference}-refunded",
                     note=f"Payment {charge.reference} was refunded to your card")
    if take < amount:
        payment_issues.record(IssueKind.PROVIDER_REFUND, f"refund:{payment_intent_id}:{amount_refunded}",
                              f"Payment {charge.reference} ({money(charge.amount_cents)}) was refunded at the payment "
                              f"provider, but only {money(take)} was left in the wallet to take back: "
                              f"{money(amount - take)} was spent meanwhile.",
                              charge_reference=charge.reference, amount_cents=amount - take, currency=charge.currency)
    return "refunded"


def confirm_from_provider(charge: Charge) -> str:
    """Success page: ask the provider whether the session is paid, and credit it if so (the webhook may not
    have arrived yet; whichever comes first applies it, the other finds it done)."""
    if charge.status != PENDING or not charge.payment_session_id:
        return charge.status
    state = payments.gateway(charge.payment_provider).retrieve(charge.payment_session_id)
    if not state.paid:
        return state.unpaid_outcome
    return complete(Payment(state.id, state.payment_intent, state.amount_total, state.currency))
