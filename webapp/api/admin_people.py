"""API: Staff: users, holds and rentals. Accounts (search, one account, role and deactivation, ending a user's API
tokens), the holds lists and the rentals lists, and taking a rented copy back.

The rules are services.people.staff's (which also keeps staff from changing or deactivating their own account,
and audits every change) and services.circulation's (a return puts the copy back through the stock ledger, where
the holds queue gets it first, and charges any late fee to the wallet)."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..clients import client_ip
from ..extensions import db
from ..models import ROLES, Hold, Rental, User
from ..models.types import DB_INT_MAX
from ..services.circulation import holds as hold_service
from ..services.circulation import rentals as rental_service
from ..services.people import sessions, staff
from ..services.people.accounts import AccountError
from .admin_orders import StaffPageArgs, StaffPageInfoSchema, no_items_past_the_end, page_info, page_number
from .auth import current_user, token_required
from .circulation import LOAN_STATES
from .errors import not_found, refusals
from .schemas import ApiSchema, ErrorSchema, Money, Text, money

blp = Blueprint("api_admin_people", __name__, url_prefix="/api/v1", description="Staff: users, holds and rentals.")


# ---- schemas ----

class UserListArgs(StaffPageArgs):
    q = Text(100, load_default="", metadata={"description": "Part of the username, email or full name."})
    role = ma.fields.String(load_default="", validate=ma.validate.OneOf(["", *ROLES]))
    status = ma.fields.String(load_default="", validate=ma.validate.OneOf(["", *staff.STATUSES]))


class UserChangeSchema(ApiSchema):
    role = ma.fields.String(validate=ma.validate.OneOf(list(ROLES)))
    active = ma.fields.Boolean(truthy={True}, falsy={False}, metadata={"description": "false: deactivate (signed out everywhere); "
                                                                     "true: reactivate."})

    @ma.validates_schema
    def validate_not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ma.ValidationError("Send `role`, `active` or both.")


class AdminUserSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    full_name = ma.fields.String(required=True, allow_none=True)
    role = ma.fields.String(required=True)
    active = ma.fields.Boolean(required=True, metadata={"description": "false: deactivated (or deleted)."})
    deleted = ma.fields.Boolean(required=True)
    email_verified = ma.fields.Boolean(required=True)
    two_factor = ma.fields.Boolean(required=True)
    created_at = ma.fields.DateTime(required=True)
    last_login_at = ma.fields.DateTime(required=True, allow_none=True)


class UserListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminUserSchema), required=True)
    page = ma.fields.Nested(StaffPageInfoSchema, required=True)


class UserSessionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "'web' (a browser) or 'api' (a token)."})
    device = ma.fields.String(required=True)
    client_name = ma.fields.String(required=True, allow_none=True)
    ip = ma.fields.String(required=True, allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    last_seen_at = ma.fields.DateTime(required=True)


class AdminUserDetailSchema(AdminUserSchema):
    wallet = Money(required=True)
    sessions = ma.fields.List(ma.fields.Nested(UserSessionSchema), required=True,
                              metadata={"description": "Where the account is signed in now."})


class RevokedSchema(ma.Schema):
    revoked = ma.fields.Integer(required=True, metadata={"description": "How many token families ended."})


class HoldListArgs(StaffPageArgs):
    view = ma.fields.String(load_default="ready", validate=ma.validate.OneOf(list(hold_service.ADMIN_VIEWS)),
                            metadata={"description": "ready (copies set aside), waiting (queues) or closed."})


class AdminHoldSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    book_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    user_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    plan = ma.fields.String(required=True, metadata={"description": "The plan the hold queues for (priority)."})
    position = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "In the queue, while "
                                                                                          "waiting."})
    queued_at = ma.fields.DateTime(required=True)
    ready_until = ma.fields.DateTime(required=True, allow_none=True)
    closed_at = ma.fields.DateTime(required=True, allow_none=True)
    suspended = ma.fields.Boolean(required=True, metadata={"description": "Paused by the customer: it keeps its "
                                                                          "place but no copy is set aside for it."})
    suspended_until = ma.fields.DateTime(required=True, allow_none=True,
                                         metadata={"description": "When a paused hold resumes by itself (null: "
                                                                  "when the customer resumes it)."})
    not_needed_after = ma.fields.DateTime(required=True, allow_none=True,
                                          metadata={"description": "A waiting hold closes itself after this."})
    fee = Money(required=True, metadata={"description": "No-show fee."})


class HoldListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminHoldSchema), required=True)
    page = ma.fields.Nested(StaffPageInfoSchema, required=True)


class RentalListArgs(StaffPageArgs):
    view = ma.fields.String(load_default="active", validate=ma.validate.OneOf(list(rental_service.ADMIN_VIEWS)),
                            metadata={"description": "active (out now), on_its_way (loan not started), due_soon, "
                                                     "overdue (not sent back), sent_back (awaiting receipt), returned or lost "
                                                     "(never came back: charged its replacement price)."})


class AdminRentalSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    book_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    user_id = ma.fields.Integer(required=True, allow_none=True)
    status = ma.fields.String(required=True, metadata={"description": "active, returned or lost."})
    loan_state = ma.fields.String(required=True, metadata={"description": LOAN_STATES})
    starts_at = ma.fields.DateTime(required=True, allow_none=True,
                                   metadata={"description": "Delivered or collected; null while on its way."})
    due_at = ma.fields.DateTime(required=True, allow_none=True, metadata={"description": "Null while on its way."})
    sent_back_at = ma.fields.DateTime(required=True, allow_none=True,
                                      metadata={"description": "When the customer said they posted it back."})
    returned_at = ma.fields.DateTime(required=True, allow_none=True)
    lost_at = ma.fields.DateTime(required=True, allow_none=True,
                                 metadata={"description": "When it was counted as lost (never came back)."})
    renewed = ma.fields.Boolean(required=True)
    overdue_days = ma.fields.Integer(required=True)
    late_fee = Money(required=True, metadata={"description": "So far (while out), or charged at the return; once "
                                                             "lost, the replacement price."})
    replacement = Money(required=True, metadata={"description": "The replacement price charged when it was counted "
                                                                "as lost (0 otherwise)."})
    fee_due = Money(required=True, metadata={"description": "What is still owed on it: the fee less what was paid "
                                                            "and what staff waived."})


class RentalListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminRentalSchema), required=True)
    page = ma.fields.Nested(StaffPageInfoSchema, required=True)


class ReturnedSchema(ma.Schema):
    rental = ma.fields.Nested(AdminRentalSchema, required=True)
    late_fee = Money(required=True)
    fee_paid_from_wallet = Money(required=True)
    fee_due = Money(required=True)
    to_hold_queue = ma.fields.Boolean(required=True, metadata={"description": "true: the copy was set aside for "
                                                                              "the next reader in the holds queue."})


# ---- bodies ----

def _user(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "email": user.email, "full_name": user.full_name,
            "role": user.role, "active": user.is_active, "deleted": user.deleted_at is not None,
            "email_verified": user.is_verified, "two_factor": user.has_2fa, "created_at": user.created_at,
            "last_login_at": user.last_login_at}


def _user_detail(user_id: int) -> dict[str, Any]:
    db.session.expire_all()
    user = _find_user(user_id)
    body = _user(user)
    body["wallet"] = money(user.wallet_balance_cents)
    body["sessions"] = [{"id": s.id, "kind": s.kind, "device": sessions.device(s.user_agent),
                         "client_name": s.client_name, "ip": s.ip, "created_at": s.created_at,
                         "last_seen_at": s.last_seen_at} for s in sessions.active(user.id)]
    return body


def _find_user(user_id: int) -> User:
    found = db.session.get(User, user_id) if user_id <= DB_INT_MAX else None
    if found is None:
        not_found("That user")
    return found


def _hold(hold: Hold, positions: dict[int, int]) -> dict[str, Any]:
    return {"id": hold.id, "book_id": hold.book_id, "title": hold.book.title, "user_id": hold.user_id,
            "status": hold.status, "plan": hold.queue_tier.value, "position": positions.get(hold.id),
            "queued_at": hold.queued_at, "ready_until": hold.expires_at if hold.is_ready else None,
            "closed_at": hold.closed_at, "suspended": hold.is_suspended, "suspended_until": hold.suspended_until,
            "not_needed_after": hold.not_needed_after, "fee": money(hold.fee_cents)}


def _rental(rental: Rental) -> dict[str, Any]:
    return {"id": rental.id, "book_id": rental.book_id, "title": rental.book.title, "user_id": rental.user_id,
            "status": rental.status, "loan_state": rental_service.loan_state(rental), "starts_at": rental.starts_at,
            "due_at": rental.due_at, "sent_back_at": rental.sent_back_at, "returned_at": rental.returned_at,
            "lost_at": rental.lost_at, "renewed": rental.renewed,
            "overdue_days": rental_service.overdue_days(rental),
            "late_fee": money(rental_service.accrued_fee_cents(rental)), "replacement": money(rental.replacement_cents),
            "fee_due": money(rental.fee_due_cents)}


USER_NOT_FOUND = {"description": "No user has that id.", "schema": ErrorSchema}


# ---- users ----

@blp.get("/admin/users")
@token_required("admin")
@blp.arguments(UserListArgs, location="query")
@blp.response(200, UserListSchema)
def list_users(args: dict[str, Any]) -> dict[str, Any]:
    """Accounts, newest first, filtered as on the admin panel (search, role, status)."""
    page = page_number(args["cursor"])
    result = staff.list_users(q=args["q"], role=args["role"], status=args["status"], page=page,
                              per_page=args["limit"])
    return {"items": [_user(u) for u in no_items_past_the_end(result, page)], "page": page_info(result, args["limit"])}


@blp.get("/admin/users/<int:user_id>")
@token_required("admin")
@blp.response(200, AdminUserDetailSchema)
@blp.alt_response(404, **USER_NOT_FOUND)
def get_user(user_id: int) -> dict[str, Any]:
    """One account: role, status, wallet and where it is signed in (browsers and API tokens)."""
    return _user_detail(user_id)


@blp.patch("/admin/users/<int:user_id>")
@token_required("admin")
@blp.arguments(UserChangeSchema)
@blp.response(200, AdminUserDetailSchema)
@blp.alt_response(404, **USER_NOT_FOUND)
@blp.alt_response(409, description="Refused: your own account, or a deleted one (conflict).", schema=ErrorSchema)
def change_user(data: dict[str, Any], user_id: int) -> dict[str, Any]:
    """Change the role and/or deactivate or reactivate an account (deactivating signs it out everywhere, API
    tokens included). Audited. You cannot change or deactivate your own account."""
    user = _find_user(user_id)
    with refusals(AccountError, invalid=()):
        if "role" in data:
            staff.change_role(current_user(), user, data["role"], ip=client_ip())
        if "active" in data:
            staff.set_active(current_user(), user, data["active"], ip=client_ip())
    db.session.commit()
    return _user_detail(user_id)


@blp.post("/admin/users/<int:user_id>/revoke-tokens")
@token_required("admin")
@blp.response(200, RevokedSchema)
@blp.alt_response(404, **USER_NOT_FOUND)
def revoke_tokens(user_id: int) -> dict[str, Any]:
    """End every API token of the user: their access and refresh tokens are refused from the next request.
    Browsers stay signed in. Audited."""
    revoked = staff.revoke_api_tokens(current_user(), _find_user(user_id), ip=client_ip())
    db.session.commit()
    return {"revoked": revoked}


# ---- holds and rentals ----

@blp.get("/admin/holds")
@token_required("admin")
@blp.arguments(HoldListArgs, location="query")
@blp.response(200, HoldListSchema)
def list_holds(args: dict[str, Any]) -> dict[str, Any]:
    """Holds as on the admin panel: copies set aside (by pick-up deadline), queues (in serving order) or
    closed holds (newest first)."""
    page = page_number(args["cursor"])
    result = hold_service.admin_list(args["view"], page, per_page=args["limit"])
    items = no_items_past_the_end(result, page)
    where = hold_service.positions(items)
    return {"items": [_hold(h, where) for h in items], "page": page_info(result, args["limit"])}


@blp.get("/admin/rentals")
@token_required("admin")
@blp.arguments(RentalListArgs, location="query")
@blp.response(200, RentalListSchema)
def list_rentals(args: dict[str, Any]) -> dict[str, Any]:
    """Rentals as on the admin panel: out now, on their way, due soon, overdue or sent back (by due date), or
    returned or lost (newest first)."""
    page = page_number(args["cursor"])
    result = rental_service.admin_list(args["view"], page, per_page=args["limit"])
    return {"items": [_rental(r) for r in no_items_past_the_end(result, page)],
            "page": page_info(result, args["limit"])}


@blp.post("/admin/rentals/<int:rental_id>/return")
@token_required("admin")
@blp.response(200, ReturnedSchema)
@blp.alt_response(404, description="No rental has that id.", schema=ErrorSchema)
@blp.alt_response(409, description="The rental was already returned (conflict).", schema=ErrorSchema)
def return_rental(rental_id: int) -> dict[str, Any]:
    """Take a rented copy back: it returns through the stock ledger (to the next reader in the holds queue
    first) and a late fee is charged to the customer's wallet, the rest kept as a balance due. Audited."""
    rental = db.session.get(Rental, rental_id) if rental_id <= DB_INT_MAX else None
    if rental is None:
        not_found("That rental")
    waiting = hold_service.queue_length(rental.book_id) > 0
    with refusals(rental_service.RentalError):
        fee = rental_service.mark_returned(rental, actor=current_user(), ip=client_ip())
    db.session.commit()
    db.session.refresh(rental)
    return {"rental": _rental(rental), "late_fee": money(fee), "fee_paid_from_wallet": money(rental.fee_paid_cents),
            "fee_due": money(rental.fee_due_cents), "to_hold_queue": waiting}
