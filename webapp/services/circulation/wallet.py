"""Wallet: the one place that changes a customer's wallet balance, always with a ledger row.

The balance lives on `users.wallet_balance_cents`. Every change is a single conditional UPDATE
with RETURNING, so concurrent debits can never take the balance below zero (the CHECK constraint
on `users` is the last line of defence), and each change writes one `WalletEntry` carrying the
balance right after it: the statement's running balance is stored, not recomputed.

A (user, reason, reference) triple is applied at most once: calling again with the same reference
(a webhook retried, a job run twice) returns the first entry and changes nothing. The caller
commits, as with the other services.
"""
from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from ...extensions import db
from ...models import WALLET_REASONS, User, WalletEntry
from ...models.wallet import WalletReason
from ..platform import paging
from ..platform.money import money

log = logging.getLogger(__name__)


class WalletError(ValueError):
    """A wallet change that breaks the rules (bad amount or reason, unknown user)."""


class InsufficientFunds(WalletError):
    """The balance does not cover a debit; nothing was changed."""

    def __init__(self, balance_cents: int, wanted_cents: int):
        self.balance_cents, self.wanted_cents = balance_cents, wanted_cents
        super().__init__(f"Your wallet balance is {money(balance_cents)}; this needs {money(wanted_cents)}.")


def balance(user_id: int) -> int:
    """The current balance in cents (0 for an unknown user)."""
    return db.session.scalar(select(User.wallet_balance_cents).where(User.id == user_id)) or 0


def credit(user_id: int, cents: int, reason: str, *, reference: str | None = None, note: str | None = None,
           actor_id: int | None = None) -> WalletEntry:
    """Add `cents` (> 0) to the wallet. Returns the ledger entry (the existing one for a repeated reference)."""
    return _apply(user_id, _checked(cents, reason), reason, reference=reference, note=note, actor_id=actor_id)


def debit(user_id: int, cents: int, reason: str, *, reference: str | None = None, note: str | None = None,
          actor_id: int | None = None) -> WalletEntry:
    """Take `cents` (> 0) from the wallet, or raise InsufficientFunds and change nothing."""
    return _apply(user_id, -_checked(cents, reason), reason, reference=reference, note=note, actor_id=actor_id)


def entry_for(user_id: int, reason: str, reference: str) -> WalletEntry | None:
    """The entry already written for this (user, reason, reference), if any."""
    return db.session.scalar(select(WalletEntry).where(
        WalletEntry.user_id == user_id, WalletEntry.reason == reason, WalletEntry.reference == reference))


def statement(user_id: int, page: int = 1, per_page: int = 25) -> paging.Page:
    """The user's entries, newest first; each carries the balance after it."""
    stmt = (select(WalletEntry).where(WalletEntry.user_id == user_id)
            .order_by(WalletEntry.created_at.desc(), WalletEntry.id.desc()))
    return paging.paginate(stmt, page, per_page)


def statement_after(user_id: int, cursor: str | None, limit: int = 25) -> paging.CursorPage:
    """The statement as keyset pages (the JSON API): the entries after `cursor`, newest first.
    Raises paging.BadCursor for a cursor it did not hand out."""
    return paging.keyset(select(WalletEntry).where(WalletEntry.user_id == user_id), WalletEntry.created_at,
                         WalletEntry.id, cursor, limit)


_DESCRIPTIONS: dict[str, str] = {
    WalletReason.TOP_UP: "Top-up",
    WalletReason.ORDER_PAYMENT: "Payment for order",
    WalletReason.REFUND: "Refund for order",
    WalletReason.CANCELLATION: "Cancelled order",
    WalletReason.LATE_FEE: "Late fee",
    WalletReason.HOLD_FEE: "Hold fee",
    WalletReason.SUBSCRIPTION: "Subscription",
    WalletReason.ADJUSTMENT: "Adjustment",
}


def describe(entry: WalletEntry) -> str:
    """What a statement line says: the reason in words, then its reference."""
    label = _DESCRIPTIONS.get(entry.reason, entry.reason.replace("_", " ").capitalize())
    return f"{label} {entry.reference}" if entry.reference else label


# ---- internals ----

def _checked(cents: object, reason: str) -> int:
    if isinstance(cents, bool) or not isinstance(cents, int) or cents <= 0:
        raise WalletError("A wallet amount must be a positive whole number of cents.")
    if reason not in WALLET_REASONS:
        raise WalletError(f"Unknown wallet reason: {reason!r}.")
    return cents


def _apply(user_id: int, delta: int, reason: str, *, reference: str | None, note: str | None,
           actor_id: int | None) -> WalletEntry:
    if reference is not None:
        existing = entry_for(user_id, reason, reference)
        if existing is not None:
            if existing.amount_cents != delta:
                log.warning("wallet: %s %s for user %s was already applied as %s, not %s",
                            reason, reference, user_id, existing.amount_cents, delta)
            return existing
    after = _change_balance(user_id, delta)
    if after is None:
        if db.session.scalar(select(User.id).where(User.id == user_id)) is None:
            raise WalletError(f"No user {user_id}.")
        raise InsufficientFunds(balance(user_id), -delta)
    entry = WalletEntry(user_id=user_id, amount_cents=delta, balance_after_cents=after, reason=reason,
                        reference=reference, note=note, actor_id=actor_id)
    if reference is None:
        db.session.add(entry)
        db.session.flush()
        return entry
    # A twin call with the same reference can slip past the check above (a webhook racing the
    # success page): the unique constraint stops its entry. The savepoint, opened after the
    # UPDATE so that it is nested inside the caller's transaction on SQLite too, undoes only
    # the insert; the balance change is then reversed in this same transaction.
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        existing = entry_for(user_id, reason, reference)
        if existing is None:
            raise
        _change_balance(user_id, -delta)
        return existing
    return entry


def _change_balance(user_id: int, delta: int) -> int | None:
    """Add `delta` to the balance in one conditional UPDATE; the new balance, or None if no row
    qualified (unknown user, or a debit larger than the balance)."""
    stmt = update(User).where(User.id == user_id)
    if delta < 0:
        stmt = stmt.where(User.wallet_balance_cents >= -delta)
    after = db.session.execute(
        stmt.values(wallet_balance_cents=User.wallet_balance_cents + delta)
        .returning(User.wallet_balance_cents)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if after is not None:  # keep an already-loaded User (e.g. current_user) in step, without a query
        loaded = db.session.identity_map.get(db.session.identity_key(User, user_id))
        if loaded is not None:
            set_committed_value(loaded, "wallet_balance_cents", after)
    return after


def deletion_blockers(user: User) -> list[str]:
    """Money left in the wallet must be spent or paid out before the account can go."""
    left = balance(user.id)
    if left > 0:
        return [f"Your wallet still holds {money(left)}: spend it, or ask us to pay it out, first."]
    return []
