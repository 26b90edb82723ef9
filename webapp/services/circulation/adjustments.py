"""Staff corrections to a customer's wallet (admin customer page): a credit or a debit with a reason, audited,
and the customer emailed. A credit is money arriving like a top-up: it pays fees due first (fees.settle).

Each form carries a one-time reference (`new_reference`); the wallet entry is written under it (reason
adjustment, reference ADJ-<it>), and the wallet applies a (user, reason, reference) once. The customer lock is
taken first, so a second submission of the same form (double click, resent POST, two tabs) waits for the first
and then finds its entry: it changes nothing, is not audited or emailed again, and says so.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from flask import current_app

from ...models import User, WalletEntry
from ...models.wallet import WalletReason
from ..platform import audit, locks, mail
from ..platform.errors import RuleError
from ..platform.money import money
from . import fees, wallet

KINDS = ("credit", "debit")
REASON_MAX = 200
_REFERENCE = re.compile(r"[0-9a-f]{32}", re.ASCII)


class AdjustmentError(RuleError):
    """A wallet correction that is not allowed; the message is for staff."""


@dataclass(frozen=True)
class Adjustment:
    entry: WalletEntry
    applied: bool  # False: this form was already applied (a double submit); nothing changed now
    settled_cents: int = 0  # of a credit, what went to fees due
    balance_cents: int = 0  # the balance afterwards


def new_reference() -> str:
    """A one-time reference for one adjustment form."""
    return secrets.token_hex(16)


def max_cents() -> int:
    return int(current_app.config["STAFF_WALLET_ADJUST_MAX_CENTS"])


def adjust(actor: User, user: User, kind: str, cents: int, reason: str, *, form_reference: str,
           ip: str | None = None) -> Adjustment:
    """Credit or debit `cents` on `user`'s wallet for `reason`. Raises AdjustmentError (nothing changed) for a
    bad amount, a missing reason, or a debit beyond the balance. The caller commits."""
    if user.deleted_at is not None:
        raise AdjustmentError("This account was deleted.")
    if kind not in KINDS:
        raise AdjustmentError("Choose credit or debit.", "kind")
    if isinstance(cents, bool) or not isinstance(cents, int) or cents <= 0:
        raise AdjustmentError("Enter an amount above zero.", "amount")
    if cents > max_cents():
        raise AdjustmentError(f"One adjustment can be at most {money(max_cents())}.", "amount")
    reason = " ".join((reason or "").split())
    if not reason:
        raise AdjustmentError("Say why: the customer reads this reason.", "reason")
    if len(reason) > REASON_MAX:
        raise AdjustmentError(f"Keep the reason under {REASON_MAX} characters.", "reason")
    if not _REFERENCE.fullmatch(form_reference or ""):
        raise AdjustmentError("This form is out of date: reload the page and try again.")
    reference = f"ADJ-{form_reference}"
    locks.customer(user.id)  # a twin submission waits here, then finds the entry below
    done = wallet.entry_for(user.id, WalletReason.ADJUSTMENT, reference)
    if done is not None:
        return Adjustment(done, applied=False, balance_cents=wallet.balance(user.id))
    before = wallet.balance(user.id)
    try:
        apply = wallet.credit if kind == "credit" else wallet.debit
        entry = apply(user.id, cents, WalletReason.ADJUSTMENT, reference=reference, note=reason, actor_id=actor.id)
    except wallet.InsufficientFunds as exc:
        raise AdjustmentError(f"The wallet holds {money(exc.balance_cents)}: a debit of {money(cents)} would take it "
                              "below zero. Debit at most the balance.", "amount") from None
    settled = fees.settle(user.id) if kind == "credit" else 0
    after = wallet.balance(user.id)
    audit.record(f"admin.wallet_{kind}", actor_id=actor.id, object_type="user", object_id=user.id, ip=ip,
                 before={"balance_cents": before},
                 after={"balance_cents": after, "amount_cents": entry.amount_cents, "fees_paid_cents": settled,
                        "reference": reference}, note=reason)
    mail.send_template(user.email, "wallet_adjusted", name=user.display_name, credit=kind == "credit",
                       amount_cents=cents, reason=reason, settled_cents=settled, balance_cents=after)
    return Adjustment(entry, applied=True, settled_cents=settled, balance_cents=after)
