"""Subscriptions: Free, Plus and Premium, what each allows, and the plan's life cycle.

A plan runs for SUBSCRIPTION_PERIOD_DAYS. Subscribing or upgrading takes effect at once (an upgrade
pays the price difference for the rest of the period); downgrading and cancelling take effect at the
end of the period (`next_tier`). The renewal job charges the wallet at period end; when the wallet
cannot pay, the plan falls back to Free and the customer is emailed. Payment by card goes through a
gateway charge (services.commerce.charges) that tops up the wallet and is then taken from it, so every plan
payment is one wallet ledger entry with reference SUB-<user>-<period start>.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from ...extensions import db
from ...models import Hold, Subscription, User, utcnow
from ..platform import audit
from ..platform.money import money
from . import wallet

ORDER = ("free", "plus", "premium")
LABELS = {"free": "Free", "plus": "Plus", "premium": "Premium"}


class SubscriptionError(ValueError):
    pass


@dataclass(frozen=True)
class Tier:
    name: str
    price_cents: int
    max_rental_days: int
    max_books: int  # rentals out + open holds at once
    discount_pct: int  # off purchases
    hold_window_days: int

    @property
    def label(self) -> str:
        return LABELS[self.name]

    @property
    def rank(self) -> int:
        return ORDER.index(self.name)

    @property
    def hold_priority(self) -> int:
        """Queue priority: 0 (Premium) is served before 1 (Plus) before 2 (Free)."""
        return len(ORDER) - 1 - self.rank


def tier(name: str) -> Tier:
    if name not in ORDER:
        raise SubscriptionError("Unknown plan.")
    c = current_app.config
    key = name.upper()
    return Tier(name=name, price_cents=0 if name == "free" else c[f"PLAN_PRICE_{key}_CENTS"],
                max_rental_days=c[f"RENTAL_MAX_DAYS_{key}"], max_books=c[f"MAX_BOOKS_{key}"],
                discount_pct=0 if name == "free" else c[f"PLAN_DISCOUNT_PCT_{key}"],
                hold_window_days=c[f"HOLD_WINDOW_DAYS_{key}"])


def all_tiers() -> list[Tier]:
    return [tier(name) for name in ORDER]


def subscription_of(user_id: int) -> Subscription | None:
    return db.session.get(Subscription, user_id)


def tier_name_of(user_id: int | None) -> str:
    if user_id is None:
        return "free"
    return db.session.scalar(select(Subscription.tier).where(Subscription.user_id == user_id)) or "free"


def tier_of(user: User | None) -> Tier:
    """The customer's plan now (Free for visitors)."""
    return tier(tier_name_of(user.id if user is not None and user.is_authenticated else None))


def max_rental_days() -> int:
    """The longest loan any plan allows (what a visitor can pick before signing in)."""
    return max(t.max_rental_days for t in all_tiers())


def _period() -> timedelta:
    return timedelta(days=current_app.config["SUBSCRIPTION_PERIOD_DAYS"])


# ---- prices ----

@dataclass
class ChangeQuote:
    kind: str  # subscribe | upgrade | downgrade | cancel | resume | same
    tier: Tier
    charge_cents: int  # due now
    effective: datetime | None  # when a downgrade/cancel takes effect


def quote_change(user: User, target: str, now: datetime | None = None) -> ChangeQuote:
    now = now or utcnow()
    new = tier(target)
    sub = subscription_of(user.id)
    current = tier(sub.tier if sub else "free")
    if new.name == current.name:
        if sub is not None and sub.next_tier is not None and sub.next_tier != current.name:
            return ChangeQuote("resume", new, 0, None)
        return ChangeQuote("same", new, 0, None)
    if current.name == "free":
        return ChangeQuote("subscribe", new, new.price_cents, None)
    if new.rank > current.rank:
        left = max(timedelta(0), sub.current_period_end - now)
        part = left / _period()
        return ChangeQuote("upgrade", new, max(1, round((new.price_cents - current.price_cents) * part)),
                           sub.current_period_end)
    return ChangeQuote("cancel" if new.name == "free" else "downgrade", new, 0, sub.current_period_end)


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
    sub = subscription_of(user.id)
    if q.kind == "same":
        raise SubscriptionError(f"You are already on {q.tier.label}.")
    if q.charge_cents:
        reference = paid_reference or _reference(user.id, q.kind, now)
        wallet.debit(user.id, q.charge_cents, "subscription", reference=reference,
                     note=f"{q.tier.label} plan ({q.kind})")
    if q.kind == "subscribe":
        if sub is None:
            sub = Subscription(user_id=user.id)
            db.session.add(sub)
        sub.tier, sub.next_tier = q.tier.name, None
        sub.current_period_start, sub.current_period_end = now, now + _period()
        _reprioritise(user.id, q.tier)
    elif q.kind == "upgrade":
        sub.tier, sub.next_tier = q.tier.name, None
        _reprioritise(user.id, q.tier)
    elif q.kind in ("downgrade", "cancel"):
        sub.next_tier = q.tier.name
    elif q.kind == "resume":
        sub.next_tier = None
    db.session.flush()
    audit.record(f"subscription.{q.kind}", actor_id=user.id, object_type="user", object_id=user.id, ip=ip,
                 after={"tier": sub.tier, "next_tier": sub.next_tier, "charged_cents": q.charge_cents})
    return q


