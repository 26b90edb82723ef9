"""Uploaded cover files follow the transaction that uses them: a replaced cover is deleted once the change commits, a
freshly stored one once the change is rolled back, so no row points at a missing file and no file is left behind.

The hooks are SQLAlchemy session events, registered when this module is imported (services.catalog.editing does).
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from ...extensions import db
from ..platform import uploads

_DELETE_ON_COMMIT = "folio_catalog_files_on_commit"
_DELETE_ON_ROLLBACK = "folio_catalog_files_on_rollback"


def delete_file_on_commit(stored: str) -> None:
    """Remove a replaced cover once the row no longer points at it (after commit; kept on rollback)."""
    db.session.info.setdefault(_DELETE_ON_COMMIT, []).append(stored)


def delete_file_on_rollback(stored: str) -> None:
    """Remove a freshly stored cover if the change that would use it is rolled back."""
    db.session.info.setdefault(_DELETE_ON_ROLLBACK, []).append(stored)


@event.listens_for(Session, "after_commit")
def _files_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer transaction may still roll back
        return
    session.info.pop(_DELETE_ON_ROLLBACK, None)
    for stored in session.info.pop(_DELETE_ON_COMMIT, ()):
        uploads.delete(stored)


@event.listens_for(Session, "after_soft_rollback")
def _files_after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is not None:  # only a savepoint (or an inner block) was rolled back
        return
    session.info.pop(_DELETE_ON_COMMIT, None)
    for stored in session.info.pop(_DELETE_ON_ROLLBACK, ()):
        uploads.delete(stored)
