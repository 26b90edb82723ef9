"""A top-up being credited and "Pay now" clicked at the same moment settle a fee exactly once: real PostgreSQL,
one connection per thread (the webhook and the success page both completing the top-up, and several "Pay now")."""
import pytest
from sqlalchemy import func, select

from tests.checkout_helpers import shopper
from tests.concurrency import race
from tests.conftest import using_postgres
from tests.fee_helpers import late_return
from webapp.models import Charge, Rental, User, WalletEntry

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")

COMPLETIONS, PAY_NOWS = 2, 4


def _setup(db, username: str) -> tuple[int, int, int]:
    from webapp.services.circulation import wallet
    from webapp.services.commerce import charges, test_gateway

    user = shopper(username)
    rental = late_return(user, days_late=10)  # 500 due
    wallet.credit(user.id, 300, "adjustment", reference="gift")  # Pay now alone can pay 300 of it
    charge, _ = charges.start(user, "top_up", 600, success_url=lambda c: "s", cancel_url=lambda c: "c")
    db.session.commit()
    assert test_gateway.TestGateway().pay(charge.payment_session_id, "4242424242424242", 12, 2099, "123") is None
    db.session.commit()  # paid at the gateway, not yet credited: the webhook and the success page race for it
    return user.id, rental.id, charge.id


@pytest.mark.parametrize("round_", range(3))
def test_top_up_and_pay_now_at_once_settle_the_fee_once(app, db, round_):
    user_id, rental_id, charge_id = _setup(db, f"racer{round_}")

    def work(i: int):
        from webapp.extensions import db as thread_db
        from webapp.services.circulation import fees
        from webapp.services.commerce import charges

        charge = thread_db.session.get(Charge, charge_id)  # connects before the start line
        if i < COMPLETIONS:
            return lambda: charges.confirm_from_provider(charge)
        return lambda: fees.pay_now(user_id)

    results = race(app, work, COMPLETIONS + PAY_NOWS)
    assert results == ["ok"] * (COMPLETIONS + PAY_NOWS), results

    db.session.expire_all()
    rental = db.session.get(Rental, rental_id)
    assert (rental.fee_cents, rental.fee_paid_cents, rental.fee_due_cents) == (500, 500, 0)
    entries = db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user_id)
                                 .order_by(WalletEntry.id)).all()
    assert sum(e.amount_cents for e in entries if e.reason == "late_fee") == -500
    assert sum(1 for e in entries if e.reason == "top_up") == 1  # credited once
    assert len({e.reference for e in entries if e.reason == "late_fee"}) == sum(
        1 for e in entries if e.reason == "late_fee")
    assert all(e.balance_after_cents >= 0 for e in entries)
    balance = db.session.scalar(select(User.wallet_balance_cents).where(User.id == user_id))
    assert balance == 300 + 600 - 500 == db.session.scalar(
        select(func.sum(WalletEntry.amount_cents)).where(WalletEntry.user_id == user_id))
    assert db.session.get(Charge, charge_id).status == "paid"
