"""Staff changes to a customer's plan from the admin customer page: comp (give) a paid plan for some periods, or
cancel a plan. Both are audited and the customer is emailed.

Comp: the chosen paid tier starts now and runs for N whole periods, free: `current_period_end` and
`comped_until` are both N periods ahead, so `subscriptions.renew_due` (which only picks plans whose period has
ended) charges nothing during the comp. When the comp ends the plan goes back to what the customer had before
(their tier, or the lower tier or Free they had already chosen for the end of their period), charged as usual by
renew_due; comping the tier they already had simply continues it, at its price. The customer may change that
choice meanwhile on the plan page (resume the comped tier, downgrade, cancel), like any plan. A paid period
the comp overlaps is refunded to the wallet pro rata (the customer does not pay twice for the same days).
Comping again during a comp starts a new comp from now and keeps what the plan goes back to.

Cancel: "at period end" schedules Free (as the customer's own cancellation does); "now" ends the plan at once
and refunds the unused part of a paid period to the wallet, pro rata of the plan's price (nothing for a comped
period: nobody paid for it).

Each form carries the plan as the page showed it (`stamp`); the change is a conditional UPDATE on exactly that
state, so a second submission of the same form (double click, resent POST) or a change made meanwhile (the
renewal job, the customer) is refused instead of applied twice.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Subscription, User, utcnow
from ...models.membership import Tier
from ...models.wallet import WalletReason
from ..platform import audit, dml, locks, mail
from . import fees, subscriptions, wallet
from .subscriptions import SubscriptionError

MAX_COMP_PERIODS = 12
CANCEL_WHEN = {"period_end": "At the end of the period", "now": "Now, refunding the unused part"}


@dataclass(frozen=True)
class PlanChange:
    """What a staff plan change did: the tier now, what it becomes at `ends`, and any refund to the wallet."""

    tier: Tier
    next_tier: Tier | None
    ends: datetime | None
    refund_cents: int


def _state(sub: Subscription | None) -> dict[str, str | None]:
    if sub is None:
        return {"tier": None, "next_tier": None, "period_end": None, "comped_until": None}
    return {"tier": sub.tier, "next_tier": sub.next_tier,
            "period_end": sub.current_period_end.isoformat() if sub.current_period_end else None,
            "comped_until": sub.comped_until.isoformat() if sub.comped_until else None}


def stamp(sub: Subscription | None) -> str:
    """The plan as a page showed it, for the form to send back (see the module docstring)."""
    return hashlib.sha256(repr(sorted(_state(sub).items())).encode()).hexdigest()[:24]


def unused_refund_cents(sub: Subscription | None, now: datetime | None = None) -> int:
    """The unused part of a paid (not comped) period, pro rata of the plan's price."""
    now = now or utcnow()
    if sub is None or sub.tier == Tier.FREE or sub.current_period_end is None or subscriptions.is_comped(sub, now):
        return 0
    price = subscriptions.tier(sub.tier).price_cents
    return min(price, round(price * subscriptions.share_left(sub.current_period_end, now)))


def _fresh(user_id: int) -> Subscription | None:
    locks.customer(user_id)
    return db.session.scalar(select(Subscription).where(Subscription.user_id == user_id)
                             .execution_options(populate_existing=True))


def _not_deleted(user: User) -> None:
    if user.deleted_at is not None:
        raise SubscriptionError("This account was deleted.")


def _changed_meanwhile() -> SubscriptionError:
    return SubscriptionError("The plan changed since this page was shown (another change, or the same form sent "
                             "twice): nothing was done. Look at the plan again.")


def _write(user_id: int, sub: Subscription | None, seen: str, values: dict[str, object]) -> None:
    """Apply `values` only if the plan is still as the page showed it (`seen`)."""
    if stamp(sub) != seen:
        raise _changed_meanwhile()
    if sub is None:
        try:
            with db.session.begin_nested():
                db.session.add(Subscription(user_id=user_id, **values))
        except IntegrityError:
            raise _changed_meanwhile() from None
        return
    won = dml.changed(update(Subscription).where(
        Subscription.user_id == user_id, Subscription.tier == sub.tier,
        Subscription.next_tier.is_not_distinct_from(sub.next_tier),
        Subscription.current_period_end.is_not_distinct_from(sub.current_period_end),
        Subscription.comped_until.is_not_distinct_from(sub.comped_until))
        .values(**values, updated_at=utcnow()).execution_options(synchronize_session=False))
    if not won:
        raise _changed_meanwhile()
    db.session.expire(sub)


