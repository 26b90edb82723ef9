"""Audit log: one call records who did what to which object, with before/after values."""
from __future__ import annotations

from ..extensions import db
from ..models import AuditLog


def record(action: str, *, actor_id: int | None = None, object_type: str | None = None,
           object_id: int | str | None = None, before: dict | None = None, after: dict | None = None,
           ip: str | None = None, note: str | None = None) -> AuditLog:
    entry = AuditLog(action=action, actor_id=actor_id, object_type=object_type,
                     object_id=None if object_id is None else str(object_id),
                     before=before, after=after, ip=ip, note=note)
    db.session.add(entry)
    return entry
