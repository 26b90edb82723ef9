"""Scheduled upkeep of customers' memberships: hold expiry, plan renewal, old sessions."""
from __future__ import annotations

from webapp.extensions import db
from webapp.services.circulation import hold_dates as hold_dates_service
from webapp.services.circulation import holds, subscriptions
from webapp.services.people import registration, sessions

from . import job


@job
def expire_holds() -> dict[str, int]:
    """Every few minutes: close ready holds whose pick-up window has passed; their copies go to the next in line."""
    return {"expired": holds.expire_due()}


@job
def renew_subscriptions() -> dict[str, int]:
    """Hourly: renew plans whose period has ended (wallet), apply scheduled downgrades, lapse unpaid plans to Free."""
    return subscriptions.renew_due()


@job
def prune_sessions() -> int:
    """Daily: forget signed-in sessions that ended or lapsed more than 90 days ago, and stale registration
    decoys (services.people.registration)."""
    decoys = registration.prune_decoys()
    db.session.commit()
    return sessions.prune() + decoys


@job
def hold_dates() -> dict[str, int]:
    """Every few minutes: resume paused holds whose "not needed until" date has come (a free copy is set aside at
    once) and close waiting holds past their "not needed after" date (the customer is emailed)."""
    return {"resumed": hold_dates_service.resume_due(), "closed": hold_dates_service.close_unneeded()}
