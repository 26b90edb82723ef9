"""The states a charge and a gateway session move through: one table of allowed moves each (models.payments),
enforced by the one conditional UPDATE that moves them; and the charge emails, rendered from templates."""
import pytest
from sqlalchemy import select

from tests.checkout_helpers import shopper
from webapp.models import Charge, GatewaySession, OutboundEmail
from webapp.models.payments import (
    CHARGE_TRANSITIONS,
    PAYMENT_ISSUE_KINDS,
    SESSION_TRANSITIONS,
    ChargeStatus,
    SessionStatus,
)
from webapp.services.commerce import charges, payment_events, test_gateway
from webapp.services.commerce.provider import Payment


def fresh(db, model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def top_up(user, cents=2000):
    charge, _ = charges.start(user, "top_up", cents, success_url=lambda c: "s", cancel_url=lambda c: "c")
    return charge


def test_the_statuses_are_the_stored_strings_and_every_one_has_its_moves():
    assert [s.value for s in ChargeStatus] == ["pending", "paid", "expired"]  # = the charges.status check
    assert [s.value for s in SessionStatus] == ["open", "complete", "expired"]  # = gateway_sessions.status
    assert PAYMENT_ISSUE_KINDS == ("amount_mismatch", "outbox_failed", "provider_refund")
    assert set(CHARGE_TRANSITIONS) == set(ChargeStatus) and set(SESSION_TRANSITIONS) == set(SessionStatus)
    assert CHARGE_TRANSITIONS[ChargeStatus.PAID] == frozenset()  # a credited charge never moves again


def test_a_charge_move_the_table_does_not_allow_is_refused_and_changes_nothing(app, db):
    charge = top_up(shopper("mover"))
    assert charges.transition(charge.id, (ChargeStatus.PENDING,), ChargeStatus.PAID)
    db.session.commit()
    with pytest.raises(charges.ChargeStateError, match="from paid to expired"):
        charges.transition(charge.id, (ChargeStatus.PAID,), ChargeStatus.EXPIRED)
    with pytest.raises(charges.ChargeStateError, match="from pending to pending"):
        charges.transition(charge.id, (ChargeStatus.PENDING,), ChargeStatus.PENDING)
    db.session.rollback()
    assert fresh(db, Charge, charge.id).status == "paid"


def test_an_allowed_charge_move_happens_once(app, db):
    charge = top_up(shopper("twice"))
    assert charges.expire_charge(charge) == "expired"
    assert charges.expire_charge(charge) == "already"  # pending -> expired only from pending
    # A late payment may still credit an expired charge (expired -> paid), once.
    assert charges.transition(charge.id, (ChargeStatus.PENDING, ChargeStatus.EXPIRED), ChargeStatus.PAID)
    assert not charges.transition(charge.id, (ChargeStatus.PENDING, ChargeStatus.EXPIRED), ChargeStatus.PAID)
    db.session.commit()
    assert fresh(db, Charge, charge.id).status == "paid"


def test_a_gateway_session_move_the_table_does_not_allow_is_refused(app, db):
    charge = top_up(shopper("paid_page"))
    session_id = charge.payment_session_id
    assert test_gateway.TestGateway().pay(session_id, "4242424242424242", 12, 2099, "123") is None
    with pytest.raises(test_gateway.SessionStateError, match="from complete to expired"):
        test_gateway._move(session_id, SessionStatus.COMPLETE, SessionStatus.EXPIRED)
    db.session.rollback()
    assert fresh(db, GatewaySession, session_id).status == "complete"


def _emails(db, user):
    return db.session.execute(select(OutboundEmail.subject, OutboundEmail.body_text, OutboundEmail.body_html)
                              .where(OutboundEmail.recipient == user.email).order_by(OutboundEmail.id)).all()


def test_a_credited_top_up_is_told_from_its_template(app, db):
    user = shopper("credited")
    charge = top_up(user, 2000)
    assert payment_events.settle(Payment(charge.payment_session_id, "pi_credit", 2000, "usd")) == "credited"
    db.session.commit()
    [(subject, text, html)] = _emails(db, user)
    assert subject == "$20.00 added to your Folio wallet"
    assert text.startswith(f"Hello {user.display_name},\n\nWe added $20.00 to your wallet (receipt {charge.reference}).")
    assert f"(receipt {charge.reference})" in html


def test_a_mismatched_top_up_payment_is_refused_with_its_template(app, db):
    user = shopper("refused")
    charge = top_up(user, 2000)
    assert payment_events.settle(Payment(charge.payment_session_id, "pi_short", 1500, "usd")) == "mismatch"
    db.session.commit()
    [(subject, text, _)] = _emails(db, user)
    assert subject == f"Your Folio payment {charge.reference} is being refunded"
    assert (f"We received $15.00 for payment {charge.reference}, but it did not match what was asked, so we did "
            "not use it. We are refunding it in full to your card.") in text
