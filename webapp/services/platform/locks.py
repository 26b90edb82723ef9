"""The customer lock: one row lock on the customer (users, FOR UPDATE on PostgreSQL; SQLite runs one writer
at a time anyway), held until the transaction ends. Everything that checks a per-customer rule and then
acts on it takes it first: checkout (one pending checkout, code limits, plan limits), cart changes, holds,
and payment outcomes that touch the customer's stock, wallet or cart. Taking it first everywhere gives one
lock order (customer, then order, then stock), so none of these paths deadlocks another."""
from __future__ import annotations

from sqlalchemy import select

from ...extensions import db
from ...models import User


def customer(user_id: int | None) -> None:
    if user_id is not None:
        db.session.execute(select(User.id).where(User.id == user_id).with_for_update())
