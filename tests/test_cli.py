from sqlalchemy import func, select

from webapp.models import Book, SearchTerm


def test_seed_command_is_idempotent(runner, db):
    result = runner.invoke(args=["seed", "--books", "30", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "Seeded 30 books" in result.output
    assert "demo admin: login 'admin'" in result.output
    again = runner.invoke(args=["seed", "--books", "30", "--seed", "4"])
    assert "Seeded 0 books" in again.output
    assert db.session.scalar(select(func.count()).select_from(Book)) == 30
    assert db.session.scalar(select(func.count()).select_from(SearchTerm)) > 10


def test_seed_rejects_negative_counts(runner):
    result = runner.invoke(args=["seed", "--books", "-5"])
    assert result.exit_code != 0 and "Invalid value" in result.output


def test_worker_burst_runs_queued_jobs(app, runner, db):
    from webapp.models import OutboundEmail
    from webapp.services import mail

    message_id = mail.send("w@example.com", "From the worker", "Body").id
    db.session.commit()
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(OutboundEmail, message_id).status == "outbox"


def test_search_rebuild_terms_command(runner, make_book):
    make_book("Zephyrine Meadows")
    result = runner.invoke(args=["search", "rebuild-terms"])
    assert result.exit_code == 0 and "terms" in result.output


def test_seed_gives_the_demo_admin_2fa_with_the_published_key(runner, db):
    import pyotp

    from webapp.cli import DEMO_ADMIN_TOTP
    from webapp.models import User
    from webapp.services import twofactor

    assert runner.invoke(args=["seed", "--books", "5"]).exit_code == 0
    admin = db.session.scalars(select(User).where(User.username == "admin")).one()
    assert admin.has_2fa and twofactor.verify(admin, pyotp.TOTP(DEMO_ADMIN_TOTP).now()) == "totp"
    out = runner.invoke(args=["demo-credentials"]).output
    assert DEMO_ADMIN_TOTP in out and "admin-demo-pass-2026" in out
    assert runner.invoke(args=["demo-totp"]).output.strip().isdigit()
