"""INSERT ... ON CONFLICT for the two databases Folio runs on (PostgreSQL and SQLite share the syntax but
not the SQLAlchemy construct). One statement, no savepoint: pysqlite cannot open a savepoint as the first
statement of a transaction, so "try the insert in a savepoint" would commit on its own there."""
from __future__ import annotations

from typing import TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import QueryableAttribute

from ...extensions import Model, db

T = TypeVar("T")


def insert(model: type[Model]) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT construct (with on_conflict_do_nothing / on_conflict_do_update)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"no INSERT ... ON CONFLICT for {dialect}")


def insert_once(model: type[Model], returning: QueryableAttribute[T], **values: object) -> T | None:
    """Insert the row unless a unique key already holds one: the new row's `returning` column, or None."""
    return db.session.execute(insert(model).values(**values).on_conflict_do_nothing().returning(returning)).scalar()
