"""Subscriptions: Free, Plus and Premium, what each allows (the plan table), and the plan's life cycle.

What each plan costs and allows is one table, the PLANS setting (config.py, each number overridable by its
environment variable); models.Tier names and orders the plans. Everything that asks what a plan allows
(rental limits, the holds queue, member prices, the plan page) reads it through `tier` / `tier_of` here.

A plan runs for SUBSCRIPTION_PERIOD_DAYS. Subscribing or upgrading takes effect at once (an upgrade
pays the price difference for the rest of the period); downgrading and cancelling take effect at the
end of the period (`next_tier`). Staff can also give a plan for some periods, free (`comped_until`; see
plan_staff): renewal charges nothing until that period ends. The renewal job charges the wallet at period end; when the wallet
cannot pay, the plan falls back to Free and the customer is emailed. Payment by card goes through a
gateway charge (services.commerce.charges) that tops up the wallet and is then taken from it, so every plan
payment is one wallet ledger entry with reference SUB-<user>-<period start>.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import select, update

from ...extensions import db
from ...models import Hold, Subscription, User, utcnow
from ...models.membership import HoldStatus, Tier
from ...models.wallet import WalletReason
from ..platform import audit, dml, mail
from . import wallet

ORDER = tuple(Tier)  # cheapest first


class SubscriptionError(ValueError):
    """A plan change that is not possible; the message is for the customer."""


@dataclass(frozen=True)
class Plan:
    """What one tier costs and allows: a row of the PLANS setting."""

    name: Tier
    price_cents: int  # per period
    max_rental_days: int
    max_books: int  # rentals out + rentals in an unpaid checkout + open holds, at once
    discount_pct: int  # off purchases
    hold_window_days: int  # how long a set-aside copy waits

    @property
    def label(self) -> str:
        return self.name.label

    @property
    def rank(self) -> int:
        return self.name.rank

    @property
    def hold_priority(self) -> int:
        """Queue priority: 0 (Premium) is served before 1 (Plus) before 2 (Free)."""
        return self.name.hold_priority

    @property
    def is_free(self) -> bool:
        return self.name == Tier.FREE


def tier(name: str) -> Plan:
    """The plan called `name` (a Tier value), from the PLANS setting."""
    if name not in ORDER:
        raise SubscriptionError("Unknown plan.")
    row: dict[str, int] = current_app.config["PLANS"][name]
    return Plan(name=Tier(name), **row)


def all_tiers() -> list[Plan]:
    """Every plan, cheapest first (the plan page compares them)."""
    return [tier(name) for name in ORDER]


def for_priority(priority: int) -> Plan:
    """The plan whose holds queue at this priority."""
    return tier(Tier.for_priority(priority))


def subscription_of(user_id: int) -> Subscription | None:
    """The customer's subscription row (None: never subscribed, so Free)."""
    return db.session.get(Subscription, user_id)


def tier_name_of(user_id: int | None) -> Tier:
    """The customer's tier now, in one small query (Free for visitors and non-subscribers)."""
    if user_id is None:
        return Tier.FREE
    name = db.session.scalar(select(Subscription.tier).where(Subscription.user_id == user_id))
    return Tier(name) if name else Tier.FREE


def tier_of(user: User | None) -> Plan:
    """The customer's plan now (Free for visitors)."""
    return tier(tier_name_of(user.id if user is not None and user.is_authenticated else None))


def max_rental_days() -> int:
    """The longest loan any plan allows (what a visitor can pick before signing in)."""
    return max(t.max_rental_days for t in all_tiers())


def period_length() -> timedelta:
    return timedelta(days=current_app.config["SUBSCRIPTION_PERIOD_DAYS"])


def share_left(end: datetime, now: datetime) -> float:
    """How many periods are still to run at `now` (0 once ended; above 1 for a plan comped several periods ahead):
    what an upgrade pays the difference for, and what a staff cancellation or comp refunds
    (plan_staff.unused_refund_cents)."""
    return max(timedelta(0), end - now) / period_length()


