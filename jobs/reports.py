"""Reports: keep the sales rollups current and email the weekly summary (scheduled in jobs/cron.py)."""
from __future__ import annotations

from . import job


@job
def refresh_report_rollups() -> dict:
    """Every 10 minutes: recompute the rollup days touched by orders changed since the last refresh."""
    from webapp.services.insight import reports

    return reports.refresh_rollups()


@job
def rebuild_report_rollups() -> dict:
    """Nightly (and on demand): rebuild the sales rollups from all orders."""
    from webapp.services.insight import reports

    return reports.refresh_rollups(full=True)


@job
def weekly_summary() -> dict:
    """Mondays: last week's summary to every admin, once per admin and week."""
    from webapp.services.insight import reports

    return reports.send_weekly_summary()
