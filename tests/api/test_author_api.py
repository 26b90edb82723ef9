"""API: the author's own profile (bank details masked, encrypted, never echoed) and own sales figures; who gets in
(customers 403, an unlinked author 404 author_not_linked, an admin without a profile 403)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from tests import checkout_helpers as ch
from tests.api.conftest import ApiClient, assert_error
from webapp.models import AuditLog, Author
from webapp.services.platform import crypto

URLS = ["/api/v1/author/profile", "/api/v1/author/sales", "/api/v1/author/sales?period=30d"]


def _linked(app, auth, db, username: str, author_name: str, role: str = "author"):
    """An account linked to an author profile, and an API client signed in as it."""
    user = auth.user(username, role=role)
    author = db.session.scalar(select(Author).where(Author.name == author_name))
    if author is None:
        author = Author(name=author_name, slug=re.sub(r"\W+", "-", author_name.lower()))
        db.session.add(author)
    author.user_id = user.id
    db.session.commit()
    client = ApiClient(app)
    assert client.sign_in(username).status_code == 200
    return client, author


@pytest.fixture
def writer(app, auth, db):
    return _linked(app, auth, db, "wren_w", "Lia Wren")


# ---- who gets in ----

@pytest.mark.parametrize("url", URLS)
def test_customers_get_403_and_visitors_401(api, customer_api, url):
    assert_error(customer_api.get(url), 403, "forbidden")
    assert_error(api.get(url), 401)


def test_customers_cannot_patch_a_profile(customer_api):
    assert_error(customer_api.patch("/api/v1/author/profile", json={"city": "Leeds"}), 403, "forbidden")


@pytest.mark.parametrize("url", URLS)
def test_an_author_not_linked_yet_is_told_so(app, auth, url):
    auth.user("waiting_writer", role="author")
    client = ApiClient(app)
    client.sign_in("waiting_writer")
    error = assert_error(client.get(url), 404, "author_not_linked")
    assert "not linked" in error["message"]


@pytest.mark.parametrize("url", URLS)
def test_an_admin_without_a_profile_gets_403(admin_api, url):
    assert_error(admin_api.get(url), 403, "forbidden")


def test_an_admin_with_a_profile_gets_in(app, auth, db):
    client, author = _linked(app, auth, db, "staff_writer", "Staff Writer", role="admin")
    assert client.get("/api/v1/author/profile").get_json()["id"] == author.id


# ---- the profile ----

def test_profile_read_and_patch(writer, db):
    client, author = writer
    body = client.get("/api/v1/author/profile").get_json()
    assert body == {"id": author.id, "name": "Lia Wren", "slug": author.slug, "bio": None, "city": None,
                    "goodreads_url": None, "photo_url": None, "bank_account": None}
    r = client.patch("/api/v1/author/profile", json={
        "bio": "Writes <b>dragons</b>.\r\n\r\nSecond.", "city": "Bristol",
        "goodreads_url": "https://WWW.goodreads.com/author/show/123.Lia_Wren"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["city"] == "Bristol" and body["bio"] == "Writes <b>dragons</b>.\n\nSecond."
    assert body["goodreads_url"] == "https://www.goodreads.com/author/show/123.Lia_Wren"
    db.session.expire_all()
    assert db.session.get(Author, author.id).city == "Bristol"
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "author.profile_updated"))
    assert entry.object_id == str(author.id) and entry.after["city"] == "Bristol"

    # fields left out stay as they are; null clears
    r = client.patch("/api/v1/author/profile", json={"city": "Bath"})
    assert r.get_json()["bio"] == "Writes <b>dragons</b>.\n\nSecond." and r.get_json()["city"] == "Bath"
    r = client.patch("/api/v1/author/profile", json={"goodreads_url": None})
    assert r.get_json()["goodreads_url"] is None and r.get_json()["city"] == "Bath"


def test_the_name_is_the_shops(writer, db):
    client, author = writer
    error = assert_error(client.patch("/api/v1/author/profile", json={"name": "Someone Else"}), 422,
                         "validation_failed")
    assert "name" in error["fields"]
    db.session.expire_all()
    assert db.session.get(Author, author.id).name == "Lia Wren"


@pytest.mark.parametrize("url", ["http://www.goodreads.com/author/show/1", "https://example.com/author/show/1",
                                 "javascript:alert(1)", "https://goodreads.com.evil.example/author/show/1"])
def test_bad_goodreads_links_are_refused(writer, db, url):
    client, author = writer
    error = assert_error(client.patch("/api/v1/author/profile", json={"city": "Leeds", "goodreads_url": url}), 422,
                         "validation_failed")
    assert "goodreads.com" in error["fields"]["goodreads_url"][0]
    db.session.expire_all()
    assert db.session.get(Author, author.id).goodreads_url is None and db.session.get(Author, author.id).city is None


def test_too_long_fields_are_refused(writer):
    client, _ = writer
    for body, field in [({"bio": "x" * 2001}, "bio"), ({"city": "x" * 121}, "city"), ({"bank_account": "1" * 65},
                                                                                       "bank_account"),
                        ({"remove_photo": "maybe"}, "remove_photo")]:
        error = assert_error(client.patch("/api/v1/author/profile", json=body), 422, "validation_failed")
        assert field in error["fields"]


def test_bank_account_is_encrypted_masked_and_never_echoed(writer, db):
    client, author = writer
    r = client.patch("/api/v1/author/profile", json={"bank_account": "GB82 WEST 1234 5698 7654 32"})
    assert r.status_code == 200 and r.get_json()["bank_account"] == "•••• 5432"
    assert "98765432" not in r.get_data(as_text=True) and "WEST" not in r.get_data(as_text=True)
    raw = db.session.execute(text("SELECT bank_account_encrypted FROM authors WHERE id = :id"),
                             {"id": author.id}).scalar_one()
    assert "98765432" not in raw and crypto.decrypt(raw) == "GB82WEST12345698765432"
    r = client.get("/api/v1/author/profile")
    assert r.get_json()["bank_account"] == "•••• 5432" and "5698" not in r.get_data(as_text=True)

    # an invalid number is refused, not echoed back, and the stored one stays
    r = client.patch("/api/v1/author/profile", json={"bank_account": "GB82 WEST 1234 5698 7654 99"})
    error = assert_error(r, 422, "validation_failed")
    assert "IBAN is not valid" in error["fields"]["bank_account"][0] and "7654 99" not in r.get_data(as_text=True)
    # empty keeps the current number
    assert client.patch("/api/v1/author/profile", json={"bank_account": "", "city": "Bath"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Author, author.id).bank_account_last4 == "5432"
    dumped = str([(e.before, e.after) for e in db.session.scalars(select(AuditLog))])
    assert "5698" not in dumped and "WEST" not in dumped


# ---- the figures: own books only ----

def test_each_author_sees_exactly_their_own_figures(app, auth, db, make_book, run_jobs):
    alpha = make_book("Alpha Tales", authors=("Anna Author",), price_cents=1500, on_hand=10)
    beta = make_book("Beta Stories", authors=("Ben Writer",), price_cents=2000, on_hand=10)
    order = ch.start(ch.shopper("buyer_one"), [(alpha, 2, "buy", 3), (beta, 1, "buy", 3)])
    ch.pay(order)
    rental = ch.start(ch.shopper("buyer_two"), [(beta, 1, "rent", 3)])
    ch.pay(rental)
    run_jobs()
    run_jobs()
    db.session.expire_all()
    rent_cents = rental.lines[0].line_cents

    anna, _ = _linked(app, auth, db, "anna_a", "Anna Author")
    ben, ben_author = _linked(app, auth, db, "ben_w", "Ben Writer")

    body = anna.get("/api/v1/author/sales").get_json()
    assert body["period"] == "12m" and len(body["series"]) == 12
    assert body["totals"] == {"sold": 2, "rented": 0, "revenue": {"cents": 3000, "currency": "USD"}}
    assert [b["title"] for b in body["books"]] == ["Alpha Tales"]
    assert body["books"][0]["sold"] == 2 and body["books"][0]["available"] == 8
    assert body["series"][-1]["sold"] == 2 and sum(p["sold"] for p in body["series"]) == 2

    body = ben.get("/api/v1/author/sales?period=30d").get_json()
    assert body["period"] == "30d" and len(body["series"]) == 30 and body["period_label"].startswith("Last 30")
    assert body["totals"]["sold"] == 1 and body["totals"]["rented"] == 1
    assert body["totals"]["revenue"]["cents"] == 2000 + rent_cents
    assert [b["title"] for b in body["books"]] == ["Beta Stories"]

    # no parameter reaches another author's figures
    for query in (f"?author_id={ben_author.id}", f"?author={ben_author.id}", f"?user_id={ben_author.user_id}"):
        body = anna.get("/api/v1/author/sales" + query).get_json()
        assert [b["title"] for b in body["books"]] == ["Alpha Tales"] and body["totals"]["sold"] == 2


@pytest.mark.parametrize("period", ["bogus", "7d", "", "12M"])
def test_period_is_one_the_web_offers(writer, period):
    client, _ = writer
    error = assert_error(client.get("/api/v1/author/sales", query_string={"period": period}), 422,
                         "validation_failed")
    assert "period" in error["fields"]


def test_photo_url_on_the_public_address_and_remove_photo(writer, db):
    import io

    from PIL import Image

    from webapp.services.platform import uploads

    client, author = writer
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), (20, 120, 200)).save(buffer, "PNG")
    buffer.seek(0)
    author.photo_path = uploads.save_image(buffer, "authors")
    db.session.commit()
    stored = author.photo_path
    assert uploads.path_for(stored).exists()
    url = client.get("/api/v1/author/profile").get_json()["photo_url"]
    assert url.startswith("http://shop.test/media/authors/") and url.endswith("-full.jpg")
    r = client.patch("/api/v1/author/profile", json={"remove_photo": True})
    assert r.status_code == 200 and r.get_json()["photo_url"] is None
    db.session.expire_all()
    assert db.session.get(Author, author.id).photo_path is None
    assert not uploads.path_for(stored).exists()  # the file is gone too, after the commit
