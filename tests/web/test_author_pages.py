"""The author area (/author): who gets in, each author's own figures only, the profile form (Goodreads link,
photo, bank details kept encrypted and masked) and the public author page it feeds."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select, text

from tests import checkout_helpers as ch
from webapp.extensions import db
from webapp.models import AuditLog, Author, Order
from webapp.services.platform import crypto, uploads


def _png(size=(300, 300)) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def _linked(auth, app, username: str, author_name: str, role: str = "author"):
    """An account linked to an author profile, and a client signed in as it."""
    user = auth.user(username, role=role)
    author = db.session.scalar(select(Author).where(Author.name == author_name))
    if author is None:
        author = Author(name=author_name, slug=re.sub(r"\W+", "-", author_name.lower()))
        db.session.add(author)
    author.user_id = user.id
    db.session.commit()
    client = app.test_client()
    assert auth.login(username, client=client).status_code == 303
    return client, author


def _post(auth, client, url, data, **kwargs):
    data = dict(data)
    data["csrf_token"] = auth.csrf(client)
    return client.post(url, data=data, **kwargs)


def _profile(**changes):
    data = {"bio": "", "city": "", "goodreads_url": "", "bank_account": ""}
    data.update(changes)
    return data


# ---- who gets in --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/author", "/author/profile"])
def test_signed_out_visitors_are_sent_to_sign_in(client, path):
    r = client.get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


@pytest.mark.parametrize("path", ["/author", "/author/profile", "/author?period=30d"])
def test_customers_and_admins_without_an_author_profile_get_403(app, auth, admin_client, path):
    auth.user("plain_reader")
    reader = app.test_client()
    auth.login("plain_reader", client=reader)
    assert reader.get(path).status_code == 403
    assert admin_client.get(path).status_code == 403
    assert _post(auth, reader, "/author/profile/bank/remove", {}).status_code == 403


def test_an_author_account_not_linked_yet_gets_a_friendly_page(app, auth):
    auth.user("waiting_writer", role="author")
    client = app.test_client()
    auth.login("waiting_writer", client=client)
    for path in ("/author", "/author/profile"):
        r = client.get(path)
        body = r.get_data(as_text=True)
        assert r.status_code == 200 and "has not linked it to your author profile yet" in body
    assert 'href="/author"' in body  # the navigation offers the author dashboard to author accounts


# ---- the dashboard: own figures only ------------------------------------------------------------------------------

def _figure(body: str, name: str) -> str:
    return re.search(rf'data-testid="{name}">([^<]+)<', body).group(1)


def test_each_author_sees_exactly_their_own_figures_and_no_one_elses(app, auth, make_book, run_jobs):
    alpha = make_book("Alpha Tales", authors=("Anna Author",), price_cents=1500, on_hand=10)
    beta = make_book("Beta Stories", authors=("Ben Writer",), price_cents=2000, on_hand=10)
    order = ch.start(ch.shopper("buyer_one"), [(alpha, 2, "buy", 3), (beta, 1, "buy", 3)])
    ch.pay(order)
    rental = ch.start(ch.shopper("buyer_two"), [(beta, 1, "rent", 3)])
    ch.pay(rental)
    run_jobs()
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == db.session.get(Order, rental.id).status == "paid"
    rent_cents = db.session.get(Order, rental.id).lines[0].line_cents

    anna, anna_author = _linked(auth, app, "anna_a", "Anna Author")
    ben, ben_author = _linked(auth, app, "ben_w", "Ben Writer")

    body = anna.get("/author").get_data(as_text=True)
    assert (_figure(body, "total-sold"), _figure(body, "total-rented"), _figure(body, "total-revenue")) == \
        ("2", "0", "$30.00")
    assert "Alpha Tales" in body and "Beta Stories" not in body and "<svg" in body
    assert "count in full for every author" in body  # the attribution rule is stated on the page

    body = ben.get("/author").get_data(as_text=True)
    assert (_figure(body, "total-sold"), _figure(body, "total-rented"), _figure(body, "total-revenue")) == \
        ("1", "1", f"${(2000 + rent_cents) / 100:,.2f}")
    assert "Beta Stories" in body and "Alpha Tales" not in body

    # no parameter reaches another author's figures
    for query in (f"?author_id={ben_author.id}", f"?author={ben_author.id}", f"?user_id={ben_author.user_id}"):
        body = anna.get("/author" + query).get_data(as_text=True)
        assert "Beta Stories" not in body and _figure(body, "total-sold") == "2"

    r = anna.get("/author?period=30d", headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in body and "HX-Request" in r.headers["Vary"]
    assert _figure(body, "total-sold") == "2" and "Daily figures" in body
    assert r.headers["Cache-Control"] == "no-store"
    assert anna.get("/author?period=bogus").status_code == 200


# ---- the profile form -----------------------------------------------------------------------------------------------

@pytest.fixture
def writer(app, auth):
    return _linked(auth, app, "wren_w", "Lia Wren")


def test_profile_saves_and_the_public_page_shows_it_escaped(app, auth, writer, make_book):
    client, author = writer
    make_book("Dragon Tide", authors=("Lia Wren",))
    make_book("Hidden Draft", authors=("Lia Wren",), active=False)
    r = _post(auth, client, "/author/profile", _profile(
        bio='Writes <b>dragons</b> & "tides".\n\nSecond paragraph <script>alert(1)</script>', city="Bristol",
        goodreads_url="https://www.goodreads.com/author/show/123.Lia_Wren?a=1&b=2"))
    assert r.status_code == 303 and r.headers["Location"].endswith("/author/profile")
    db.session.expire_all()
    assert db.session.get(Author, author.id).city == "Bristol"
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "author.profile_updated"))
    assert entry.object_id == str(author.id) and entry.after["city"] == "Bristol"

    body = client.get(f"/authors/{author.id}").get_data(as_text=True)
    assert "Writes &lt;b&gt;dragons&lt;/b&gt; &amp; &#34;tides&#34;." in body and "<script>alert" not in body
    assert body.count("<p>Writes") == 1 and "<p>Second paragraph" in body
    assert "Lives in Bristol" in body
    link = re.search(r'<a href="([^"]+)" rel="noopener nofollow" data-testid="goodreads-link">', body)
    assert link and link.group(1) == "https://www.goodreads.com/author/show/123.Lia_Wren?a=1&amp;b=2"
    assert 'data-testid="author-photo-placeholder"' in body
    assert "Dragon Tide" in body and "Hidden Draft" not in body  # active books only


@pytest.mark.parametrize("url", ["http://www.goodreads.com/author/show/1", "https://example.com/author/show/1",
                                 "javascript:alert(1)", "https://goodreads.com.evil.example/author/show/1"])
def test_bad_goodreads_links_are_refused_on_the_form(auth, writer, url):
    client, author = writer
    r = _post(auth, client, "/author/profile", _profile(city="Leeds", goodreads_url=url))
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "goodreads.com" in body and 'class="error-text"' in body
    assert re.search(r'id="goodreads_url"[^>]*aria-invalid="true"', body) or \
        re.search(r'aria-invalid="true"[^>]*id="goodreads_url"', body)
    db.session.expire_all()
    assert db.session.get(Author, author.id).goodreads_url is None and db.session.get(Author, author.id).city is None


def test_bank_account_is_encrypted_masked_and_never_shown_or_prefilled(auth, writer):
    client, author = writer
    r = _post(auth, client, "/author/profile", _profile(bank_account="GB82 WEST 1234 5698 7654 32"))
    assert r.status_code == 303
    raw = db.session.execute(text("SELECT bank_account_encrypted FROM authors WHERE id = :id"),
                             {"id": author.id}).scalar_one()
    assert "98765432" not in raw and "WEST" not in raw and crypto.decrypt(raw) == "GB82WEST12345698765432"

    body = client.get("/author/profile").get_data(as_text=True)
    assert "•••• 5432" in body and "98765432" not in body and "WEST" not in body
    assert re.search(r'<input[^>]*id="bank_account"[^>]*value=""', body) or \
        re.search(r'<input[^>]*value=""[^>]*id="bank_account"', body)

    # an invalid number is refused and not echoed back; the stored one stays
    r = _post(auth, client, "/author/profile", _profile(bank_account="GB82 WEST 1234 5698 7654 99"))
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "That IBAN is not valid" in body and "7654 99" not in body
    # leaving it empty keeps the current number
    assert _post(auth, client, "/author/profile", _profile(city="Bath")).status_code == 303
    db.session.expire_all()
    assert db.session.get(Author, author.id).bank_account_last4 == "5432"

    dumped = str([(e.before, e.after) for e in db.session.scalars(select(AuditLog))])
    assert "changed" in dumped and "5698" not in dumped and "WEST" not in dumped

    assert client.post("/author/profile/bank/remove").status_code == 400  # CSRF on every POST
    r = _post(auth, client, "/author/profile/bank/remove", {})
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(Author, author.id).bank_account_encrypted is None
    assert "none on file" in client.get("/author/profile").get_data(as_text=True)


def test_photo_upload_refuses_non_images_and_replaces_the_old_photo(app, auth, writer):
    client, author = writer
    r = _post(auth, client, "/author/profile", _profile(photo=(io.BytesIO(b"%PDF-1.4 not an image"), "me.png")),
              content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "not an image we can read" in body
    db.session.expire_all()
    assert db.session.get(Author, author.id).photo_path is None

    assert _post(auth, client, "/author/profile", _profile(photo=(_png(), "me.png")),
                 content_type="multipart/form-data").status_code == 303
    db.session.expire_all()
    first = db.session.get(Author, author.id).photo_path
    with app.test_request_context():
        first_file = uploads.path_for(first, "full")
    assert first.startswith("authors/") and first_file.exists()
    body = client.get(f"/authors/{author.id}").get_data(as_text=True)
    assert 'data-testid="author-photo"' in body and f"/media/authors/{first[8:]}-full.jpg" in body
    with client.get(f"/media/authors/{first[8:]}-thumb.jpg") as media:
        assert media.status_code == 200

    assert _post(auth, client, "/author/profile", _profile(photo=(_png((400, 200)), "new.png")),
                 content_type="multipart/form-data").status_code == 303
    db.session.expire_all()
    second = db.session.get(Author, author.id).photo_path
    assert second != first and not first_file.exists()  # the old photo is deleted once replaced

    assert _post(auth, client, "/author/profile", _profile(remove_photo="y")).status_code == 303
    db.session.expire_all()
    assert db.session.get(Author, author.id).photo_path is None
    with app.test_request_context():
        assert not uploads.path_for(second, "full").exists()


def test_the_author_cannot_change_the_name(auth, writer):
    client, author = writer
    assert _post(auth, client, "/author/profile", _profile(name="Someone Else", city="Leeds")).status_code == 303
    db.session.expire_all()
    assert db.session.get(Author, author.id).name == "Lia Wren"


def test_control_characters_are_dropped_not_a_server_error(auth, writer):
    client, author = writer
    assert _post(auth, client, "/author/profile", _profile(bio="Line one\r\nline\x1b two\x07", city="Le\x0beds"))\
        .status_code == 303
    # NUL never reaches a form: the app answers 400 for it everywhere (webapp/security.py)
    assert _post(auth, client, "/author/profile", _profile(bio="x\x00")).status_code == 400
    db.session.expire_all()
    found = db.session.get(Author, author.id)
    assert (found.bio, found.city) == ("Line one\nline two", "Leeds")


def test_an_admin_linked_to_an_author_profile_sees_only_that_profile(app, auth, make_book):
    make_book("Admin's Own Book", authors=("Staff Writer",))
    make_book("Someone Else's Book", authors=("Other Writer",))
    client, _ = _linked(auth, app, "staff_w", "Staff Writer", role="admin")
    body = client.get("/author").get_data(as_text=True)
    assert "Admin&#39;s Own Book" in body and "Someone Else" not in body


@pytest.mark.parametrize("period", ["12m", "30d"])
def test_an_author_with_no_sales_sees_an_empty_state_not_axes_of_zeros(app, auth, make_book, period):
    client, _author = _linked(auth, app, "quiet_writer", "Quiet Writer")
    make_book("Unsold", authors=("Quiet Writer",))
    html = client.get(f"/author?period={period}").text
    assert 'data-testid="no-sales"' in html and "None of your books was sold or rented in this period" in html
    assert ">No copies sold or rented in this period<" in html and ">No revenue in this period<" in html
    ticks = re.findall(r'text-anchor="end"[^>]*>([^<]+)</text>', html)  # the value axes' labels
    assert ticks == ["0", "1", "$0", "$1"], ticks  # distinct, never "0 0 0 0"
