"""Payment-provider webhooks. CSRF-exempt: every request is verified by its signature instead."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from ..extensions import csrf, db
from ..services import payments

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
@csrf.exempt
def stripe_webhook():
    payload = request.get_data(cache=False)
    try:
        event = payments.verify_event(payload, request.headers.get("Stripe-Signature"))
    except ValueError as exc:
        log.warning("rejected webhook: %s", exc)
        return jsonify(error={"code": "invalid_signature", "message": "Signature verification failed."}), 400
    if not payments.record_event(event):
        db.session.rollback()
        return jsonify(received=True, duplicate=True)
    outcome = payments.handle_event(event)
    db.session.commit()
    log.info("webhook %s %s: %s", event["id"], event["type"], outcome)
    return jsonify(received=True, outcome=outcome)
