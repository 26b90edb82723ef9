"""UPDATE and DELETE statements run in the session, and how many rows they matched.

Folio's state changes are conditional UPDATEs ("... WHERE status = 'pending'") whose row count says whether
this request won the race. SQLAlchemy types `Session.execute` as returning a plain Result, though for these
statements it is a CursorResult, which carries the count: `changed` says so once, for every caller.
"""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.sql.dml import UpdateBase

from ...extensions import db


def changed(statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE in the current session; the number of rows it matched."""
    result = cast(CursorResult[Any], db.session.execute(statement))  # DML executes to a CursorResult
    return result.rowcount
