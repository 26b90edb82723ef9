"""API: your rentals (list, renew, "I've sent it back") and holds (place, see your place in the queue, pause and
resume, "not needed after", cancel).

The rules are services.circulation.rentals, .loans and .holds, as on /account/rentals and /account/holds: a loan
starts when the order is delivered or collected; a rental is renewed once, by its own length, while the book is
with you and nobody waits for it; "sent back" stops late fees that day; a hold is placed on an out-of-stock book
only, once, within the plan's "books at once". PATCH /holds/{id} pauses a waiting hold (it keeps its place in the
queue but is skipped when copies are set aside) until a date or until resumed, resumes it (a free copy is set
aside at once), and sets or clears the last day it is wanted (services.circulation.hold_dates)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..extensions import db
from ..models import Hold, Rental
from ..services.circulation import hold_dates, loans
from ..services.circulation import holds as hold_service
from ..services.circulation import rentals as rental_service
from .auth import current_user, own, token_required
from .catalog import book_on_sale
from .errors import fail, refusals
from .schemas import ApiSchema, Count, ErrorSchema, Id, Money, money

blp = Blueprint("api_circulation", __name__, url_prefix="/api/v1",
                description="Your rentals (renew) and holds (place, queue position, pause and resume, "
                                "not needed after, cancel).")


# ---- rentals ----

LOAN_STATES = ("Where the copy is: on_its_way (paid, not delivered or collected yet: the loan has not started), "
               "with_customer, sent_back (posted back, awaiting receipt: late fees stopped that day), returned "
               "or lost.")


class RentalSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    book_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"description": "active, returned or lost."})
    loan_state = ma.fields.String(required=True, metadata={"description": LOAN_STATES})
    starts_at = ma.fields.DateTime(required=True, allow_none=True,
                                   metadata={"description": "When it reached you; null while on its way."})
    due_at = ma.fields.DateTime(required=True, allow_none=True,
                                metadata={"description": "Null while on its way (the loan starts on delivery)."})
    sent_back_at = ma.fields.DateTime(required=True, allow_none=True,
                                      metadata={"description": "When you said you posted it back, or null."})
    returned_at = ma.fields.DateTime(required=True, allow_none=True)
    renewed = ma.fields.Boolean(required=True, metadata={"description": "A rental is renewed once at most."})
    renewable = ma.fields.Boolean(required=True, metadata={"description": "Whether POST .../renew would renew it "
                                                                          "now."})
    days_left = ma.fields.Integer(required=True, allow_none=True,
                                  metadata={"description": "Started days until due (0 once due); null while on its "
                                                           "way."})
    overdue_days = ma.fields.Integer(required=True)
    late_fee = Money(required=True, metadata={"description": "So far (charged at return once returned)."})
    fee_due = Money(required=True, metadata={"description": "Charged but not yet paid from the wallet."})


class RentalsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(RentalSchema), required=True,
                           metadata={"description": "Books out now first (by due date), then returned ones."})
    blocked_reason = ma.fields.String(required=True, allow_none=True,
                                      metadata={"description": "Why you cannot rent now (an overdue book or an "
                                                               "unpaid fee), or null."})


class RenewRentalSchema(ApiSchema):
    days = Count(1, 3650, metadata={"description": "Optional. A renewal always extends by the loan's own length; "
                                                   "if sent, it must be that length in days."})


def rental_out(rental: Rental) -> dict[str, Any]:
    active = rental.status == "active"
    return {"id": rental.id, "book_id": rental.book_id, "title": rental.book.title, "status": rental.status,
            "loan_state": rental_service.loan_state(rental), "starts_at": rental.starts_at, "due_at": rental.due_at,
            "sent_back_at": rental.sent_back_at, "returned_at": rental.returned_at, "renewed": rental.renewed,
            "renewable": active and rental_service.renewal_problem(rental) is None,
            "days_left": rental_service.days_left(rental) if active else 0,
            "overdue_days": rental_service.overdue_days(rental),
            "late_fee": money(rental_service.accrued_fee_cents(rental)), "fee_due": money(rental.fee_due_cents)}


@blp.get("/rentals")
@token_required()
@blp.response(200, RentalsSchema)
def list_rentals() -> dict[str, Any]:
    """Your rentals: due dates, days left and late fees; and whether you may rent now."""
    user = current_user()
    active, past = rental_service.for_user(user)
    return {"items": [rental_out(r) for r in [*active, *past]],
            "blocked_reason": rental_service.rental_block_reason(user)}


@blp.post("/rentals/<int:rental_id>/renew")
@token_required()
@blp.arguments(RenewRentalSchema)
@blp.response(200, RentalSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such rental among yours.")
@blp.alt_response(409, schema=ErrorSchema, description="Not renewable (code renewal_refused): still on its way, "
                                                       "sent back, already renewed, returned, overdue, or another "
                                                       "reader is waiting.")
def renew_rental(data: dict[str, Any], rental_id: int) -> dict[str, Any]:
    """Renew a rental once, by its original length, while the book is with you, not overdue, and nobody waits
    for it."""
    rental = own(Rental, rental_id, "That rental")
    length = rental_service.renewal_length(rental)
    if "days" in data and not rental.renewed and timedelta(days=data["days"]) != length:
        fail(422, "validation_failed", "A renewal extends a rental by its own length.",
             {"days": [f"A renewal adds the loan's own length: {length.days} days."]})
    with refusals(rental_service.RentalError, code="renewal_refused"):
        rental_service.renew(rental, current_user())
    db.session.commit()
    return rental_out(rental)


@blp.post("/rentals/<int:rental_id>/sent-back")
@token_required()
@blp.response(200, RentalSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such rental among yours.")
@blp.alt_response(409, schema=ErrorSchema, description="Refused (code sent_back_refused): the book has not "
                                                       "reached you yet, you already said so, or it has ended.")
def sent_back_rental(rental_id: int) -> dict[str, Any]:
    """Tell us you have posted the book back (to the return address on your rentals page): late fees stop
    counting today; it stays active, "sent back", until the shop receives it."""
    rental = own(Rental, rental_id, "That rental")
    with refusals(rental_service.RentalError, code="sent_back_refused"):
        loans.mark_sent_back(rental, current_user())
    db.session.commit()
    return rental_out(rental)


# ---- holds ----

class HoldSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    book_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.String(required=True,
                              metadata={"description": "waiting, ready (a copy is set aside for you), fulfilled, "
                                                       "cancelled or expired."})
    position = ma.fields.Integer(required=True, allow_none=True,
                                 metadata={"description": "Your place in the book's queue (1: next), while waiting."})
    created_at = ma.fields.DateTime(required=True, metadata={"description": "When you joined the queue."})
    ready_until = ma.fields.DateTime(required=True, allow_none=True,
                                     metadata={"description": "While ready: collect it (check out) before then."})
    suspended = ma.fields.Boolean(required=True,
                                  metadata={"description": "Paused: keeps its place in the queue, skipped when a copy "
                                                           "is set aside."})
    suspended_until = ma.fields.Date(required=True, allow_none=True,
                                     metadata={"description": "While paused: the day it resumes by itself (null: "
                                                              "until you resume it)."})
    not_needed_after = ma.fields.Date(required=True, allow_none=True,
                                      metadata={"description": "The last day you want the book: a hold still waiting "
                                                               "at the end of that day (UTC) closes by itself."})


class HoldsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(HoldSchema), required=True,
                           metadata={"description": "Open holds first (ready, then by position), then recent "
                                                    "closed ones."})


class PlaceHoldSchema(ApiSchema):
    book_id = Id(required=True)


class HoldPatchSchema(ApiSchema):
    suspended = ma.fields.Boolean(metadata={"description": "true: pause the waiting hold (until `suspended_until`, "
                                                           "else until you resume it); false: resume it."})
    suspended_until = ma.fields.Date(allow_none=True,
                                     metadata={"description": "With suspended true: the day it resumes by itself "
                                                              "(tomorrow at the earliest, at most 180 days ahead)."})
    not_needed_after = ma.fields.Date(allow_none=True,
                                      metadata={"description": "The last day you want the book (today at the "
                                                               "earliest, at most 365 days ahead); null clears it."})


def hold_out(hold: Hold, position: int | None) -> dict[str, Any]:
    waiting = hold.is_waiting
    return {"id": hold.id, "book_id": hold.book_id, "title": hold.book.title, "status": hold.status,
            "position": position, "created_at": hold.queued_at,
            "ready_until": hold.expires_at if hold.is_ready else None,
            "suspended": waiting and hold.is_suspended,
            "suspended_until": hold.suspended_until.date() if waiting and hold.suspended_until else None,
            "not_needed_after": hold.not_needed_after.date() if hold.not_needed_after else None}


@blp.get("/holds")
@token_required()
@blp.response(200, HoldsSchema)
def list_holds() -> dict[str, Any]:
    """Your holds, with your place in each queue."""
    open_holds, closed = hold_service.for_user(current_user().id)
    return {"items": [hold_out(h, pos) for h, pos in open_holds] + [hold_out(h, None) for h in closed]}


@blp.post("/holds")
@token_required()
@blp.arguments(PlaceHoldSchema)
@blp.response(201, HoldSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such book in the shop.")
@blp.alt_response(409, schema=ErrorSchema, description="Refused (code hold_refused): the book is in stock, you "
                                                       "already hold it, your plan's limit is reached, or your "
                                                       "email address is not confirmed.")
def place_hold(data: dict[str, Any]) -> dict[str, Any]:
    """Join an out-of-stock book's queue (a copy that is back already is set aside for you at once)."""
    book = book_on_sale(data["book_id"])
    with refusals(hold_service.HoldError, code="hold_refused"):
        hold = hold_service.place(current_user(), book)
    db.session.commit()
    return hold_out(hold, hold_service.position(hold))


