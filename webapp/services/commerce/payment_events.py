"""Provider events and states: verify a webhook's signature, check its shape, count each event id once,
and apply what it reports to the order or charge it is about. The success pages, the reconciliation job
and the outbox apply a provider's answer (`apply_provider_state`) through the same functions, so the
webhook and they can race without doing anything twice.

This module sits above the code it dispatches to (services.commerce.fulfilment for orders,
services.commerce.charges for top-ups and plans) and above the gateways: none of them imports it. The one
gateway-side path that must apply a payment (a page paid while the outbox was closing it) is handed
`apply_provider_state` at start (`services.connect()` -> `payments.settle_paid_with`).

A signed event of a shape we cannot read (no id, a list where an object belongs, a text amount, an id
too long to store) raises MalformedEvent: the webhook answers 400 and nothing changes.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app

from ...models import PaymentEvent, utcnow
from ..platform import upsert
from . import charges, fulfilment
from .fulfilment import Payment
from .provider import SessionState

log = logging.getLogger(__name__)
MAX_ID = 255
SESSION_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded",
                  "checkout.session.async_payment_failed", "checkout.session.expired")


class MalformedEvent(ValueError):
    pass


class UnknownPayment(LookupError):
    """A refund for a payment we have not seen yet (its completion is still on its way): not recorded, so
    the provider delivers it again later, after the payment it refunds."""


@dataclass(frozen=True)
class ProviderEvent:
    id: str
    type: str
    object: dict[str, Any]  # the event's data.object, its fields checked for the types we act on
    raw: dict[str, Any]


class BadSignature(ValueError):
    pass


def verify(payload: bytes, signature_header: str | None) -> object:
    """The decoded body if the signature (and its timestamp, within 5 minutes) is valid; raises BadSignature
    otherwise, and MalformedEvent for a signed body that is not JSON. The shape is checked by `parse`."""
    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    if not secret:
        raise BadSignature("no webhook secret is configured")
    try:
        stripe.WebhookSignature.verify_header(payload, signature_header or "", secret,
                                              stripe.Webhook.DEFAULT_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(str(exc)) from None
    try:
        return json.loads(payload)
    except ValueError:
        raise MalformedEvent("the body is not JSON") from None


def _text(value: object, what: str, *, limit: int = MAX_ID) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise MalformedEvent(f"{what} must be text of 1 to {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEvent(f"{what} is not valid text") from None
    return value


def _optional_text(value: object, what: str, *, limit: int = MAX_ID) -> str | None:
    return None if value is None else _text(value, what, limit=limit)


def _intent(value: object) -> str | None:
    """A payment intent id, given as text or (expanded) as an object with an id."""
    if isinstance(value, dict):
        return _text(value.get("id"), "payment_intent.id")
    return _optional_text(value, "payment_intent")


def _cents(value: object, what: str, *, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**12:
        raise MalformedEvent(f"{what} must be a whole number of cents")
    return value


def parse(event: object) -> ProviderEvent:
    """Check the fields we rely on and normalise them (an expanded payment intent becomes its id)."""
    if not isinstance(event, dict):
        raise MalformedEvent("the event must be an object")
    event_id = _text(event.get("id"), "id")
    kind = _text(event.get("type"), "type", limit=100)
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEvent("data.object must be an object")
    if kind in SESSION_EVENTS:
        currency = _optional_text(obj.get("currency"), "currency", limit=3)
        obj = {"id": _text(obj.get("id"), "session id"), "payment_status": obj.get("payment_status"),
               "payment_intent": _intent(obj.get("payment_intent")),
               "amount_total": _cents(obj.get("amount_total"), "amount_total"),
               "currency": currency.lower() if currency else None}
        if obj["payment_status"] not in (None, "paid", "unpaid", "no_payment_required"):
            raise MalformedEvent("payment_status is not one Stripe sends")
    elif kind == "charge.refunded":
        obj = {"payment_intent": _intent(obj.get("payment_intent")),
               "amount_refunded": _cents(obj.get("amount_refunded"), "amount_refunded", required=True)}
    return ProviderEvent(event_id, kind, obj, event)


def record(event: ProviderEvent) -> bool:
    """Store the event id; False when it was seen before (a replay changes nothing)."""
    stored = upsert.insert_once(PaymentEvent, PaymentEvent.id, id=event.id, type=event.type, payload=event.raw,
                                received_at=utcnow())
    return stored is not None


def handle(event: ProviderEvent) -> str:
    """Apply a verified, first-seen event. Types we do not act on are acknowledged and ignored."""
    obj = event.object
    if event.type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj["payment_status"] != "paid":
            return "awaiting_payment"  # e.g. bank debits: async_payment_succeeded follows
        return settle(Payment(obj["id"], obj["payment_intent"], obj["amount_total"], obj["currency"]))
    if event.type in ("checkout.session.async_payment_failed", "checkout.session.expired"):
        return _closed_unpaid(obj["id"], failed=event.type.endswith("failed"))
    if event.type == "charge.refunded":
        if not obj["payment_intent"]:
            return "ignored"
        return _refunded(obj["payment_intent"], obj["amount_refunded"])
    return "ignored"


def settle(payment: Payment) -> str:
    """A payment the provider confirms: to its order, or to its charge (a top-up or a plan)."""
    if fulfilment.order_for_session(payment.session_id) is not None:
        return fulfilment.fulfil(payment)
    if charges.by_session(payment.session_id) is not None:
        return charges.complete(payment)
    log.warning("payment for unknown session %s", payment.session_id)
    return "unknown"


def _closed_unpaid(session_id: str, *, failed: bool) -> str:
    if fulfilment.order_for_session(session_id) is not None:
        return fulfilment.payment_failed(session_id) if failed else fulfilment.expire(session_id)
    return charges.expire(session_id)


def _refunded(payment_intent_id: str, amount_refunded: int) -> str:
    outcome = fulfilment.refund_confirmed(payment_intent_id, amount_refunded)
    if outcome == "unknown":
        outcome = charges.refund_confirmed(payment_intent_id, amount_refunded)
    if outcome == "unknown":
        raise UnknownPayment(payment_intent_id)
    return outcome


def apply_provider_state(state: SessionState) -> str:
    """What the provider says about a session now (asked by a success page, the reconciler or the outbox)."""
    if not state.paid:
        return state.unpaid_outcome
    return settle(Payment(state.id, state.payment_intent, state.amount_total, state.currency))

