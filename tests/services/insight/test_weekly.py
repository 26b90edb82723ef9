"""The weekly summary: one email per admin and week, from the CLI as from the scheduler."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from webapp.models import OutboundEmail, WeeklySummarySend
from webapp.services.insight import weekly
from webapp.services.people import accounts


def test_weekly_summary_emails_each_admin_once_per_week(rolled, db):
    boss = accounts.create_user("boss_one", "boss1@example.com", "correct horse battery staple 42", role="admin",
                                verified=True, check_strength=False)
    accounts.create_user("boss_two", "boss2@example.com", "correct horse battery staple 42", role="admin",
                         verified=True, check_strength=False)
    gone = accounts.create_user("boss_gone", "boss3@example.com", "correct horse battery staple 42", role="admin",
                                verified=True, check_strength=False)
    gone.is_active_account = False
    db.session.commit()
    monday = datetime(2026, 3, 9, 7, tzinfo=UTC)
    assert weekly.send_weekly_summary(now=monday) == {"week": "2026-03-02", "sent": 2, "already": 0}
    assert weekly.send_weekly_summary(now=monday + timedelta(hours=5)) == {"week": "2026-03-02", "sent": 0,
                                                                             "already": 2}
    emails = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.recipient)).all()
    summaries = [m for m in emails if "weekly summary" in m.subject]
    assert [m.recipient for m in summaries] == ["boss1@example.com", "boss2@example.com"]
    rent = rolled["rent"]
    body = summaries[0].body_text
    assert f"Revenue: ${(6698 + 2 * rent) / 100:,.2f} (no sales the week before)" in body
    assert "Orders: 3 " in body and "1. Alpha — 4 units" in body and "Delta — 3 waiting, 0 available" in body
    assert db.session.scalar(select(WeeklySummarySend.email_id).where(WeeklySummarySend.user_id == boss.id))
    # The next week is a new week: one more email each.
    assert weekly.send_weekly_summary(now=monday + timedelta(days=7))["sent"] == 2


def test_weekly_summary_job_runs_from_the_cli_once(app, db, runner):
    accounts.create_user("boss_cli", "bosscli@example.com", "correct horse battery staple 42", role="admin",
                         verified=True, check_strength=False)
    db.session.commit()
    for _ in range(2):
        result = runner.invoke(args=["jobs", "run", "weekly-summary"])
        assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert len(db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == "bosscli@example.com"))
               .all()) == 1
    assert "'mode': 'incremental'" in runner.invoke(args=["jobs", "run", "refresh-report-rollups"]).output
    assert "'mode': 'full'" in runner.invoke(args=["jobs", "run", "rebuild-report-rollups"]).output
