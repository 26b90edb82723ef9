from __future__ import annotations

from . import job


class DeliveryFailed(RuntimeError):
    pass


@job
def deliver_test_event(payload: str) -> int:
    """The offline gateway's webhook delivery: sign the event and POST it to our own webhook
    endpoint, through the same WSGI stack a real Stripe delivery takes. Non-2xx answers raise,
    so RQ retries with backoff, as Stripe does."""
    from flask import current_app

    from webapp.services.payments import sign

    signature = sign(payload, current_app.config["STRIPE_WEBHOOK_SECRET"])
    with current_app.test_client() as client:
        response = client.post("/webhooks/stripe", data=payload, content_type="application/json",
                               headers={"Stripe-Signature": signature, "User-Agent": "Folio-TestGateway/1.0"})
    if response.status_code >= 300:
        raise DeliveryFailed(f"webhook answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    return response.status_code


@job
def sweep_reservations() -> int:
    from webapp.services import orders

    return orders.sweep_expired_reservations()
