"""Staff managing holds at the desk: cancel with a reason, move a waiting hold up or down its book's queue,
extend a ready hold's pick-up window. Each is audited and the customer emailed.

Moving. The queue order is (priority, queued_at, id) and stays the only order: a move changes the moved hold's
`queued_at` alone, to a moment between its new neighbours, in ONE conditional UPDATE that also checks the hold and
the neighbour it passes are still waiting where staff saw them (else "the queue changed": nothing moves). No other
row changes, so a copy being allocated at the same moment (a return: `holds.allocate`, a conditional UPDATE on the
status) and a move never both write the same columns; whoever is first in the queue when the copy is set aside
gets it, once. A move stays within the hold's plan tier (Premium, Plus, Free: the shop's rule "plans come first");
the first hold of a tier cannot go up past the last of the tier above. Two holds queued at the very same
microsecond cannot have a third put between them: that move is refused with a message.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, select, tuple_, update

from ...extensions import db
from ...models import OPEN_HOLD, Hold, User, utcnow
from ...models.membership import HoldStatus, Tier
from ..people import accounts
from ..platform import audit, dml, mail, paging
from ..platform.errors import RuleError
from . import holds
from .holds import HoldError

REASON_MAX = 200
TICK = timedelta(seconds=1)  # the gap left past the first or last hold of a tier


def _load(hold_id: int) -> Hold:
    hold = db.session.get(Hold, hold_id)
    if hold is None:
        raise HoldError("No such hold.")
    return hold


def _email(hold: Hold, template: str, **context: object) -> None:
    customer = accounts.reachable(hold.user_id)
    if customer is not None:
        mail.send_template(customer.email, template, name=customer.display_name, hold=hold, **context)


# ---- cancel ----

def cancel(hold_id: int, *, reason: str, actor: User, ip: str | None = None) -> Hold:
    """Cancel a waiting or ready hold; a set-aside copy goes to the next in line (as the customer's cancel)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise RuleError("Give a reason: the customer is told it.", "reason")
    if len(reason) > REASON_MAX:
        raise RuleError(f"Keep the reason under {REASON_MAX} characters.", "reason")
    hold = _load(hold_id)
    was = holds.close(hold, actor_id=actor.id, reason=reason, ip=ip, action="hold.cancelled_by_staff")
    _email(hold, "hold_cancelled_by_staff", reason=reason, was_ready=was == HoldStatus.READY)
    return hold


# ---- move ----

def _key(hold: Hold) -> tuple[int, datetime, int]:
    return hold.priority, hold.queued_at, hold.id


def _waiting_of(book_id: int) -> Select[Hold]:
    return select(Hold).where(Hold.book_id == book_id, Hold.status == HoldStatus.WAITING)


def _neighbours(hold: Hold, up: bool) -> tuple[Hold | None, Hold | None]:
    """(the hold passed, the one beyond it) in the direction of the move."""
    columns = (Hold.priority, Hold.queued_at, Hold.id)
    key = _key(hold)
    if up:
        stmt = _waiting_of(hold.book_id).where(tuple_(*columns) < key).order_by(
            *(c.desc() for c in columns)).limit(2)
    else:
        stmt = _waiting_of(hold.book_id).where(tuple_(*columns) > key).order_by(*columns).limit(2)
    found = list(db.session.scalars(stmt))
    return (found[0] if found else None), (found[1] if len(found) > 1 else None)


def _between(hold_id: int, low: tuple[datetime, int] | None, high: tuple[datetime, int] | None) -> datetime | None:
    """A queued_at that puts (queued_at, hold_id) strictly between `low` and `high` (same tier), or None."""
    if low is None and high is None:  # cannot happen (there is always the hold passed)
        return None
    if low is None:
        assert high is not None
        return high[0] - TICK
    if high is None:
        return low[0] + TICK
    candidates = [low[0] + (high[0] - low[0]) / 2, low[0], high[0]]
    for when in candidates:
        if low < (when, hold_id) < high:
            return when
    return None


def move(hold_id: int, direction: str, *, actor: User, ip: str | None = None) -> Hold:
    """One place up or down the book's queue, within the hold's plan tier. HoldError says why not."""
    if direction not in ("up", "down"):
        raise RuleError("Move up or down.", "direction")
    up = direction == "up"
    hold = _load(hold_id)
    if not hold.is_waiting:
        raise HoldError("Only a waiting hold can move in the queue.")
    passed, beyond = _neighbours(hold, up)
    tier = Tier.for_priority(hold.priority).label
    if passed is None:
        raise HoldError("This hold is already first in the queue." if up else "This hold is already last in the queue.")
    if passed.priority != hold.priority:
        raise HoldError(f"This is the {'first' if up else 'last'} {tier} hold: plans come first (Premium, then Plus, "
                        "then Free), so it cannot pass a hold of another plan.")
    same_tier = beyond if beyond is not None and beyond.priority == hold.priority else None
    near = (passed.queued_at, passed.id)
    far = None if same_tier is None else (same_tier.queued_at, same_tier.id)
    when = _between(hold.id, far, near) if up else _between(hold.id, near, far)
    if when is None:
        raise HoldError("These holds were placed at the same instant, so this one cannot go between them.")
    before = hold.queued_at
    if not dml.changed(
            update(Hold).where(Hold.id == hold.id, Hold.status == HoldStatus.WAITING, Hold.queued_at == before,
                               Hold.priority == hold.priority,
                               select(Hold.id).where(Hold.id == passed.id, Hold.status == HoldStatus.WAITING,
                                                     Hold.queued_at == passed.queued_at).exists())
            .values(queued_at=when).execution_options(synchronize_session=False)):
        db.session.refresh(hold)
        raise HoldError("The queue changed meanwhile (a copy was set aside, or someone else moved a hold): "
                        "nothing was moved. Look at it again.")
    db.session.refresh(hold)
    position = holds.position(hold)
    audit.record("hold.moved", actor_id=actor.id, object_type="hold", object_id=hold.id, ip=ip,
                 before={"queued_at": before.isoformat()},
                 after={"queued_at": when.isoformat(), "direction": direction, "position": position,
                        "passed_hold": passed.id})
    _email(hold, "hold_moved", position=position, direction=direction)
    return hold


# ---- extend ----

def extend_limit_days() -> int:
    return int(current_app.config["HOLD_EXTEND_MAX_DAYS"])


def extend(hold_id: int, days: int, *, actor: User, ip: str | None = None, now: datetime | None = None) -> Hold:
    """Give a ready hold's customer `days` more to collect (from the window's end, or from now if it has just
    passed and the expiry job has not run yet). The new end is at most HOLD_EXTEND_MAX_DAYS from now."""
    limit = extend_limit_days()
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= limit:
        raise RuleError(f"Extend by 1 to {limit} days.", "days")
    now = now or utcnow()
    hold = _load(hold_id)
    if not hold.is_ready or hold.expires_at is None:
        raise HoldError("Only a hold with a copy set aside has a pick-up window to extend.")
    before = hold.expires_at
    until = max(before, now) + timedelta(days=days)
    if until > now + timedelta(days=limit):
        raise RuleError(f"A pick-up window can end at most {limit} days from now; this one ends "
                        f"{before:%-d %b %H:%M} UTC already.", "days")
    if not dml.changed(update(Hold).where(Hold.id == hold.id, Hold.status == HoldStatus.READY,
                                          Hold.expires_at == before)
                       .values(expires_at=until).execution_options(synchronize_session=False)):
        db.session.refresh(hold)
        raise HoldError("This hold changed meanwhile (collected, expired, cancelled or extended): look at it again.")
    db.session.refresh(hold)
    audit.record("hold.extended", actor_id=actor.id, object_type="hold", object_id=hold.id, ip=ip,
                 before={"expires_at": before.isoformat()}, after={"expires_at": until.isoformat(), "days": days})
    _email(hold, "hold_extended", days=days)
    return hold


# ---- reading (the admin pages) ----

def customers(hold_list: Iterable[Hold]) -> dict[int, User]:
    """{user id: User} for the holds' customers, in one query (the lists show names, not "#12")."""
    return accounts.by_ids(h.user_id for h in hold_list)


def book_queue(book_id: int, page: int = 1, per_page: int = 50) -> paging.Page:
    """The book's open holds: set-aside copies first (by expiry), then the waiting queue in order."""
    ready_first = (Hold.status != HoldStatus.READY)
    stmt = (select(Hold).where(Hold.book_id == book_id, Hold.status.in_(OPEN_HOLD))
            .order_by(ready_first, Hold.expires_at, Hold.priority, Hold.queued_at, Hold.id))
    return paging.paginate(stmt, page, per_page)


def tier_edges(hold_list: Iterable[Hold]) -> dict[int, tuple[bool, bool]]:
    """{hold id: (can go up, can go down)} for the waiting holds shown, from the whole queue of each book: a
    hold moves within its tier only."""
    waiting = [h for h in hold_list if h.is_waiting]
    if not waiting:
        return {}
    books = {h.book_id for h in waiting}
    rows = db.session.execute(select(Hold.id, Hold.book_id, Hold.priority).where(
        Hold.book_id.in_(books), Hold.status == HoldStatus.WAITING)
        .order_by(Hold.book_id, Hold.priority, Hold.queued_at, Hold.id)).all()
    edges: dict[int, tuple[bool, bool]] = {}
    for i, row in enumerate(rows):
        prev = rows[i - 1] if i else None
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        edges[row.id] = (prev is not None and (prev.book_id, prev.priority) == (row.book_id, row.priority),
                         nxt is not None and (nxt.book_id, nxt.priority) == (row.book_id, row.priority))
    return edges
