"""The wallet never goes negative under concurrency: real PostgreSQL, one connection per debit."""
import pytest
from sqlalchemy import func, select

from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import User, WalletEntry

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")

DEBITS = 20


def _race(app, user_id: int, action) -> list[str]:
    """Run `action(i)` in DEBITS threads released together, each on its own connection."""
    def work(i: int):
        from webapp.extensions import db as thread_db

        thread_db.session.get(User, user_id)  # connect before the start line
        return lambda: action(i)

    return race(app, work, DEBITS)


def _customer(db, cents: int) -> int:
    from webapp.services.circulation import wallet

    user = User(username="saver", email="saver@example.com", password_hash="!unusable")
    db.session.add(user)
    db.session.flush()
    wallet.credit(user.id, cents, "top_up", reference="opening")
    db.session.commit()
    return user.id


def test_twenty_debits_against_a_balance_that_covers_seven(app, db):
    from webapp.services.circulation import wallet

    user_id = _customer(db, 700)
    results = _race(app, user_id, lambda i: wallet.debit(user_id, 100, "order_payment", reference=f"FO-{i:04d}"))

    paid = [r for r in results if r == "ok"]
    refused = [r for r in results if r != "ok"]
    assert len(paid) == 7 and len(refused) == 13
    assert all(r.startswith("InsufficientFunds: Your wallet balance is $") and r.endswith("this needs $1.00.") for r in refused)
    db.session.expire_all()
    assert wallet.balance(user_id) == 0
    entries = db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user_id)).all()
    assert len(entries) == 1 + 7
    assert sum(e.amount_cents for e in entries) == 0
    assert all(e.balance_after_cents >= 0 for e in entries)
    # every successful debit saw a different balance: 600, 500, ... 0
    assert sorted(e.balance_after_cents for e in entries if e.amount_cents < 0) == [0, 100, 200, 300, 400, 500, 600]


def test_twenty_retries_of_one_refund_credit_it_once(app, db):
    """A webhook retried many times at once: the same (reason, reference) is applied exactly once."""
    from webapp.services.circulation import wallet

    user_id = _customer(db, 1)
    results = _race(app, user_id, lambda i: wallet.credit(user_id, 500, "refund", reference="FO-SAME-REFUND"))
    assert results == ["ok"] * DEBITS  # each call succeeds, and gets the one entry back
    db.session.expire_all()
    assert wallet.balance(user_id) == 501
    assert db.session.scalar(select(func.count()).select_from(WalletEntry)
                             .where(WalletEntry.reason == "refund")) == 1
    assert db.session.scalar(select(func.sum(WalletEntry.amount_cents))
                             .where(WalletEntry.user_id == user_id)) == 501
