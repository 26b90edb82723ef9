"""Deleting an account: the customer confirms with their password, the rest of the shop settles its part
(`lifecycle`), then the person's own data goes (services.people.accounts.anonymise). Orders and the audit
trail stay."""
from __future__ import annotations

from ...models import User
from ..commerce import payments
from ..people import accounts
from ..people.accounts import AccountError
from ..people.passwords import verify_password
from . import lifecycle


def deletion_blockers(user: User) -> list[str]:
    """Reasons an account cannot be deleted yet (shown on the deletion page before anyone types a password)."""
    return lifecycle.deletion_blockers(user)


def delete_account(user: User, password: str, *, ip: str | None = None) -> None:
    """Anonymise the account: personal data goes, orders and the audit trail stay. Raises AccountError (wrong
    password, a payment that could not be closed, something still to settle); the caller commits."""
    if not verify_password(user.password_hash, password or ""):
        raise AccountError("Your password is not right.", "password")
    try:  # before anything is written: nothing may be paid once the account is gone
        lifecycle.close_open_payments(user)
    except payments.PaymentError as exc:
        raise AccountError(f"We could not close a payment you have in progress ({exc}). Please try again in a "
                           "minute.") from None
    blockers = deletion_blockers(user)
    if blockers:
        raise AccountError({"": blockers})
    lifecycle.before_delete(user)
    accounts.anonymise(user, ip=ip)
