"""Staff wallet corrections (services.circulation.adjustments): credit and debit with a reason, audited and emailed;
a debit beyond the balance refused; bounded amounts; the same form applied once, also when two submissions race
(PostgreSQL, real connections)."""
import pytest
from sqlalchemy import func, select

from tests.checkout_helpers import shopper
from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import AuditLog, OutboundEmail, User, WalletEntry
from webapp.services.circulation import adjustments, wallet
from webapp.services.circulation.adjustments import AdjustmentError


@pytest.fixture
def boss(app, db):
    from webapp.services.people import accounts

    user = accounts.create_user("boss", "boss@example.com", "correct horse battery staple 42", role="admin",
                                verified=True, check_strength=False)
    db.session.commit()
    return user


@pytest.fixture
def reader(app, db):
    user = shopper("reader")
    wallet.credit(user.id, 1000, "top_up", reference="opening")
    db.session.commit()
    return user


def test_credit_and_debit_with_a_reason_are_audited_and_emailed(app, db, boss, reader):
    done = adjustments.adjust(boss, reader, "credit", 250, "  Goodwill:   late parcel ", form_reference="a" * 32)
    db.session.commit()
    assert done.applied and done.entry.amount_cents == 250 and done.entry.balance_after_cents == 1250
    assert (done.entry.reason, done.entry.note, done.entry.actor_id) == ("adjustment", "Goodwill: late parcel",
                                                                       boss.id)
    done = adjustments.adjust(boss, reader, "debit", 1250, "Paid out in cash", form_reference="b" * 32)
    db.session.commit()
    assert done.entry.amount_cents == -1250 and wallet.balance(reader.id) == 0
    entries = db.session.scalars(select(AuditLog).where(AuditLog.action.like("admin.wallet_%"))
                                 .order_by(AuditLog.id)).all()
    assert [e.action for e in entries] == ["admin.wallet_credit", "admin.wallet_debit"]
    assert entries[1].before == {"balance_cents": 1250} and entries[1].after["balance_cents"] == 0
    assert entries[1].actor_id == boss.id and entries[1].note == "Paid out in cash"
    mails = db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == reader.email)
                               .order_by(OutboundEmail.id)).all()
    assert [m.subject for m in mails] == ["$2.50 added to your Folio wallet", "$12.50 taken from your Folio wallet"]
    assert "Goodwill: late parcel" in mails[0].body_text and "$0.00" in mails[1].body_text


def test_a_debit_beyond_the_balance_is_refused_and_changes_nothing(app, db, boss, reader):
    with pytest.raises(AdjustmentError, match=r"holds \$10\.00: a debit of \$10\.01 would take it below zero"):
        adjustments.adjust(boss, reader, "debit", 1001, "Too much", form_reference="c" * 32)
    db.session.rollback()
    assert wallet.balance(reader.id) == 1000
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action.like("admin.wallet_%"))) == 0


@pytest.mark.parametrize(("kind", "cents", "reason", "reference", "field"), [
    ("credit", 0, "r", "d" * 32, "amount"), ("credit", -5, "r", "d" * 32, "amount"),
    ("credit", True, "r", "d" * 32, "amount"), ("credit", 100_001, "r", "d" * 32, "amount"),
    ("credit", 100, "   ", "d" * 32, "reason"), ("credit", 100, "x" * 201, "d" * 32, "reason"),
    ("refund", 100, "r", "d" * 32, "kind"), ("credit", 100, "r", "not-a-token", ""),
    ("credit", 100, "r", "", "")])
def test_bad_input_is_refused_on_its_field(app, db, boss, reader, kind, cents, reason, reference, field):
    with pytest.raises(AdjustmentError) as refused:
        adjustments.adjust(boss, reader, kind, cents, reason, form_reference=reference)
    assert list(refused.value.errors) == [field]
    db.session.rollback()
    assert wallet.balance(reader.id) == 1000


def test_the_same_form_applies_once(app, db, boss, reader):
    first = adjustments.adjust(boss, reader, "credit", 500, "Refund by hand", form_reference="e" * 32)
    db.session.commit()
    again = adjustments.adjust(boss, reader, "credit", 500, "Refund by hand", form_reference="e" * 32)
    db.session.commit()
    assert first.applied and not again.applied and again.entry.id == first.entry.id
    assert wallet.balance(reader.id) == 1500
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.wallet_credit")) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)
                             .where(OutboundEmail.recipient == reader.email)) == 1


def test_a_deleted_account_cannot_be_adjusted(app, db, boss, reader):
    from webapp.models import utcnow

    reader.deleted_at = utcnow()
    with pytest.raises(AdjustmentError, match="deleted"):
        adjustments.adjust(boss, reader, "credit", 100, "x", form_reference="f" * 32)


@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): SQLite serialises writers")
def test_a_double_submit_racing_itself_applies_once(app, db, boss, reader):
    boss_id, reader_id = boss.id, reader.id

    def work(i: int):
        from webapp.extensions import db as thread_db

        actor, user = thread_db.session.get(User, boss_id), thread_db.session.get(User, reader_id)
        return lambda: adjustments.adjust(actor, user, "credit", 300, "Twice clicked", form_reference="9" * 32)

    outcomes = race(app, work, 6)
    assert outcomes == ["ok"] * 6
    db.session.expire_all()
    assert wallet.balance(reader_id) == 1300
    assert db.session.scalar(select(func.count()).select_from(WalletEntry)
                             .where(WalletEntry.reason == "adjustment")) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.wallet_credit")) == 1


def test_a_credit_pays_fees_due_first_like_any_money_arriving(app, db, boss):
    from tests.fee_helpers import late_return
    from webapp.services.circulation import fees

    user = shopper("latecomer")
    late_return(user, days_late=3)  # $1.50 due, nothing in the wallet
    assert fees.total_due(user.id) == 150
    done = adjustments.adjust(boss, user, "credit", 1000, "Goodwill", form_reference="7" * 32)
    db.session.commit()
    assert (done.settled_cents, done.balance_cents) == (150, 850)
    assert fees.total_due(user.id) == 0 and wallet.balance(user.id) == 850
    mail = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.like("%added to your%"))).one()
    assert "We used $1.50 of it to pay the fees you owed" in mail.body_text and "$8.50" in mail.body_text
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.wallet_credit")).one()
    assert entry.after["fees_paid_cents"] == 150 and entry.after["balance_cents"] == 850
