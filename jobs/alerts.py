"""Daily low-stock digest for admins."""
from __future__ import annotations

from . import job


@job
def low_stock_digest() -> dict:
    from webapp.extensions import db
    from webapp.services.inventory import alerts

    result = alerts.send_digest()
    db.session.commit()
    return result
