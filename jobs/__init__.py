"""RQ job functions. Each takes ids, builds (or reuses) the app context and calls services.

The worker (`flask --app wsgi worker`) runs jobs inside its app context; a plain
`rq worker` process builds the app once from the environment config.
"""
from __future__ import annotations

import functools

from flask import has_app_context

_app = None


def _worker_app():
    global _app
    if _app is None:
        from webapp import create_app

        _app = create_app()
    return _app


def job(func):
    """Run `func` inside an app context and always hand the DB session back clean."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return _run(func, args, kwargs)
        with _worker_app().app_context():
            return _run(func, args, kwargs)

    return wrapper


def _run(func, args, kwargs):
    from webapp.extensions import db

    try:
        return func(*args, **kwargs)
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()
