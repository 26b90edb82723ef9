import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from webapp.models import User, WalletEntry
from webapp.services.circulation import wallet


@pytest.fixture
def user(auth):
    return auth.user("walleteer")


def _entries(db, user_id):
    return db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user_id).order_by(WalletEntry.id)).all()


def test_credit_and_debit_write_one_entry_each_with_the_balance_after(db, user):
    assert wallet.balance(user.id) == 0
    first = wallet.credit(user.id, 2500, "top_up", reference="pay_1", note="card")
    second = wallet.debit(user.id, 900, "order_payment", reference="FO-AAAA-BBBB-CCCC", actor_id=user.id)
    db.session.commit()
    assert wallet.balance(user.id) == 1600
    assert (first.amount_cents, first.balance_after_cents) == (2500, 2500)
    assert (second.amount_cents, second.balance_after_cents) == (-900, 1600)
    rows = _entries(db, user.id)
    assert [(r.reason, r.reference, r.amount_cents, r.balance_after_cents) for r in rows] == [
        ("top_up", "pay_1", 2500, 2500), ("order_payment", "FO-AAAA-BBBB-CCCC", -900, 1600)]
    assert rows[0].note == "card" and rows[1].actor_id == user.id and rows[0].created_at.tzinfo is not None
    # an already-loaded User stays in step without a reload
    assert db.session.get(User, user.id).wallet_balance_cents == 1600


def test_debit_beyond_the_balance_raises_and_changes_nothing(db, user):
    wallet.credit(user.id, 500, "top_up")
    db.session.commit()
    with pytest.raises(wallet.InsufficientFunds, match=r"Your wallet balance is \$5\.00; this needs \$12\.34\.") as exc:
        wallet.debit(user.id, 1234, "order_payment", reference="FO-1")
    assert isinstance(exc.value, ValueError) and (exc.value.balance_cents, exc.value.wanted_cents) == (500, 1234)
    db.session.rollback()
    assert wallet.balance(user.id) == 500 and len(_entries(db, user.id)) == 1
    # the whole balance can be spent, to exactly zero, and not a cent more
    wallet.debit(user.id, 500, "late_fee", reference="rental-1")
    with pytest.raises(wallet.InsufficientFunds, match=r"is \$0\.00; this needs \$0\.01"):
        wallet.debit(user.id, 1, "late_fee", reference="rental-2")
    db.session.commit()
    assert wallet.balance(user.id) == 0


@pytest.mark.parametrize("cents", [0, -5, 1.5, "100", True, None])
def test_non_positive_or_non_integer_amounts_are_refused(db, user, cents):
    with pytest.raises(wallet.WalletError, match="positive whole number of cents"):
        wallet.credit(user.id, cents, "top_up")
    with pytest.raises(ValueError):
        wallet.debit(user.id, cents, "adjustment")
    assert _entries(db, user.id) == []


def test_unknown_reason_and_unknown_user_are_refused(db, user):
    with pytest.raises(wallet.WalletError, match="Unknown wallet reason"):
        wallet.credit(user.id, 100, "gift")
    with pytest.raises(wallet.WalletError, match="No user"):
        wallet.credit(user.id + 999, 100, "top_up")
    with pytest.raises(wallet.WalletError, match="No user") as exc:
        wallet.debit(user.id + 999, 100, "order_payment")
    assert not isinstance(exc.value, wallet.InsufficientFunds)


def test_a_repeated_reference_returns_the_first_entry_and_changes_nothing(db, user):
    first = wallet.credit(user.id, 1000, "refund", reference="FO-REFUND-1")
    db.session.commit()
    again = wallet.credit(user.id, 1000, "refund", reference="FO-REFUND-1")
    assert again.id == first.id
    # the same reference under another reason is a different event
    wallet.debit(user.id, 300, "order_payment", reference="FO-REFUND-1")
    wallet.debit(user.id, 300, "order_payment", reference="FO-REFUND-1")
    # entries without a reference are never merged
    wallet.credit(user.id, 50, "adjustment")
    wallet.credit(user.id, 50, "adjustment")
    db.session.commit()
    assert wallet.balance(user.id) == 1000 - 300 + 100
    assert len(_entries(db, user.id)) == 4
    # another customer may use the same reference
    other = User(username="other", email="other@example.com", password_hash="!")
    db.session.add(other)
    db.session.commit()
    assert wallet.credit(other.id, 1000, "refund", reference="FO-REFUND-1").id != first.id
    db.session.commit()
    assert wallet.balance(other.id) == 1000


