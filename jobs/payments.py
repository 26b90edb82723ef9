from __future__ import annotations

from . import job


@job
def reconcile_payments() -> dict:
    """Every few minutes: settle orders, top-ups and plan charges still pending past their payment page's
    expiry by asking the provider (fulfil, credit, refund or release)."""
    from webapp.services.commerce import reconcile

    return reconcile.run()
