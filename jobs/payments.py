"""The payment reconciliation job (scheduled every few minutes: webapp/schedule.py)."""
from __future__ import annotations

from webapp.services.commerce import reconcile

from . import job


@job
def reconcile_payments() -> dict[str, int]:
    """Every few minutes: settle orders, top-ups and plan charges still pending past their payment page's
    expiry by asking the provider (fulfil, credit, refund or release)."""
    return reconcile.run()
