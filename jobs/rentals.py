from __future__ import annotations

from . import job


@job
def rental_reminders() -> dict:
    """Daily: 'due soon' reminders and overdue notices (each rental gets each email once)."""
    from webapp.services.circulation import rentals

    return {"reminders": rentals.send_due_reminders(), "overdue_notices": rentals.send_overdue_notices()}
