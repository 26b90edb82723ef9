"""Who may see what, for views. Role checks live on the blueprints that need them (admin/__init__.py,
author/__init__.py: every route of theirs); object-level checks here, next to the objects' owners."""
from __future__ import annotations

from typing import TypeVar

from flask import abort
from flask_login import current_user

T = TypeVar("T")


def owned_or_404(obj: T | None, user_id_attr: str = "user_id") -> T:
    """The object if it belongs to the signed-in user; 404 otherwise (never reveal it exists)."""
    if obj is None or getattr(obj, user_id_attr) != current_user.id:
        abort(404)
    return obj
