"""Payment-provider webhooks. CSRF-exempt: every request is verified by its signature instead."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from ..extensions import csrf, db
from ..services.commerce import payment_events

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _error(code: str, message: str):
    return jsonify(error={"code": code, "message": message}), 400


@bp.post("/stripe")
@csrf.exempt
def stripe_webhook():
    """Verify, check the shape, count the event id once, apply, commit. A replay or a second delivery of the
    same event answers 200 with `duplicate`; a signed event we cannot read answers 400 and changes nothing."""
    payload = request.get_data(cache=False)
    try:
        event = payment_events.parse(payment_events.verify(payload, request.headers.get("Stripe-Signature")))
    except payment_events.BadSignature as exc:
        log.warning("rejected webhook: %s", exc)
        return _error("invalid_signature", "Signature verification failed.")
    except payment_events.MalformedEvent as exc:
        log.warning("malformed signed webhook: %s", exc)
        return _error("malformed_event", f"The event could not be read: {exc}.")
    if not payment_events.record(event):
        db.session.rollback()
        return jsonify(received=True, duplicate=True)
    try:
        outcome = payment_events.handle(event)
    except payment_events.UnknownPayment:
        db.session.rollback()  # not recorded: the provider retries, and by then the payment is known
        return jsonify(error={"code": "unknown_payment",
                              "message": "This refund is for a payment not received yet; send it again later."}), 409
    db.session.commit()
    log.info("webhook %s %s: %s", event.id, event.type, outcome)
    return jsonify(received=True, outcome=outcome)
