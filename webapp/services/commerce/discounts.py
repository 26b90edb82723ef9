"""Discount codes for staff: list, create, edit, activate/deactivate, delete. Every change is audited.

The rules follow the DiscountCode model and services.commerce.pricing, which applies the codes: a code is stored
upper-case (so unique case-insensitively), takes a percentage (1-100) or a fixed amount in cents off the
goods, and may have a minimum subtotal, a window (starts/ends), a total use limit and a per-customer limit.
A code that was ever used by an order cannot be deleted (deactivate it instead) nor renamed.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import DiscountCode, DiscountRedemption, Order, User, utcnow
from ..platform import audit, dml, paging
from ..platform.errors import RuleError
from ..platform.money import plain
from .pricing import normalise_code

CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{2,39}")
KINDS = {"percent": "Percent off", "fixed": "Amount off"}
STATES = {"active": "Active", "scheduled": "Scheduled", "expired": "Expired", "used_up": "Used up",
          "inactive": "Deactivated"}
MAX_FIXED_CENTS = 1_000_000  # 10,000.00: far above any basket; stops a typo of a few extra zeros
MAX_LIMIT = 1_000_000


class DiscountError(RuleError):
    """A discount rule was broken; `errors` maps form field names to messages."""


@dataclass
class DiscountInput:
    code: str
    kind: str
    value: int | None  # percent (1-100) or cents
    description: str | None = None
    min_subtotal_cents: int | None = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    max_uses: int | None = None
    max_uses_per_user: int | None = None
    active: bool = True


def state_of(discount: DiscountCode, now: datetime | None = None) -> str:
    now = now or utcnow()
    if not discount.active:
        return "inactive"
    if discount.ends_at and discount.ends_at < now:
        return "expired"
    if discount.starts_at and discount.starts_at > now:
        return "scheduled"
    if discount.max_uses is not None and discount.uses_count >= discount.max_uses:
        return "used_up"
    return "active"


def _state_clause(state: str, now: datetime) -> ColumnElement[bool] | None:
    used_up = and_(DiscountCode.max_uses.is_not(None), DiscountCode.uses_count >= DiscountCode.max_uses)
    expired = and_(DiscountCode.ends_at.is_not(None), DiscountCode.ends_at < now)
    scheduled = and_(DiscountCode.starts_at.is_not(None), DiscountCode.starts_at > now)
    active = DiscountCode.active.is_(True)
    return {
        "inactive": DiscountCode.active.is_(False),
        "expired": and_(active, expired),
        "scheduled": and_(active, ~expired, scheduled),
        "used_up": and_(active, ~expired, ~scheduled, used_up),
        "active": and_(active, ~expired, ~scheduled, ~used_up),
    }.get(state)


def list_codes(q: str = "", state: str = "", page: int = 1, per_page: int = 25) -> paging.Page:
    """Codes, newest first. `uses_count` is the number of orders holding the code now (unpaid orders that
    expire or are cancelled give their use back)."""
    stmt = select(DiscountCode)
    q = normalise_code(q)
    if q:
        stmt = stmt.where(or_(DiscountCode.code.contains(q, autoescape=True),
                              func.upper(DiscountCode.description).contains(q, autoescape=True)))
    clause = _state_clause(state, utcnow())
    if clause is not None:
        stmt = stmt.where(clause)
    return paging.paginate(stmt.order_by(DiscountCode.created_at.desc(), DiscountCode.id.desc()), page, per_page)


def get(discount_id: int) -> DiscountCode | None:
    return db.session.get(DiscountCode, discount_id)


def ever_used(discount: DiscountCode) -> bool:
    """True if any order (paid or not, even one that expired) carries the code."""
    return bool(discount.uses_count) or bool(db.session.scalar(select(
        exists().where(Order.discount_code_id == discount.id)
        | exists().where(DiscountRedemption.discount_code_id == discount.id))))


def _check(data: DiscountInput, existing: DiscountCode | None = None) -> DiscountInput:
    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    code = normalise_code(data.code)
    if len((data.code or "").strip()) > 40:
        err("code", "Use 3 to 40 letters, digits, hyphens or underscores.")
    elif not code:
        err("code", "Enter a code.")
    elif not CODE_RE.fullmatch(code):
        err("code", "Use 3 to 40 letters, digits, hyphens or underscores, starting with a letter or digit.")
    else:
        clash = db.session.scalar(select(DiscountCode.id).where(func.upper(DiscountCode.code) == code))
        if clash is not None and (existing is None or clash != existing.id):
            err("code", f"“{code}” already exists.")
        if existing is not None and code != existing.code and ever_used(existing):
            err("code", "Orders already carry this code, so it cannot be renamed: create a new code instead.")
    description = " ".join((data.description or "").split()) or None
    if description and len(description) > 200:
        err("description", "Keep the description under 200 characters.")
    if data.kind not in KINDS:
        err("kind", "Choose percent off or amount off.")
    value = data.value
    if value is None:
        err("value", "Enter how much the code takes off.")
    elif data.kind == "percent" and not 1 <= value <= 100:
        err("value", "A percentage must be a whole number from 1 to 100.")
    elif data.kind == "fixed" and not 0 < value <= MAX_FIXED_CENTS:
        err("value", f"An amount off must be more than {plain(0)} and at most {plain(MAX_FIXED_CENTS)}.")
    min_subtotal = data.min_subtotal_cents or 0
    if min_subtotal < 0:
        err("min_subtotal", f"The minimum order must be {plain(0)} or more.")
    elif min_subtotal > MAX_FIXED_CENTS:
        err("min_subtotal", f"The minimum order can be at most {plain(MAX_FIXED_CENTS)}.")
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        err("ends_at", "The end must be after the start.")
    for field, limit in (("max_uses", data.max_uses), ("max_uses_per_user", data.max_uses_per_user)):
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            err(field, "Leave empty for no limit, or enter a whole number of at least 1.")
    if existing is not None and data.max_uses is not None and data.max_uses < existing.uses_count:
        err("max_uses", f"The code has already been used {existing.uses_count} times: the limit cannot be lower.")
    if data.max_uses is not None and data.max_uses_per_user is not None and data.max_uses_per_user > data.max_uses:
        err("max_uses_per_user", "The per-customer limit cannot be more than the total limit.")
    if errors:
        raise DiscountError(errors)
    return DiscountInput(code=code, kind=data.kind, value=value, description=description,
                         min_subtotal_cents=min_subtotal, starts_at=data.starts_at, ends_at=data.ends_at,
                         max_uses=data.max_uses, max_uses_per_user=data.max_uses_per_user, active=bool(data.active))


def snapshot(discount: DiscountCode) -> dict[str, Any]:
    """The code's settings as JSON-friendly values (for the audit log)."""
    return {"code": discount.code, "kind": discount.kind, "value": discount.value,
            "description": discount.description, "min_subtotal_cents": discount.min_subtotal_cents,
            "starts_at": discount.starts_at.isoformat() if discount.starts_at else None,
            "ends_at": discount.ends_at.isoformat() if discount.ends_at else None,
            "max_uses": discount.max_uses, "max_uses_per_user": discount.max_uses_per_user,
            "active": discount.active}


