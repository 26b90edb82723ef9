"""Role checks for views. Object-level checks live next to the objects (e.g. owned_or_404)."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from .extensions import login_manager


def role_required(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def owned_or_404(obj, user_id_attr: str = "user_id"):
    """The object if it belongs to the signed-in user; 404 otherwise (never reveal it exists)."""
    if obj is None or getattr(obj, user_id_attr) != current_user.id:
        abort(404)
    return obj