def is_comped(sub: Subscription | None, now: datetime | None = None) -> bool:
    """Staff gave this plan free (plan_staff.comp) and the free time has not run out: nothing is charged for it."""
    return sub is not None and sub.comped_until is not None and sub.comped_until > (now or utcnow())


# ---- prices ----

class ChangeKind(StrEnum):
    """What choosing a plan does, seen from the customer's current one."""

    SUBSCRIBE = "subscribe"  # from Free: pay the full price now, a new period starts
    UPGRADE = "upgrade"  # pay the difference for the rest of the period, at once
    DOWNGRADE = "downgrade"  # at the end of the period
    CANCEL = "cancel"  # back to Free at the end of the period
    RESUME = "resume"  # call off a scheduled downgrade or cancellation
    SAME = "same"  # nothing to do


@dataclass
class ChangeQuote:
    """What choosing `tier` would do, and what it costs now."""

    kind: ChangeKind
    tier: Plan
    charge_cents: int  # due now
    effective: datetime | None  # when a downgrade/cancel takes effect


def quote_change(user: User, target: str, now: datetime | None = None) -> ChangeQuote:
    """What changing to `target` would do and cost now (the plan page shows one per plan)."""
    now = now or utcnow()
    new = tier(target)
    sub = subscription_of(user.id)
    current = tier(sub.tier if sub else Tier.FREE)
    if new.name == current.name:
        if sub is not None and sub.next_tier is not None and sub.next_tier != current.name:
            return ChangeQuote(ChangeKind.RESUME, new, 0, None)
        return ChangeQuote(ChangeKind.SAME, new, 0, None)
    if sub is None or current.is_free:
        return ChangeQuote(ChangeKind.SUBSCRIBE, new, new.price_cents, None)
    end = _period_end(sub)
    if new.rank > current.rank:
        part = share_left(end, now)
        return ChangeQuote(ChangeKind.UPGRADE, new, max(1, round((new.price_cents - current.price_cents) * part)),
                           end)
    return ChangeQuote(ChangeKind.CANCEL if new.is_free else ChangeKind.DOWNGRADE, new, 0, end)


def _period_end(sub: Subscription) -> datetime:
    """The end of a paid plan's period (every paid plan has one)."""
    if sub.current_period_end is None:
        raise SubscriptionError("This plan has no period; please contact us.")
    return sub.current_period_end


# ---- changes ----

def _reference(user_id: int, kind: str, when: datetime) -> str:
    return f"SUB-{user_id}-{kind}-{when:%Y%m%d%H%M%S}"


def change(user: User, target: str, *, paid_reference: str | None = None, now: datetime | None = None,
           ip: str | None = None) -> ChangeQuote:
    """Apply a plan change, paying what is due now from the wallet (a card payment has already topped the
    wallet up by the same amount: `paid_reference` is that charge). Raises wallet.InsufficientFunds or
    SubscriptionError; the caller commits."""
    now = now or utcnow()
    q = quote_change(user, target, now)
    if q.kind == ChangeKind.SAME:
        raise SubscriptionError(f"You are already on {q.tier.label}.")
    if q.charge_cents:
        reference = paid_reference or _reference(user.id, q.kind, now)
        wallet.debit(user.id, q.charge_cents, WalletReason.SUBSCRIPTION, reference=reference,
                     note=f"{q.tier.label} plan ({q.kind})")
    sub = subscription_of(user.id)
    if sub is None:  # only a subscription starts without a row (the other kinds need a paid plan)
        sub = Subscription(user_id=user.id)
        db.session.add(sub)
    if q.kind == ChangeKind.SUBSCRIBE:
        sub.tier, sub.next_tier = q.tier.name, None
        sub.current_period_start, sub.current_period_end = now, now + period_length()
        reprioritise(user.id, q.tier)
    elif q.kind == ChangeKind.UPGRADE:
        sub.tier, sub.next_tier = q.tier.name, None
        reprioritise(user.id, q.tier)
    elif q.kind in (ChangeKind.DOWNGRADE, ChangeKind.CANCEL):
        sub.next_tier = q.tier.name
    elif q.kind == ChangeKind.RESUME:
        sub.next_tier = None
    db.session.flush()
    audit.record(f"subscription.{q.kind}", actor_id=user.id, object_type="user", object_id=user.id, ip=ip,
                 after={"tier": sub.tier, "next_tier": sub.next_tier, "charged_cents": q.charge_cents})
    return q


