"""Whether the current database transaction has written anything: flushed ORM changes or INSERT / UPDATE /
DELETE statements since the last commit or rollback. Code that must not run inside someone else's writing
transaction asks here: a payment-provider call (services.commerce.payments.leave_transaction), a last-seen update
committed after a view (auth.session)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, scoped_session

_WROTE = "folio_wrote"


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: UOWTransaction) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _ended(session: Session) -> None:
    session.info.pop(_WROTE, None)


def has_writes(session: Session | scoped_session[Any]) -> bool:
    return bool(session.info.get(_WROTE) or session.new or session.dirty or session.deleted)
