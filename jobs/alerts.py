"""Daily low-stock digest for admins."""
from __future__ import annotations

from webapp.extensions import db
from webapp.services.inventory import alerts

from . import job


@job
def low_stock_digest() -> dict[str, int]:
    result = alerts.send_digest()
    db.session.commit()
    return result