@blp.get("/holds/<int:hold_id>")
@token_required()
@blp.response(200, HoldSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such hold among yours.")
def get_hold(hold_id: int) -> dict[str, Any]:
    """One of your holds, with your place in the queue."""
    hold = own(Hold, hold_id, "That hold")
    return hold_out(hold, hold_service.position(hold))


@blp.patch("/holds/<int:hold_id>")
@token_required()
@blp.arguments(HoldPatchSchema)
@blp.response(200, HoldSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such hold among yours.")
@blp.alt_response(409, schema=ErrorSchema, description="Refused (code hold_refused): the hold is not waiting (a copy "
                                                       "is set aside for you, or it is closed). suspended: false on a "
                                                       "hold that is not paused changes nothing.")
def patch_hold(data: dict[str, Any], hold_id: int) -> dict[str, Any]:
    """Pause or resume a waiting hold, and set or clear its "not needed after" day. All or nothing: a resume
    comes first, then the date, then a pause (so any order of dates that is valid at the end is accepted)."""
    hold = own(Hold, hold_id, "That hold")
    user = current_user()
    suspended = data.get("suspended")
    if "suspended_until" in data and suspended is not True:
        fail(422, "validation_failed", "suspended_until goes with suspended: true.",
             {"suspended_until": ["Send it with suspended: true (a pause until that day)."]})
    with refusals(hold_service.HoldError, code="hold_refused"):
        if suspended is False and hold.is_suspended:
            hold_dates.resume(hold, user)
        if "not_needed_after" in data:
            hold_dates.set_not_needed_after(hold, user, data["not_needed_after"])
        if suspended is True:
            hold_dates.suspend(hold, user, data.get("suspended_until"))
    db.session.commit()
    return hold_out(hold, hold_service.position(hold))


@blp.delete("/holds/<int:hold_id>")
@token_required()
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema, description="No such hold among yours.")
@blp.alt_response(409, schema=ErrorSchema, description="The hold is already closed (code hold_refused).")
def cancel_hold(hold_id: int) -> None:
    """Leave the queue, or give up a copy set aside for you (it goes to the next reader). No body, as every
    DELETE of the API but the cart's (GET /holds/{id} shows it cancelled)."""
    hold = own(Hold, hold_id, "That hold")
    with refusals(hold_service.HoldError, code="hold_refused"):
        hold_service.cancel(hold, current_user())
    db.session.commit()