def _refund(user_id: int, cents: int, start: datetime | None, label: str, actor_id: int) -> None:
    """Credit the unused part of a paid period, once per period (the wallet's reference dedup); like any money
    arriving in the wallet, it pays fees due first (fees.settle)."""
    if cents > 0:
        wallet.credit(user_id, cents, WalletReason.SUBSCRIPTION, actor_id=actor_id,
                      reference=f"SUB-{user_id}-refund-{start or utcnow():%Y%m%d%H%M%S}",
                      note=f"Unused {label} plan period refunded")
        fees.settle(user_id)


def comp(actor: User, user: User, target: str, periods: int, *, seen: str, now: datetime | None = None,
         ip: str | None = None) -> PlanChange:
    """Give `user` the paid plan `target` free for `periods` periods from now. The caller commits."""
    now = now or utcnow()
    _not_deleted(user)
    plan = subscriptions.tier(target)
    if plan.is_free:
        raise SubscriptionError("Choose a paid plan to give.")
    if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= MAX_COMP_PERIODS:
        raise SubscriptionError(f"Give between 1 and {MAX_COMP_PERIODS} periods.")
    sub = _fresh(user.id)
    before = _state(sub)
    paid_start, paid_label = (sub.current_period_start, subscriptions.tier(sub.tier).label) if sub else (None, "")
    if subscriptions.is_comped(sub, now):
        assert sub is not None
        returns_to: str | None = sub.next_tier  # a comp on a comp keeps what the plan goes back to
        refund = 0
    else:
        previous = (sub.next_tier or sub.tier) if sub is not None else Tier.FREE
        returns_to = None if previous == plan.name else previous
        refund = unused_refund_cents(sub, now)
    ends = now + subscriptions.period_length() * periods
    _write(user.id, sub, seen, {"tier": plan.name, "next_tier": returns_to, "current_period_start": now,
                                "current_period_end": ends, "comped_until": ends})
    _refund(user.id, refund, paid_start, paid_label, actor.id)
    subscriptions.reprioritise(user.id, plan)
    result = PlanChange(plan.name, Tier(returns_to) if returns_to else None, ends, refund)
    audit.record("admin.plan_comped", actor_id=actor.id, object_type="user", object_id=user.id, ip=ip,
                 before=before, after={**_state(db.session.get(Subscription, user.id)), "periods": periods,
                                       "refund_cents": refund})
    mail.send_template(user.email, "plan_comped", name=user.display_name, plan=plan, periods=periods, ends=ends,
                       then=subscriptions.tier(returns_to or plan.name), refund_cents=refund)
    return result


def cancel(actor: User, user: User, when: str, *, seen: str, now: datetime | None = None,
           ip: str | None = None) -> PlanChange:
    """Cancel `user`'s paid plan at the period end or now (refunding the unused part). The caller commits."""
    now = now or utcnow()
    _not_deleted(user)
    if when not in CANCEL_WHEN:
        raise SubscriptionError("Choose when the plan ends.")
    sub = _fresh(user.id)
    if sub is None or sub.tier == Tier.FREE:
        raise SubscriptionError("This customer has no paid plan to cancel.")
    old = subscriptions.tier(sub.tier)
    before, paid_start, period_end = _state(sub), sub.current_period_start, sub.current_period_end
    if when == "period_end":
        if sub.next_tier == Tier.FREE:
            raise SubscriptionError("The plan already ends at the end of this period.")
        _write(user.id, sub, seen, {"next_tier": Tier.FREE})
        result = PlanChange(old.name, Tier.FREE, period_end, 0)
    else:
        refund = unused_refund_cents(sub, now)
        _write(user.id, sub, seen, {"tier": Tier.FREE, "next_tier": None, "current_period_end": None,
                                    "comped_until": None})
        _refund(user.id, refund, paid_start, old.label, actor.id)
        subscriptions.reprioritise(user.id, subscriptions.tier(Tier.FREE))
        result = PlanChange(Tier.FREE, None, now, refund)
    audit.record("admin.plan_cancelled", actor_id=actor.id, object_type="user", object_id=user.id, ip=ip,
                 before=before, after={**_state(db.session.get(Subscription, user.id)), "when": when,
                                       "refund_cents": result.refund_cents})
    mail.send_template(user.email, "plan_cancelled_by_staff", name=user.display_name, old=old, now=when == "now",
                       ends=result.ends, refund_cents=result.refund_cents)
    return result