def test_a_twin_that_slips_past_the_check_is_stopped_by_the_constraint_and_undone(db, user, monkeypatch):
    """Two calls racing with the same reference: the second sees no entry yet, then hits the unique
    constraint; only its own change is undone, the caller's transaction carries on."""
    wallet.credit(user.id, 700, "refund", reference="FO-TWIN")
    db.session.commit()
    wallet.credit(user.id, 5, "adjustment", note="earlier in the same transaction")
    monkeypatch.setattr(wallet, "entry_for", lambda *a: None)
    with pytest.raises(IntegrityError):  # nothing to return if the entry cannot be found either
        wallet.credit(user.id, 700, "refund", reference="FO-TWIN")
    db.session.rollback()
    monkeypatch.undo()

    wallet.credit(user.id, 5, "adjustment", note="earlier in the same transaction")
    calls = []
    real_entry_for = wallet.entry_for

    def first_misses(*args):
        calls.append(args)
        return None if len(calls) == 1 else real_entry_for(*args)

    monkeypatch.setattr(wallet, "entry_for", first_misses)
    twin = wallet.credit(user.id, 700, "refund", reference="FO-TWIN")
    db.session.commit()
    assert twin.reference == "FO-TWIN" and twin.balance_after_cents == 700
    assert wallet.balance(user.id) == 705
    assert [e.amount_cents for e in _entries(db, user.id)] == [700, 5]


def test_a_debit_can_be_undone_by_the_callers_rollback(db, user):
    wallet.credit(user.id, 1000, "top_up")
    db.session.commit()
    wallet.debit(user.id, 400, "order_payment", reference="FO-ROLLBACK")
    db.session.rollback()
    assert wallet.balance(user.id) == 1000 and len(_entries(db, user.id)) == 1


@pytest.mark.parametrize("sql", [
    "UPDATE users SET wallet_balance_cents = -1 WHERE id = :id",
    "INSERT INTO wallet_entries (user_id, amount_cents, balance_after_cents, reason, created_at) "
    "VALUES (:id, 0, 0, 'top_up', CURRENT_TIMESTAMP)",
    "INSERT INTO wallet_entries (user_id, amount_cents, balance_after_cents, reason, created_at) "
    "VALUES (:id, -1, -1, 'adjustment', CURRENT_TIMESTAMP)",
    "INSERT INTO wallet_entries (user_id, amount_cents, balance_after_cents, reason, created_at) "
    "VALUES (:id, 1, 1, 'gift', CURRENT_TIMESTAMP)",
])
def test_the_database_refuses_a_negative_balance_or_a_bad_entry(db, user, sql):
    with pytest.raises(IntegrityError):
        db.session.execute(text(sql), {"id": user.id})
        db.session.flush()
    db.session.rollback()


def test_statement_is_newest_first_with_running_balances_and_pages(db, user):
    for i in range(1, 8):
        wallet.credit(user.id, 100 * i, "top_up", reference=f"pay_{i}")
    wallet.debit(user.id, 250, "subscription", reference="plus-2026-11")
    db.session.commit()
    page1 = wallet.statement(user.id, page=1, per_page=5)
    page2 = wallet.statement(user.id, page=2, per_page=5)
    assert (page1.total, page1.pages, page1.has_next, page2.has_prev, page2.has_next) == (8, 2, True, True, False)
    newest_first = page1.items + page2.items
    assert [e.amount_cents for e in newest_first] == [-250, 700, 600, 500, 400, 300, 200, 100]
    assert [e.balance_after_cents for e in newest_first] == [2550, 2800, 2100, 1500, 1000, 600, 300, 100]
    # each running balance is the one below it plus its own amount
    for newer, older in zip(newest_first, newest_first[1:], strict=False):
        assert newer.balance_after_cents == older.balance_after_cents + newer.amount_cents
    assert db.session.scalar(select(func.sum(WalletEntry.amount_cents))
                             .where(WalletEntry.user_id == user.id)) == wallet.balance(user.id) == 2550
    assert wallet.describe(newest_first[0]) == "Subscription plus-2026-11"
    assert wallet.describe(newest_first[1]) == "Top-up pay_7"
    assert wallet.statement(user.id, page=99, per_page=5).page == 2  # out-of-range pages are bounded
    assert wallet.statement(user.id + 1).items == []


def test_deleting_a_user_removes_their_ledger(db, user):
    wallet.credit(user.id, 100, "top_up")
    db.session.commit()
    db.session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user.id})
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(WalletEntry)) == 0


def test_money_in_the_wallet_blocks_account_deletion(app, db):
    from tests.conftest import PASSWORD
    from webapp.services.circulation import wallet as wallet_service
    from webapp.services.closure import deletion
    from webapp.services.people import accounts

    user = accounts.create_user("saver", "saver@example.com", PASSWORD)
    db.session.commit()
    wallet_service.credit(user.id, 1250, "refund", reference="FO-TEST")
    db.session.commit()
    assert deletion.deletion_blockers(user) == ["Your wallet still holds $12.50: spend it, or ask us to pay it out, first."]
    with pytest.raises(accounts.AccountError):
        deletion.delete_account(user, PASSWORD)
