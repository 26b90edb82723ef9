"""Rental reminder emails (services.circulation.rentals) and lost rentals (services.circulation.lost), daily."""
from __future__ import annotations

from webapp.services.circulation import lost, rentals

from . import job


@job
def rental_reminders() -> dict[str, int]:
    """Daily: 'due soon' reminders and overdue notices (each rental gets each email once)."""
    return {"reminders": rentals.send_due_reminders(), "overdue_notices": rentals.send_overdue_notices()}


@job
def mark_lost_rentals() -> dict[str, int]:
    """Daily: rentals more than RENTAL_LOST_AFTER_DAYS overdue (and not sent back) become lost (services.circulation.lost)."""
    return {"lost": lost.mark_lost_due()}