def _reprioritise(user_id: int, new: Tier) -> None:
    """Waiting holds move to the new plan's place in their queues (keeping their queue time)."""
    db.session.execute(update(Hold).where(Hold.user_id == user_id, Hold.status == "waiting")
                       .values(priority=new.hold_priority).execution_options(synchronize_session=False))


# ---- renewal (jobs.subscriptions, hourly) ----

def renew_due(now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Plans whose period has ended: renew (charging the wallet), switch to the chosen lower plan, or
    fall back to Free when the wallet cannot pay. Each period is handled once, however often this runs."""
    from ..platform import mail

    now = now or utcnow()
    counts = {"renewed": 0, "changed": 0, "lapsed": 0}
    due = db.session.scalars(select(Subscription).where(Subscription.tier != "free",
                                                        Subscription.current_period_end <= now)
                             .order_by(Subscription.current_period_end).limit(limit)).all()
    for sub in due:
        old_end, old_tier = sub.current_period_end, sub.tier
        target = tier(sub.next_tier or sub.tier)
        user = db.session.get(User, sub.user_id)
        # Claim this period: only one run moves it forward.
        claimed = db.session.execute(
            update(Subscription).where(Subscription.user_id == sub.user_id, Subscription.current_period_end == old_end,
                                       Subscription.tier == old_tier)
            .values(tier=target.name, next_tier=None, current_period_start=old_end,
                    current_period_end=old_end + _period() if target.name != "free" else None, updated_at=now)
            .execution_options(synchronize_session=False)).rowcount
        if not claimed:
            db.session.rollback()
            continue
        outcome = "changed" if target.name != old_tier else "renewed"
        if target.name != "free":
            try:
                wallet.debit(sub.user_id, target.price_cents, "subscription",
                             reference=_reference(sub.user_id, "renewal", old_end),
                             note=f"{target.label} plan renewal")
            except wallet.InsufficientFunds:
                db.session.execute(update(Subscription).where(Subscription.user_id == sub.user_id)
                                   .values(tier="free", next_tier=None, current_period_end=None)
                                   .execution_options(synchronize_session=False))
                target, outcome = tier("free"), "lapsed"
        if target.name != old_tier:
            _reprioritise(sub.user_id, target)
        if user is not None and user.deleted_at is None:
            mail.send(user.email, *_renewal_email(user, outcome, tier(old_tier), target, old_end))
        db.session.commit()
        counts[outcome] += 1
    return counts


def _renewal_email(user: User, outcome: str, old: Tier, new: Tier, when: datetime) -> tuple[str, str]:
    shop = current_app.config["SHOP_NAME"]
    hello = f"Hello {user.display_name},\n\n"
    if outcome == "renewed":
        return (f"Your {shop} {new.label} plan is renewed",
                hello + f"We renewed your {new.label} plan for another {current_app.config['SUBSCRIPTION_PERIOD_DAYS']} "
                f"days and took {money(new.price_cents)} from your wallet.\n\n— {shop}")
    if outcome == "lapsed":
        return (f"Your {shop} {old.label} plan has ended",
                hello + f"Your {old.label} plan ended on {when:%-d %B %Y}: your wallet did not hold "
                f"{money(old.price_cents if old.name != 'free' else 0)} to renew it, so you are on the Free plan now. "
                "Top up your wallet and subscribe again from your account whenever you like.\n\n— " + shop)
    return (f"Your {shop} plan is now {new.label}",
            hello + f"As you asked, your plan changed from {old.label} to {new.label} on {when:%-d %B %Y}"
            + (f" and we took {money(new.price_cents)} from your wallet" if new.price_cents else "") + f".\n\n— {shop}")