def reprioritise(user_id: int, new: Plan) -> None:
    """Waiting holds move to the new plan's place in their queues (keeping their queue time)."""
    db.session.execute(update(Hold).where(Hold.user_id == user_id, Hold.status == HoldStatus.WAITING)
                       .values(priority=new.hold_priority).execution_options(synchronize_session=False))


# ---- renewal (jobs.membership, hourly) ----

def renew_due(now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Plans whose period has ended: renew (charging the wallet), switch to the chosen lower plan, or
    fall back to Free when the wallet cannot pay. Each period is handled once, however often this runs."""
    now = now or utcnow()
    counts = {"renewed": 0, "changed": 0, "lapsed": 0}
    due = db.session.scalars(select(Subscription).where(Subscription.tier != Tier.FREE,
                                                        Subscription.current_period_end <= now)
                             .order_by(Subscription.current_period_end).limit(limit)).all()
    for sub in due:
        old_end, old_tier, comp_ended = _period_end(sub), tier(sub.tier), sub.comped_until is not None
        target = tier(sub.next_tier or sub.tier)
        user = db.session.get(User, sub.user_id)
        # Claim this period: only one run moves it forward.
        claimed = dml.changed(
            update(Subscription).where(Subscription.user_id == sub.user_id, Subscription.current_period_end == old_end,
                                       Subscription.tier == old_tier.name)
            .values(tier=target.name, next_tier=None, current_period_start=old_end,
                    current_period_end=None if target.is_free else old_end + period_length(), comped_until=None,
                    updated_at=now)
            .execution_options(synchronize_session=False))
        if not claimed:
            db.session.rollback()
            continue
        outcome = "changed" if target.name != old_tier.name else "renewed"
        if not target.is_free:
            try:
                wallet.debit(sub.user_id, target.price_cents, WalletReason.SUBSCRIPTION,
                             reference=_reference(sub.user_id, "renewal", old_end),
                             note=f"{target.label} plan renewal")
            except wallet.InsufficientFunds:
                db.session.execute(update(Subscription).where(Subscription.user_id == sub.user_id)
                                   .values(tier=Tier.FREE, next_tier=None, current_period_end=None)
                                   .execution_options(synchronize_session=False))
                target, outcome = tier(Tier.FREE), "lapsed"
        if target.name != old_tier.name:
            reprioritise(sub.user_id, target)
        if user is not None and user.deleted_at is None:
            _renewal_email(user, outcome, old_tier, target, old_end, comp_ended)
        db.session.commit()
        counts[outcome] += 1
    return counts


def _renewal_email(user: User, outcome: str, old: Plan, new: Plan, when: datetime, comp_ended: bool) -> None:
    """`comp_ended`: the period that ended was given by staff (services.circulation.plan_staff.comp)."""
    if outcome == "renewed":
        mail.send_template(user.email, "subscription_renewed", name=user.display_name, plan=new,
                           period_days=current_app.config["SUBSCRIPTION_PERIOD_DAYS"], comp_ended=comp_ended)
    elif outcome == "lapsed":
        mail.send_template(user.email, "subscription_lapsed", name=user.display_name, old=old, ended=when,
                           comp_ended=comp_ended)
    else:
        mail.send_template(user.email, "subscription_changed", name=user.display_name, old=old, new=new,
                           changed=when, comp_ended=comp_ended)
