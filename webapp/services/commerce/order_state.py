"""How an order's status moves: one conditional UPDATE per transition (so when two callers race, one wins
and the other learns it), only along models.ORDER_TRANSITIONS (a move the table does not have is a bug and is
refused before the database is touched), a timeline entry for each, and the (book, quantity) lines stock moves
by. Used by checkout, fulfilment and the staff operations in services.commerce.orders."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, update

from ...extensions import db
from ...models import ORDER_TRANSITIONS, LineMode, Order, OrderEvent, OrderStatus, utcnow
from ...models.orders import DELIVERY_ONLY_MOVES
from ..platform import dml, locks
from ..platform.states import require_move


class OrderStateError(ValueError):
    """An order cannot be changed as asked: a refusal people see (staff actions, the customer's cancel), or,
    from `transition`, a move ORDER_TRANSITIONS does not have (a bug)."""


def transition(order_id: int, from_statuses: Iterable[OrderStatus], to_status: OrderStatus,
               *conditions: ColumnElement[bool], **values: object) -> bool:
    """Move the order to `to_status` if it is still in one of `from_statuses` (and meets `conditions`);
    True if this call did it. Raises OrderStateError, without touching the order, if ORDER_TRANSITIONS does not
    allow the move from each of `from_statuses`. A move only one delivery method makes (models.DELIVERY_ONLY_MOVES:
    shipping a posted order, collecting one in store) also needs the order to be sent that way."""
    sources = tuple(from_statuses)
    require_move(ORDER_TRANSITIONS, sources, to_status, what="an order", error=OrderStateError)
    methods = {DELIVERY_ONLY_MOVES.get((source, to_status)) for source in sources}
    if len(methods) != 1:
        raise OrderStateError(f"Moving an order to {to_status} from {sources} mixes delivery methods (a bug).")
    method = methods.pop()
    if method is not None:
        conditions = (*conditions, Order.delivery_method == method)
    return _update(order_id, sources, *conditions, status=to_status, **values)


def update_while(order_id: int, status: OrderStatus, *conditions: ColumnElement[bool], **values: object) -> bool:
    """Change the order's other columns if it is still in `status` (and meets `conditions`), leaving the status
    as it is: how a payment claims an order that has ended (one caller wins). True if this call did it."""
    return _update(order_id, (status,), *conditions, **values)


def _update(order_id: int, statuses: tuple[OrderStatus, ...], *conditions: ColumnElement[bool],
            **values: object) -> bool:
    return dml.changed(
        update(Order).where(Order.id == order_id, Order.status.in_(statuses), *conditions)
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ) == 1


def lock_customer(order: Order) -> None:
    """The customer lock (services.platform.locks) before changing an order that touches stock, wallet or cart."""
    locks.customer(order.user_id)


def event(order: Order, status: str, note: str | None = None, actor_id: int | None = None) -> None:
    """A line in the order's timeline; `status` is an OrderStatus (often the order's own, for a note)."""
    db.session.add(OrderEvent(order_id=order.id, status=OrderStatus(status), note=note, actor_id=actor_id))


def stock_lines(order: Order, mode: LineMode | None = None) -> list[tuple[int, int]]:
    """(book, quantity) for the order's lines (of `mode`, if given) whose book still exists."""
    return [(line.book_id, line.quantity) for line in order.lines
            if line.book_id is not None and (mode is None or line.mode == mode)]
