"""Reports: keep the sales rollups current and email the weekly summary (scheduled in webapp/schedule.py)."""
from __future__ import annotations

from webapp.services.insight import rollups, weekly

from . import job


@job
def refresh_report_rollups() -> rollups.Refreshed:
    """Every 10 minutes: recompute the rollup days touched by orders changed since the last refresh."""
    return rollups.refresh_rollups()


@job
def rebuild_report_rollups() -> rollups.Refreshed:
    """Nightly (and on demand): rebuild the sales rollups from all orders."""
    return rollups.refresh_rollups(full=True)


@job
def weekly_summary() -> weekly.WeeklySent:
    """Mondays: last week's summary to every admin, once per admin and week."""
    return weekly.send_weekly_summary()
