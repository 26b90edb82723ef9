"""Payment issues: what the shop could not settle by itself and a person must look at. A payment whose
amount or currency did not match what it was for (refunded automatically, but it may be fraud or a bug),
outbox work that kept failing (a refund the provider refused), or a refund made at the provider (its
dashboard, a dispute) for something already shipped, partly refunded, or a top-up already spent. Each is
recorded once per reference, audited, shown on the admin home and listed at /admin/payments until staff
resolve it (once: open -> resolved, by one conditional UPDATE on resolved_at). Imports nothing else of
commerce, so every payment module can record an issue."""
from __future__ import annotations

from sqlalchemy import func, select, update

from ...extensions import db
from ...models import Charge, Order, OutboxMessage, PaymentIssue, User, utcnow
from ...models.payments import IssueKind
from ..platform import audit, dml, paging, upsert

KIND_LABELS: dict[str, str] = {
    IssueKind.AMOUNT_MISMATCH: "Paid amount did not match",
    IssueKind.OUTBOX_FAILED: "Provider work kept failing",
    IssueKind.PROVIDER_REFUND: "Refunded at the provider",
}


class IssueError(ValueError):
    pass


def record(kind: str, reference: str, message: str, *, order_number: str | None = None,
           charge_reference: str | None = None, amount_cents: int | None = None,
           currency: str | None = None) -> bool:
    """Record an issue once per (kind, reference), in the caller's transaction. False if already recorded."""
    reference = reference[:160]
    order_id = db.session.scalar(select(Order.id).where(Order.number == order_number)) if order_number else None
    charge_id = (db.session.scalar(select(Charge.id).where(Charge.reference == charge_reference))
                 if charge_reference else None)
    created = upsert.insert_once(
        PaymentIssue, PaymentIssue.id, kind=kind, reference=reference, order_id=order_id, charge_id=charge_id,
        amount_cents=amount_cents if isinstance(amount_cents, int) and not isinstance(amount_cents, bool) else None,
        currency=(currency or None) and currency[:3], message=message, created_at=utcnow())
    if created is None:  # recorded before, or by a twin at the same moment
        return False
    audit.record(f"payment.{kind}", object_type="order" if order_number else "charge" if charge_reference else None,
                 object_id=order_number or charge_reference, after={"reference": reference, "message": message[:500]})
    return True


def outbox_gave_up(message: OutboxMessage, error: str) -> None:
    """The outbox gave up on work for the payment provider (`gave_up` of its payment handlers): staff must
    settle it by hand."""
    payload = message.payload
    record("outbox_failed", message.key, f"{message.kind} failed after {message.attempts} attempts: {error}",
           order_number=payload.get("order_number"), charge_reference=payload.get("charge_reference"),
           amount_cents=payload.get("amount_cents"))


def open_count() -> int:
    return db.session.scalar(select(func.count()).select_from(PaymentIssue)
                             .where(PaymentIssue.resolved_at.is_(None))) or 0


def listing(state: str = "open", page: int = 1, per_page: int = 25) -> paging.Page:
    """Issues newest first, each with its order number and charge reference: rows of (issue, number, reference)."""
    stmt = (select(PaymentIssue, Order.number, Charge.reference)
            .outerjoin(Order, Order.id == PaymentIssue.order_id)
            .outerjoin(Charge, Charge.id == PaymentIssue.charge_id))
    if state == "open":
        stmt = stmt.where(PaymentIssue.resolved_at.is_(None))
    elif state == "resolved":
        stmt = stmt.where(PaymentIssue.resolved_at.is_not(None))
    return paging.paginate(stmt.order_by(PaymentIssue.created_at.desc(), PaymentIssue.id.desc()), page, per_page,
                           scalars=False)


def resolve(issue_id: int, *, actor: User, note: str, ip: str | None = None) -> PaymentIssue:
    """Mark an issue handled, with what was done. Once: a second resolve is refused."""
    note = " ".join((note or "").split())
    if not note:
        raise IssueError("Say what was done about it.")
    if len(note) > 300:
        raise IssueError("Keep the note under 300 characters.")
    issue = db.session.get(PaymentIssue, issue_id)
    if issue is None:
        raise IssueError("No such issue.")
    if not dml.changed(update(PaymentIssue)
                       .where(PaymentIssue.id == issue_id, PaymentIssue.resolved_at.is_(None))
                       .values(resolved_at=utcnow(), resolved_by_id=actor.id, resolution=note)
                       .execution_options(synchronize_session=False)):
        raise IssueError("This issue was already resolved.")
    db.session.refresh(issue)
    audit.record("payment.issue_resolved", actor_id=actor.id, object_type="payment_issue", object_id=issue.id, ip=ip,
                 after={"kind": issue.kind, "reference": issue.reference, "resolution": note})
    return issue
