"""API: GET/PATCH /me and the address book: real rows, ownership (another's address is a 404), validation."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.api.conftest import ApiClient, assert_error
from webapp.models import Address, Subscription, User
from webapp.services.circulation import wallet

ADDRESS = {"full_name": "Ann Reader", "line1": "1 Main Street", "city": "Springfield", "postcode": "12345",
           "country": "us"}


def _signed_in(app, auth, username):
    auth.user(username)
    client = ApiClient(app)
    assert client.sign_in(username).status_code == 200
    return client


def test_me_shows_the_account_wallet_and_plan(customer_api, db):
    user = db.session.scalar(select(User).where(User.username == "reader1"))
    wallet.credit(user.id, 1234, "top_up", reference="t1")
    db.session.add(Subscription(user_id=user.id, tier="plus"))
    db.session.commit()
    r = customer_api.get("/api/v1/me")
    assert r.status_code == 200
    body = r.get_json()
    assert body["id"] == user.id and body["username"] == "reader1" and body["email"] == "reader1@example.com"
    assert body["wallet"] == {"cents": 1234, "currency": "USD"}
    assert body["plan"] == "plus" and body["role"] == "customer"
    assert body["email_verified"] is True and body["two_factor"] is False and body["full_name"] is None


def test_me_needs_a_token(api):
    assert_error(api.get("/api/v1/me"), 401, "unauthorized")
    assert_error(api.get("/api/v1/me/addresses"), 401)


def test_patch_me_changes_the_name_and_refuses_bad_input(customer_api, db):
    r = customer_api.patch("/api/v1/me", json={"full_name": "  Ann Reader  "})
    assert r.status_code == 200 and r.get_json()["full_name"] == "Ann Reader"
    db.session.expire_all()
    assert db.session.scalar(select(User.full_name).where(User.username == "reader1")) == "Ann Reader"
    error = assert_error(customer_api.patch("/api/v1/me", json={"full_name": "x" * 121}), 422, "validation_failed")
    assert "full_name" in error["fields"]
    assert_error(customer_api.patch("/api/v1/me", json={"email": "new@example.com"}), 422, "validation_failed")
    r = customer_api.patch("/api/v1/me", json={"full_name": None})
    assert r.status_code == 200 and r.get_json()["full_name"] is None


def test_addresses_create_list_delete(customer_api, db):
    r = customer_api.post("/api/v1/me/addresses", json=ADDRESS)
    assert r.status_code == 201, r.get_json()
    first = r.get_json()
    assert first["country"] == "US" and first["is_default"] is True and first["line2"] is None
    r = customer_api.post("/api/v1/me/addresses", json={**ADDRESS, "line1": "2 Side Road", "line2": "Flat 3",
                                                          "is_default": True})
    second = r.get_json()
    assert r.status_code == 201 and second["is_default"] is True
    listed = customer_api.get("/api/v1/me/addresses").get_json()
    assert [a["id"] for a in listed] == [first["id"], second["id"]]
    assert [a["is_default"] for a in listed] == [False, True]
    assert customer_api.delete(f"/api/v1/me/addresses/{second['id']}").status_code == 204
    db.session.expire_all()
    rows = db.session.scalars(select(Address)).all()
    assert [a.id for a in rows] == [first["id"]] and rows[0].is_default  # the default passes on


@pytest.mark.parametrize("change, field", [
    ({"postcode": "12<345"}, "postcode"), ({"country": "USA"}, "country"), ({"full_name": "   "}, "full_name"),
    ({"city": ""}, "city"), ({"phone": "call me"}, "phone"), ({"line1": "x" * 201}, "line1"),
    ({"nickname": "home"}, "nickname"), ({"country": "EU"}, "country"), ({"country": "GB", "postcode": "12345"}, "postcode"),
])
def test_address_validation(customer_api, db, change, field):
    error = assert_error(customer_api.post("/api/v1/me/addresses", json={**ADDRESS, **change}), 422,
                         "validation_failed")
    assert field in error["fields"]
    assert db.session.scalars(select(Address)).all() == []


def test_address_postcode_rule_is_the_websites(customer_api):
    error = assert_error(customer_api.post("/api/v1/me/addresses", json={**ADDRESS, "country": "gb", "postcode": "1"}),
                         422, "validation_failed")
    assert error["fields"]["postcode"] == ["That doesn’t look like a UK postcode, e.g. EC1Y 8SY."]
    r = customer_api.post("/api/v1/me/addresses", json={**ADDRESS, "country": "gb", "postcode": "sw1a 1aa"})
    assert r.status_code == 201 and r.get_json()["country"] == "GB"


def test_address_missing_fields(customer_api):
    error = assert_error(customer_api.post("/api/v1/me/addresses", json={}), 422, "validation_failed")
    assert {"full_name", "line1", "city", "postcode", "country"} <= set(error["fields"])


def test_another_users_address_is_not_found(app, auth, customer_api, db):
    other = _signed_in(app, auth, "other")
    theirs = other.post("/api/v1/me/addresses", json=ADDRESS).get_json()
    assert_error(customer_api.delete(f"/api/v1/me/addresses/{theirs['id']}"), 404, "not_found")
    assert_error(customer_api.delete("/api/v1/me/addresses/999999"), 404, "not_found")
    assert customer_api.get("/api/v1/me/addresses").get_json() == []
    assert db.session.get(Address, theirs["id"]) is not None
