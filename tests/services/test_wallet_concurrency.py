"""The wallet never goes negative under concurrency: real PostgreSQL, one connection per debit."""
import threading

import pytest
from sqlalchemy import func, select

from tests.conftest import using_postgres
from webapp.models import User, WalletEntry

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")

DEBITS = 20


def _race(app, user_id: int, debit) -> list[str]:
    """Run `debit(thread_db, i)` in DEBITS threads released together; each has its own app context,
    so its own session and connection. Returns each thread's outcome."""
    from webapp.services import wallet

    barrier = threading.Barrier(DEBITS)
    results: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        with app.app_context():
            from webapp.extensions import db as thread_db

            thread_db.session.get(User, user_id)  # connect before the start line
            barrier.wait(timeout=60)
            try:
                debit(i)
                thread_db.session.commit()
                outcome = "paid"
            except wallet.InsufficientFunds as exc:
                thread_db.session.rollback()
                outcome = f"refused: {exc}"
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(DEBITS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == DEBITS
    return results


def _customer(db, cents: int) -> int:
    from webapp.services import wallet

    user = User(username="saver", email="saver@example.com", password_hash="!unusable")
    db.session.add(user)
    db.session.flush()
    wallet.credit(user.id, cents, "top_up", reference="opening")
    db.session.commit()
    return user.id


def test_twenty_debits_against_a_balance_that_covers_seven(app, db):
    from webapp.services import wallet

    user_id = _customer(db, 700)
    results = _race(app, user_id, lambda i: wallet.debit(user_id, 100, "order_payment", reference=f"FO-{i:04d}"))

    paid = [r for r in results if r == "paid"]
    refused = [r for r in results if r != "paid"]
    assert len(paid) == 7 and len(refused) == 13
    assert all(r.startswith("refused: Your wallet balance is $") and r.endswith("this needs $1.00.") for r in refused)
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
    from webapp.services import wallet

    user_id = _customer(db, 1)
    results = _race(app, user_id, lambda i: wallet.credit(user_id, 500, "refund", reference="FO-SAME-REFUND"))
    assert results == ["paid"] * DEBITS  # each call succeeds, and gets the one entry back
    db.session.expire_all()
    assert wallet.balance(user_id) == 501
    assert db.session.scalar(select(func.count()).select_from(WalletEntry)
                             .where(WalletEntry.reason == "refund")) == 1
    assert db.session.scalar(select(func.sum(WalletEntry.amount_cents))
                             .where(WalletEntry.user_id == user_id)) == 501
