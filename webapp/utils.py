"""Small request helpers shared by blueprints."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import request


def safe_next(default: str) -> str:
    """The ?next= target when it is a path on this site, else `default` (no open redirects)."""
    target = request.args.get("next") or request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc \
            and "\\" not in target:
        return target
    return default


def apply_errors(form, exc) -> None:
    """Show a service's AccountError messages on the form's fields (or above the form)."""
    for name, messages in exc.errors.items():
        field = getattr(form, name, None) if name else None
        if field is not None:
            field.errors = list(field.errors) + list(messages)
        else:
            form.form_errors = list(form.form_errors) + list(messages)


FAILED = object()


def attempt(form, action):
    """Run one service call for a submitted form: commit when it works and return its result;
    otherwise roll back, put the rule's messages on the form and return FAILED."""
    from .extensions import db
    from .services.people.accounts import AccountError

    try:
        result = action()
    except AccountError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return FAILED
    db.session.commit()
    return result


def attempt_flash(action, errors, success):
    """Run one service call for a button: commit and flash `success(result)` when it works and return the
    result; otherwise roll back, flash the rule's message and return FAILED."""
    from flask import flash

    from .extensions import db

    try:
        result = action()
    except errors as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return FAILED
    db.session.commit()
    message, category = success(result)
    flash(message, category)
    return result


def confirm_code(form, user, purpose: str) -> bool:
    """Check an emailed 6-digit code from a form. A wrong code still commits: the count of tries must stick."""
    from .extensions import db
    from .services.people import accounts, registration

    try:
        registration.confirm_code(user, purpose, form.code.data)
    except accounts.AccountError as exc:
        db.session.commit()
        apply_errors(form, exc)
        return False
    db.session.commit()
    return True


def resend_code(user, purpose: str, new_email: str | None = None) -> None:
    """Email a fresh code, or say how long to wait (throttled to one a minute)."""
    from flask import flash

    from .extensions import db
    from .services.people import accounts, registration

    try:
        registration.issue_code(user, purpose, new_email=new_email)
    except accounts.ThrottledError as exc:
        flash(str(exc), "error")
        return
    db.session.commit()
    flash("We sent you a new code.", "success")


def page_number(raw: str | None) -> int:
    """A ?page= value as a page number: anything that is not a plain small number means page 1."""
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1
