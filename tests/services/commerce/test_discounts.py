"""Discount code rules for staff (services.commerce.discounts): validation, uniqueness, states, delete only if unused."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.checkout_helpers import shopper, start
from webapp.models import AuditLog, DiscountCode, utcnow
from webapp.services.commerce import discounts, fulfilment, pricing
from webapp.services.commerce.discounts import DiscountError, DiscountInput
from webapp.services.people import accounts


@pytest.fixture
def staff(app, db):
    user = accounts.create_user("staffer", "staffer@example.com", "correct horse battery staple 42", role="admin",
                                verified=True, check_strength=False)
    db.session.commit()
    return user


def make(staff, db, **values) -> DiscountCode:
    data = DiscountInput(**({"code": "SPRING10", "kind": "percent", "value": 10} | values))
    code = discounts.create(staff, data, ip="10.0.0.1")
    db.session.commit()
    return code


def errors_of(call) -> dict:
    with pytest.raises(DiscountError) as info:
        call()
    return info.value.errors


def test_create_normalises_the_code_and_audits(app, db, staff):
    code = make(staff, db, code="  spring-10 ", description="  Ten   percent ", min_subtotal_cents=2000)
    assert code.code == "SPRING-10" and code.description == "Ten percent" and code.uses_count == 0
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "discount.created")).one()
    assert entry.actor_id == staff.id and entry.object_type == "discount" and entry.object_id == str(code.id)
    assert entry.after["code"] == "SPRING-10" and entry.after["min_subtotal_cents"] == 2000 and entry.ip == "10.0.0.1"
    # The checkout finds it whatever the case the shopper types.
    found, error = pricing.check_discount("spring-10", 5000, None)
    assert found is not None and found.id == code.id and error is None


@pytest.mark.parametrize("values, field, message", [
    ({"code": ""}, "code", "Enter a code."),
    ({"code": "AB"}, "code", "3 to 40"),
    ({"code": "HAS SPACE"}, "code", "3 to 40"),
    ({"code": "-LEADING"}, "code", "starting with"),
    ({"code": "X" * 41}, "code", "3 to 40"),
    ({"kind": "bogo"}, "kind", "percent off or amount off"),
    ({"value": None}, "value", "how much"),
    ({"value": 0}, "value", "from 1 to 100"),
    ({"value": 101}, "value", "from 1 to 100"),
    ({"kind": "fixed", "value": 0}, "value", "more than 0.00"),
    ({"kind": "fixed", "value": -500}, "value", "more than 0.00"),
    ({"kind": "fixed", "value": 100_000_001}, "value", "at most"),
    ({"min_subtotal_cents": -1}, "min_subtotal", "0.00 or more"),
    ({"max_uses": 0}, "max_uses", "at least 1"),
    ({"max_uses_per_user": 0}, "max_uses_per_user", "at least 1"),
    ({"max_uses": 5, "max_uses_per_user": 6}, "max_uses_per_user", "cannot be more than the total"),
    ({"description": "x" * 201}, "description", "under 200"),
])
def test_create_validates_every_field(app, db, staff, values, field, message):
    data = DiscountInput(**({"code": "VALID1", "kind": "percent", "value": 10} | values))
    errors = errors_of(lambda: discounts.create(staff, data))
    assert field in errors and any(message in m for m in errors[field]), errors
    db.session.rollback()
    assert db.session.scalar(select(DiscountCode.id)) is None


def test_window_must_end_after_it_starts(app, db, staff):
    now = utcnow()
    data = DiscountInput(code="WINDOW", kind="percent", value=5, starts_at=now, ends_at=now - timedelta(hours=1))
    assert "ends_at" in errors_of(lambda: discounts.create(staff, data))


def test_codes_are_unique_whatever_the_case(app, db, staff):
    make(staff, db, code="SUMMER")
    errors = errors_of(lambda: make(staff, db, code="summer"))
    assert errors == {"code": ["“SUMMER” already exists."]}
    db.session.rollback()
    other = make(staff, db, code="AUTUMN")
    assert "code" in errors_of(lambda: discounts.update(staff, other, DiscountInput(code="Summer", kind="percent",
                                                                                     value=10)))


def test_update_audits_only_what_changed(app, db, staff):
    code = make(staff, db, code="EDITME", kind="fixed", value=500)
    discounts.update(staff, code, DiscountInput(code="editme", kind="fixed", value=750, max_uses=10), ip="10.9.9.9")
    db.session.commit()
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "discount.updated")).one()
    assert entry.before == {"value": 500, "max_uses": None} and entry.after == {"value": 750, "max_uses": 10}
    discounts.update(staff, code, DiscountInput(code="EDITME", kind="fixed", value=750, max_uses=10))
    db.session.commit()
    assert len(db.session.scalars(select(AuditLog).where(AuditLog.action == "discount.updated")).all()) == 1


def test_used_codes_cannot_be_renamed_deleted_or_limited_below_their_uses(app, db, staff, make_book):
    code = make(staff, db, code="USEDONCE")
    order = start(shopper(), [(make_book(on_hand=3), 1, "buy", 1)], code="usedonce")
    db.session.refresh(code)
    assert code.uses_count == 1
    errors = errors_of(lambda: discounts.update(staff, code, DiscountInput(code="RENAMED", kind="percent", value=10,
                                                                            max_uses=0)))
    assert "cannot be renamed" in errors["code"][0] and "max_uses" in errors
    db.session.rollback()
    with pytest.raises(DiscountError, match="cannot be deleted"):
        discounts.delete_code(staff, code)
    db.session.rollback()
    # Even after the unpaid order gives its use back, the order still carries the code: keep it.
    fulfilment.expire(order.payment_session_id)
    db.session.commit()
    db.session.refresh(code)
    assert code.uses_count == 0 and discounts.ever_used(code)
    with pytest.raises(DiscountError, match="cannot be deleted"):
        discounts.delete_code(staff, code)


def test_delete_an_unused_code(app, db, staff):
    code = make(staff, db, code="NEVERUSED")
    code_id = code.id
    assert discounts.delete_code(staff, code, ip="10.0.0.2") == "NEVERUSED"
    db.session.commit()
    assert db.session.get(DiscountCode, code_id) is None
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "discount.deleted")).one()
    assert entry.object_id == str(code_id) and entry.before["code"] == "NEVERUSED" and entry.after is None


def test_delete_is_refused_when_a_checkout_took_the_code_meanwhile(app, db, staff):
    code = make(staff, db, code="RACED")
    assert code.uses_count == 0  # what the page showed
    db.session.execute(DiscountCode.__table__.update().values(uses_count=1))  # redeemed after the page loaded
    with pytest.raises(DiscountError, match="just used"):
        discounts.delete_code(staff, code)


def test_activate_and_deactivate(app, db, staff):
    code = make(staff, db, code="TOGGLE")
    discounts.set_active(staff, code, False)
    db.session.commit()
    assert pricing.check_discount("TOGGLE", 5000, None)[0] is None
    with pytest.raises(DiscountError, match="already deactivated"):
        discounts.set_active(staff, code, False)
    discounts.set_active(staff, code, True)
    db.session.commit()
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_type == "discount")
                                 .order_by(AuditLog.id)).all()
    assert actions == ["discount.created", "discount.deactivated", "discount.activated"]


def test_states_and_state_filter(app, db, staff):
    now = utcnow()
    make(staff, db, code="LIVE")
    make(staff, db, code="LATER", starts_at=now + timedelta(days=2))
    make(staff, db, code="OVER", ends_at=now - timedelta(days=1), starts_at=now - timedelta(days=9))
    make(staff, db, code="OFF", active=False)
    full = make(staff, db, code="FULL", max_uses=1)
    db.session.execute(DiscountCode.__table__.update().where(DiscountCode.id == full.id).values(uses_count=1))
    db.session.commit()
    expected = {"active": "LIVE", "scheduled": "LATER", "expired": "OVER", "inactive": "OFF", "used_up": "FULL"}
    for state, code in expected.items():
        assert [d.code for d in discounts.list_codes(state=state).items] == [code], state
        assert discounts.state_of(discounts.list_codes(state=state).items[0]) == state
    assert len(discounts.list_codes().items) == 5
    assert [d.code for d in discounts.list_codes(q="liv").items] == ["LIVE"]
