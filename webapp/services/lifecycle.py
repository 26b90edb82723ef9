"""What other parts of the shop need to say when an account is deleted.

Orders are kept (their personal fields are anonymised with the user row); open holds
are cancelled; outstanding rentals block deletion. The rentals and holds modules plug
their checks in here as they arrive, so account deletion stays one function.
"""
from __future__ import annotations

from ..models import User

_blockers: list = []
_before_delete: list = []


def register_blocker(func) -> None:
    _blockers.append(func)


def register_before_delete(func) -> None:
    _before_delete.append(func)


def deletion_blockers(user: User) -> list[str]:
    reasons: list[str] = []
    for check in _blockers:
        reasons.extend(check(user))
    return reasons


def before_delete(user: User) -> None:
    for hook in _before_delete:
        hook(user)
