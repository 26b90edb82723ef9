"""How an order's status moves: one conditional UPDATE per transition (so when two callers race, one wins
and the other learns it), a timeline entry for each, and the (book, quantity) lines stock moves by.
Used by checkout, fulfilment and the staff operations in services.commerce.orders."""
from __future__ import annotations

from sqlalchemy import update

from ...extensions import db
from ...models import Order, OrderEvent, utcnow


class OrderStateError(ValueError):
    pass


def transition(order_id: int, from_statuses: tuple[str, ...], to_status: str, *conditions, **values) -> bool:
    """Move the order to `to_status` if it is still in one of `from_statuses` (and meets `conditions`);
    True if this call did it."""
    result = db.session.execute(
        update(Order).where(Order.id == order_id, Order.status.in_(from_statuses), *conditions)
        .values(status=to_status, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def lock_customer(order: Order) -> None:
    """The customer lock (services.platform.locks) before changing an order that touches stock, wallet or cart."""
    from ..platform import locks

    locks.customer(order.user_id)


def event(order: Order, status: str, note: str | None = None, actor_id: int | None = None) -> None:
    db.session.add(OrderEvent(order_id=order.id, status=status, note=note, actor_id=actor_id))


def stock_lines(order: Order, mode: str | None = None) -> list[tuple[int, int]]:
    return [(line.book_id, line.quantity) for line in order.lines
            if line.book_id is not None and (mode is None or line.mode == mode)]
