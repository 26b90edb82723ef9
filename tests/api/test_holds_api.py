"""API: PATCH /api/v1/holds/{id} pauses and resumes a waiting hold and sets or clears "not needed after"; holds
show suspended / suspended_until / not_needed_after. Bad dates are 422 on their field, a hold that is not waiting
409 hold_refused, another reader's hold 404."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.api.conftest import assert_error
from webapp.models import Hold, User, utcnow
from webapp.services.circulation import holds
from webapp.services.inventory import stock


@pytest.fixture
def held(app, auth, customer_api, db, make_book):
    """reader1 and then 'other' hold a sold-out book; returns (book, reader1's hold id, other's hold id)."""
    book = make_book("Api Held", on_hand=0)
    mine = customer_api.post("/api/v1/holds", json={"book_id": book.id}).get_json()
    other = auth.user("other")
    theirs = holds.place(other, book)
    db.session.commit()
    return book, mine["id"], theirs.id


def _row(db, hold_id):
    db.session.expire_all()
    return db.session.get(Hold, hold_id)


def test_a_new_hold_shows_the_new_fields(customer_api, held):
    _book, mine, _theirs = held
    body = customer_api.get(f"/api/v1/holds/{mine}").get_json()
    assert (body["suspended"], body["suspended_until"], body["not_needed_after"]) == (False, None, None)


def test_pause_resume_and_dates(customer_api, db, held):
    book, mine, theirs = held
    r = customer_api.patch(f"/api/v1/holds/{mine}", json={"suspended": True})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["suspended"] is True and body["suspended_until"] is None and body["position"] == 1
    until = (utcnow().date() + timedelta(days=7)).isoformat()
    last = (utcnow().date() + timedelta(days=30)).isoformat()
    body = customer_api.patch(f"/api/v1/holds/{mine}", json={"suspended": True, "suspended_until": until,
                                                             "not_needed_after": last}).get_json()
    assert (body["suspended"], body["suspended_until"], body["not_needed_after"]) == (True, until, last)
    stock.adjust(book.id, 1, "restock")  # skips the paused hold
    db.session.commit()
    assert _row(db, theirs).status == "ready" and _row(db, mine).status == "waiting"
    body = customer_api.patch(f"/api/v1/holds/{mine}", json={"suspended": False, "not_needed_after": None}).get_json()
    assert (body["suspended"], body["suspended_until"], body["not_needed_after"]) == (False, None, None)
    assert customer_api.get("/api/v1/holds").get_json()["items"][0]["suspended"] is False


def test_resume_serves_a_free_copy_at_once(customer_api, db, held, auth):
    book, mine, theirs = held
    customer_api.patch(f"/api/v1/holds/{mine}", json={"suspended": True})
    holds.cancel(_row(db, theirs), db.session.scalar(select(User).where(User.username == "other")))
    stock.adjust(book.id, 1, "restock")
    db.session.commit()
    body = customer_api.patch(f"/api/v1/holds/{mine}", json={"suspended": False}).get_json()
    assert body["status"] == "ready" and body["ready_until"] is not None and body["suspended"] is False
    error = assert_error(customer_api.patch(f"/api/v1/holds/{mine}", json={"suspended": True}), 409, "hold_refused")
    assert "already set aside" in error["message"]


def test_bad_dates_are_422_on_their_field(customer_api, db, held):
    _book, mine, _theirs = held
    today = utcnow().date()
    error = assert_error(customer_api.patch(f"/api/v1/holds/{mine}", json={
        "suspended": True, "suspended_until": today.isoformat()}), 422, "validation_failed")
    assert error["fields"] == {"suspended_until": ["Choose a date after today."]}
    error = assert_error(customer_api.patch(f"/api/v1/holds/{mine}", json={
        "not_needed_after": (today + timedelta(days=400)).isoformat()}), 422, "validation_failed")
    assert list(error["fields"]) == ["not_needed_after"] and "at most 365 days" in error["message"]
    error = assert_error(customer_api.patch(f"/api/v1/holds/{mine}", json={
        "suspended_until": (today + timedelta(days=3)).isoformat()}), 422, "validation_failed")
    assert list(error["fields"]) == ["suspended_until"]
    assert_error(customer_api.patch(f"/api/v1/holds/{mine}", json={"suspended": "yes please"}), 422)
    assert_error(customer_api.patch(f"/api/v1/holds/{mine}", json={"paused": True}), 422)
    row = _row(db, mine)
    assert not row.is_suspended and row.not_needed_after is None  # all or nothing


def test_all_or_nothing_when_one_part_is_refused(customer_api, db, held):
    _book, mine, _theirs = held
    today = utcnow().date()
    error = assert_error(customer_api.patch(f"/api/v1/holds/{mine}", json={
        "not_needed_after": (today + timedelta(days=5)).isoformat(), "suspended": True,
        "suspended_until": (today + timedelta(days=9)).isoformat()}), 422, "validation_failed")
    assert list(error["fields"]) == ["suspended_until"]
    assert _row(db, mine).not_needed_after is None  # the date set first was rolled back


def test_another_readers_hold_is_not_found_and_a_token_is_needed(app, api, customer_api, db, held):
    _book, _mine, theirs = held
    assert_error(customer_api.patch(f"/api/v1/holds/{theirs}", json={"suspended": True}), 404, "not_found")
    assert not _row(db, theirs).is_suspended
    assert api.patch(f"/api/v1/holds/{theirs}", json={"suspended": True}).status_code == 401
