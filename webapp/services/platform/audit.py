"""Audit log: one call records who did what to which object, with before/after values."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text

from ...extensions import db
from ...models import AuditLog, User
from ...models.types import db_int


def record(action: str, *, actor_id: int | None = None, object_type: str | None = None,
           object_id: int | str | None = None, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None, ip: str | None = None, note: str | None = None) -> AuditLog:
    entry = AuditLog(action=action, actor_id=actor_id, object_type=object_type,
                     object_id=None if object_id is None else str(object_id),
                     before=before, after=after, ip=ip, note=note)
    db.session.add(entry)
    return entry


# ---- reading (admin panel) ----

OBJECT_TYPES = ("user", "order", "book", "discount", "rental", "hold", "charge", "payment_issue", "site_page")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(\d{1,18})_(\d{1,10})", re.ASCII)  # microseconds since 1970 _ an id (models.types.db_int)


@dataclass
class AuditPage:
    items: list[AuditLog]
    next_cursor: str | None  # the `before` value for the next (older) page, None on the last page
    is_first: bool
    actor_unknown: bool = False


def cursor_of(entry: AuditLog) -> str:
    delta = entry.created_at - _EPOCH
    return f"{(delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds}_{entry.id}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    match = _CURSOR.fullmatch(cursor or "")
    if not match:
        return None
    entry_id = db_int(match.group(2))
    if entry_id is None:
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(match.group(1))), entry_id
    except OverflowError:
        return None


_BYTEWISE: dict[str, bool] = {}


def _bytewise_collation() -> bool:
    """True when text sorts by code point (SQLite; PostgreSQL with the C / C.UTF-8 collation): then a prefix
    is also a range of ix_audit_log_action. (PostgreSQL's LIKE uses a plain btree index only under "C".)"""
    bind = db.session.get_bind()
    key = str(bind.engine.url)
    if key not in _BYTEWISE:
        if bind.dialect.name == "sqlite":
            _BYTEWISE[key] = True
        elif bind.dialect.name == "postgresql":
            collate = db.session.scalar(text("SELECT datcollate FROM pg_database WHERE datname = current_database()"))
            _BYTEWISE[key] = (collate or "").lower().replace("-", "") in ("c", "posix", "c.utf8")
        else:
            _BYTEWISE[key] = False
    return _BYTEWISE[key]


def action_clause(action: str) -> ColumnElement[bool] | None:
    """"order." or "order" or "order.*": every action starting with "order."; "order.shipped": exactly that."""
    action = (action or "").strip().lower()[:60]
    if not action:
        return None
    if action.endswith("*") or action.endswith(".") or "." not in action:
        prefix = action.rstrip("*")
        prefix = prefix if prefix.endswith(".") else prefix + "."
        clause = AuditLog.action.startswith(prefix, autoescape=True)
        if _bytewise_collation():  # the same rows, as an index range
            clause = and_(AuditLog.action >= prefix, AuditLog.action < prefix[:-1] + chr(ord(prefix[-1]) + 1), clause)
        return clause
    return AuditLog.action == action


def resolve_actor(actor: str) -> int | None | bool:
    """A user id from "#12", "12", a username or an email; None for "system"; False when unknown."""
    actor = (actor or "").strip()
    if actor.lower() == "system":
        return None
    user_id = db_int(actor.lstrip("#"))
    if user_id is not None:
        found = db.session.scalar(select(User.id).where(User.id == user_id))
    else:
        found = db.session.scalar(select(User.id).where(or_(func.lower(User.username) == actor.lower(),
                                                             User.email == actor.lower())).limit(1))
    return found if found is not None else False


def search(*, action: str = "", actor: str = "", object_type: str = "", object_id: str = "",
           date_from: date | None = None, date_to: date | None = None, before: str | None = None,
           limit: int = 50) -> AuditPage:
    """Entries newest first, `limit` at a time, with keyset paging on (created_at, id): each filter maps to
    one of audit_log's indexes (created_at; actor_id + created_at; object_type + object_id; action)."""
    stmt = select(AuditLog)
    clause = action_clause(action)
    if clause is not None:
        stmt = stmt.where(clause)
    if (actor or "").strip():
        actor_id = resolve_actor(actor)
        if actor_id is False:
            return AuditPage(items=[], next_cursor=None, is_first=not before, actor_unknown=True)
        stmt = stmt.where(AuditLog.actor_id == actor_id if actor_id is not None else AuditLog.actor_id.is_(None))
    object_type = (object_type or "").strip().lower()[:40]
    object_id = (object_id or "").strip()[:40]
    if object_type:
        stmt = stmt.where(AuditLog.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditLog.object_id.in_({object_id, object_id.upper()}))  # order numbers are upper-case
    if date_from is not None:
        stmt = stmt.where(AuditLog.created_at >= datetime.combine(date_from, time.min, UTC))
    if date_to is not None:
        stmt = stmt.where(AuditLog.created_at <= datetime.combine(date_to, time.max, UTC))  # no overflow at 9999
    position = _parse_cursor(before)
    if position is not None:
        at, entry_id = position
        stmt = stmt.where(AuditLog.created_at <= at, or_(AuditLog.created_at < at, AuditLog.id < entry_id))
    limit = max(1, min(limit, 200))
    rows = list(db.session.scalars(stmt.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    items = rows[:limit]
    return AuditPage(items=items, next_cursor=cursor_of(items[-1]) if more else None, is_first=position is None)