def _flush_unique(code: str) -> None:
    """Two people saving the same new code at once: the unique index stops the second. No savepoint (as in
    authors._flush_unique): begin_nested() flushes before it begins, so it would not contain the error; the
    transaction is spoilt and the caller rolls back, as for any DiscountError."""
    try:
        db.session.flush()
    except IntegrityError:
        raise DiscountError({"code": [f"“{code}” already exists."]}) from None


def create(actor: User, data: DiscountInput, *, ip: str | None = None) -> DiscountCode:
    clean = _check(data)
    discount = DiscountCode(**asdict(clean), uses_count=0)
    db.session.add(discount)
    _flush_unique(clean.code)
    audit.record("discount.created", actor_id=actor.id, object_type="discount", object_id=discount.id, ip=ip,
                 after=snapshot(discount))
    return discount


def update(actor: User, discount: DiscountCode, data: DiscountInput, *, ip: str | None = None) -> DiscountCode:
    clean = _check(data, existing=discount)
    before = snapshot(discount)
    for key, value in asdict(clean).items():
        setattr(discount, key, value)
    _flush_unique(clean.code)
    after = snapshot(discount)
    changed = [k for k in after if after[k] != before[k]]
    if changed:
        audit.record("discount.updated", actor_id=actor.id, object_type="discount", object_id=discount.id, ip=ip,
                     before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    return discount


def set_active(actor: User, discount: DiscountCode, active: bool, *, ip: str | None = None) -> None:
    if discount.active == active:
        raise DiscountError(f"“{discount.code}” is already {'active' if active else 'deactivated'}.")
    discount.active = active
    audit.record("discount.activated" if active else "discount.deactivated", actor_id=actor.id,
                 object_type="discount", object_id=discount.id, ip=ip,
                 before={"active": not active}, after={"active": active})


def delete_code(actor: User, discount: DiscountCode, *, ip: str | None = None) -> str:
    """Delete a code no order ever used. The delete is conditional on the use count, so a checkout
    redeeming the code at the same moment wins and the delete is refused."""
    if ever_used(discount):
        raise DiscountError(f"“{discount.code}” has been used by orders, so it cannot be deleted: deactivate it.")
    before, code = snapshot(discount), discount.code
    if not dml.changed(delete(DiscountCode).where(DiscountCode.id == discount.id, DiscountCode.uses_count == 0)
                       .execution_options(synchronize_session=False)):
        raise DiscountError(f"“{discount.code}” was just used or removed, so it was not deleted.")
    db.session.expunge(discount)
    audit.record("discount.deleted", actor_id=actor.id, object_type="discount", object_id=discount.id, ip=ip,
                 before=before)
    return code
