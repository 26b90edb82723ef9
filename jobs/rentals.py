"""Rentals, daily: automatic renewals and reminder emails (services.circulation.loans, .rentals) and lost
rentals (services.circulation.lost)."""
from __future__ import annotations

from webapp.services.circulation import loans, lost, rentals

from . import job


@job
def rental_reminders() -> dict[str, int]:
    """Daily: automatic renewals first (the customers who chose them; so no reminder goes out for a date that
    just moved), then 'due soon' reminders and overdue notices (each rental gets each email once)."""
    renewed = loans.auto_renew()
    return {"auto_renewed": renewed, "reminders": rentals.send_due_reminders(),
            "overdue_notices": rentals.send_overdue_notices()}


@job
def mark_lost_rentals() -> dict[str, int]:
    """Daily: rentals more than RENTAL_LOST_AFTER_DAYS overdue (and not sent back) become lost
    (services.circulation.lost)."""
    return {"lost": lost.mark_lost_due()}
