"""Views run a service action one way: call the service; when it refuses (its rule's error), roll back and
say why, on the form's fields or in a flash; when it works, commit and say so. Views then only choose the
words and where to go next.

`attempt` is for forms (the page shows again with the messages on the fields), `attempt_flash` for buttons
(the view redirects and the flash says what happened). Both return the service's result, or FAILED.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Literal, TypeVar

from flask import flash
from flask_wtf import FlaskForm

from .extensions import db
from .guest_access import claim_for
from .models import User
from .services.people import accounts, registration
from .services.platform.errors import RuleError

T = TypeVar("T")
E = TypeVar("E", bound=Exception)


class Failed(enum.Enum):
    """The one value an action returns when the service refused (test with `is FAILED`)."""

    FAILED = "failed"


FAILED: Literal[Failed.FAILED] = Failed.FAILED

# What to flash after an action worked: a fixed message, or one made from the result (a message, or a
# (message, category) pair).
Success = str | Callable[[T], str | tuple[str, str]] | None


def apply_errors(form: FlaskForm, exc: RuleError) -> None:
    """Show a service's RuleError messages on the form's fields (or above the form)."""
    for name, messages in exc.errors.items():
        field = getattr(form, name, None) if name else None
        if field is not None:
            field.errors = list(field.errors) + list(messages)
        else:
            form.form_errors = list(form.form_errors) + list(messages)


def attempt(form: FlaskForm, action: Callable[[], T]) -> T | Literal[Failed.FAILED]:
    """Run one service call for a submitted form: commit when it works and return its result; otherwise roll
    back, put the rule's messages on the form and return FAILED (the view shows the form again)."""
    try:
        result = action()
    except RuleError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return FAILED
    db.session.commit()
    return result


def attempt_flash(action: Callable[[], T], errors: type[E] | tuple[type[E], ...], success: Success[T],
                  category: str = "success", *,
                  explain: Callable[[E], str] = str) -> T | Literal[Failed.FAILED]:
    """Run one service call for a button: commit, flash `success` (a message, or one made from the result;
    None flashes nothing) and return the result when it works; otherwise roll back, flash why not (the
    error's message, or `explain(error)`) and return FAILED."""
    try:
        result = action()
    except errors as exc:
        db.session.rollback()
        flash(explain(exc), "error")
        return FAILED
    db.session.commit()
    message = success(result) if callable(success) else success
    if isinstance(message, tuple):
        flash(*message)
    elif message:
        flash(message, category)
    return result


def confirm_code(form: FlaskForm, user: User, purpose: str) -> bool:
    """Check an emailed 6-digit code from a form. A wrong code still commits: the count of tries must stick."""
    try:
        registration.confirm_code(user, purpose, form.code.data)
    except accounts.AccountError as exc:
        db.session.commit()
        apply_errors(form, exc)
        return False
    db.session.commit()
    if purpose in ("verify", "change_email"):
        claim_for(user)  # the address is proved now: guest orders placed with it join the account
    return True


def resend_code(user: User, purpose: str, new_email: str | None = None) -> None:
    """Email a fresh code, or say how long to wait (throttled to one a minute)."""
    attempt_flash(lambda: registration.issue_code(user, purpose, new_email=new_email), accounts.ThrottledError,
                  "We sent you a new code.")
