"""The order's status moves only along models.ORDER_TRANSITIONS: order_state.transition refuses any other move
before it touches the row, and the staff actions are read off the same table."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.checkout_helpers import shopper, start
from webapp.models import (
    AUTOMATIC_ORDER_MOVES,
    ORDER_STATUSES,
    ORDER_TRANSITIONS,
    PAID_STATUSES,
    Order,
    OrderStatus,
    staff_moves,
)
from webapp.models.orders import DeliveryMethod
from webapp.services.commerce import orders
from webapp.services.commerce.order_state import OrderStateError, transition, update_while


def test_the_enum_keeps_the_stored_strings():
    assert [s.value for s in OrderStatus] == ["pending_payment", "paid", "shipped", "delivered", "cancelled",
                                              "refunded", "expired"]
    assert OrderStatus.PAID == "paid" and f"{OrderStatus.PENDING_PAYMENT}" == "pending_payment"
    assert ORDER_STATUSES == tuple(OrderStatus) and set(PAID_STATUSES) <= set(OrderStatus)


def test_the_table_covers_every_status_and_moves_only_between_them():
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    for source, targets in ORDER_TRANSITIONS.items():
        assert source not in targets  # staying is update_while, not a move
        assert targets <= set(OrderStatus)
    assert all(to in ORDER_TRANSITIONS[source] for source, to in AUTOMATIC_ORDER_MOVES)
    assert ORDER_TRANSITIONS[OrderStatus.REFUNDED] == frozenset()


def _order_in(db, make_book, status: OrderStatus) -> Order:
    order = start(shopper(), [(make_book(on_hand=1), 1, "buy", 1)])
    db.session.execute(update(Order).where(Order.id == order.id).values(status=status))
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Order, order.id)


def test_an_illegal_move_is_refused_without_touching_the_row(app, db, make_book):
    order = _order_in(db, make_book, OrderStatus.DELIVERED)
    stamp = order.updated_at
    with pytest.raises(OrderStateError, match="cannot go from delivered to pending payment"):
        transition(order.id, (OrderStatus.DELIVERED,), OrderStatus.PENDING_PAYMENT)
    with pytest.raises(OrderStateError, match="cannot go from shipped to paid"):  # one bad source is enough
        transition(order.id, (OrderStatus.PENDING_PAYMENT, OrderStatus.SHIPPED), OrderStatus.PAID)
    with pytest.raises(OrderStateError):  # staying put is not a move either
        transition(order.id, (OrderStatus.DELIVERED,), OrderStatus.DELIVERED, note="x")
    db.session.rollback()
    db.session.expire_all()
    again = db.session.get(Order, order.id)
    assert (again.status, again.updated_at) == (OrderStatus.DELIVERED, stamp)


def test_a_legal_move_happens_once(app, db, make_book):
    order = _order_in(db, make_book, OrderStatus.SHIPPED)
    assert transition(order.id, (OrderStatus.SHIPPED,), OrderStatus.DELIVERED)
    assert not transition(order.id, (OrderStatus.SHIPPED,), OrderStatus.DELIVERED)  # lost: it is delivered now
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.DELIVERED


def test_update_while_keeps_the_status(app, db, make_book):
    order = _order_in(db, make_book, OrderStatus.EXPIRED)
    assert update_while(order.id, OrderStatus.EXPIRED, Order.payment_intent_id.is_(None), payment_intent_id="pi_1")
    assert not update_while(order.id, OrderStatus.EXPIRED, Order.payment_intent_id.is_(None), payment_intent_id="pi_2")
    db.session.commit()
    db.session.expire_all()
    again = db.session.get(Order, order.id)
    assert (again.status, again.payment_intent_id) == (OrderStatus.EXPIRED, "pi_1")


def test_staff_actions_are_read_off_the_table(app, db, make_book):
    order = start(shopper(), [(make_book(on_hand=1), 1, "buy", 1)])
    for status in OrderStatus:
        order.status = status
        for method in DeliveryMethod:
            order.delivery_method = method
            moves = staff_moves(status, method)
            assert moves <= ORDER_TRANSITIONS[status]
            other = "deliver" if method == DeliveryMethod.COLLECT else "collected"  # the other method's button
            assert orders.allowed_actions(order) == {a for a, to in orders.STAFF_ACTIONS.items()
                                                     if to in moves and a != other}
        assert order.cancellable == (OrderStatus.CANCELLED in ORDER_TRANSITIONS[status])
    order.status, order.delivery_method = OrderStatus.PAID, DeliveryMethod.POST
    assert "ship" in orders.allowed_actions(order) and "collected" not in orders.allowed_actions(order)
    order.delivery_method = DeliveryMethod.COLLECT
    assert "collected" in orders.allowed_actions(order) and "ship" not in orders.allowed_actions(order)
