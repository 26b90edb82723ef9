from __future__ import annotations

from . import job


@job
def expire_holds() -> dict:
    """Every few minutes: close ready holds whose pick-up window has passed; their copies go to the next in line."""
    from webapp.services.circulation import holds

    return {"expired": holds.expire_due()}


@job
def renew_subscriptions() -> dict:
    """Hourly: renew plans whose period has ended (wallet), apply scheduled downgrades, lapse unpaid plans to Free."""
    from webapp.services.circulation import subscriptions

    return subscriptions.renew_due()


@job
def prune_sessions() -> int:
    """Daily: forget signed-in sessions that ended or lapsed more than 90 days ago, and stale registration
    decoys (services.people.registration)."""
    from webapp.extensions import db
    from webapp.services.people import registration, sessions

    decoys = registration.prune_decoys()
    db.session.commit()
    return sessions.prune() + decoys
