"""Rental reminder emails (services.circulation.rentals), daily."""
from __future__ import annotations

from webapp.services.circulation import rentals

from . import job


@job
def rental_reminders() -> dict[str, int]:
    """Daily: 'due soon' reminders and overdue notices (each rental gets each email once)."""
    return {"reminders": rentals.send_due_reminders(), "overdue_notices": rentals.send_overdue_notices()}
