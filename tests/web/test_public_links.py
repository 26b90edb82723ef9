"""Links that leave the site come from PUBLIC_URL, never from the request's Host (issue 12, finding 1).

The suite's PUBLIC_URL is http://shop.test; requests here claim to be for evil.example, directly and through
X-Forwarded-Host / X-Forwarded-Proto, and nothing they cause may name evil.example.
"""
import re

import pytest
from sqlalchemy import select

from tests.conftest import ADMIN_TOTP
from webapp.models import GatewaySession, Order, OutboundEmail

FORGED = [{"Host": "evil.example"},
          {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Forwarded": "host=evil.example"},
          {"Host": "evil.example:8443", "X-Forwarded-Host": "evil.example", "X-Forwarded-Port": "8443"}]


def forged_client(app, headers):
    """A client whose every request carries `headers`: the attacker's own browser session, start to end (the
    test client keys cookies by the Host it sends, as a browser would)."""
    client = app.test_client()
    plain_open = client.open

    def open_(*args, **kwargs):
        kwargs["headers"] = {**headers, **(kwargs.get("headers") or {})}
        return plain_open(*args, **kwargs)

    client.open = open_
    return client


def _mailed_links(db) -> list[str]:
    bodies = db.session.scalars(select(OutboundEmail.body_text)).all()
    return [link for body in bodies for link in re.findall(r"https?://\S+", body)]


@pytest.mark.parametrize("headers", FORGED)
def test_password_reset_link_ignores_the_host_header(app, client, auth, db, run_jobs, headers):
    auth.user("reader1")
    r = auth.post("/password/forgot", {"email": "reader1@example.com"}, client=forged_client(app, headers))
    assert r.status_code == 303
    run_jobs()
    links = _mailed_links(db)
    assert len(links) == 1 and links[0].startswith("http://shop.test/password/reset/"), links
    assert client.get(links[0].removeprefix("http://shop.test")).status_code == 200  # and it works


@pytest.mark.parametrize("headers", FORGED[:2])
def test_staff_forced_reset_link_ignores_the_host_header(app, auth, db, run_jobs, headers):
    target = auth.user("compromised")
    admin = forged_client(app, headers)
    auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
    assert auth.login("boss", client=admin, totp_secret=ADMIN_TOTP).status_code == 303
    r = auth.post(f"/admin/users/{target.id}/force-password-reset", client=admin)
    assert r.status_code in (302, 303)
    run_jobs()
    links = _mailed_links(db)
    assert len(links) == 1 and links[0].startswith("http://shop.test/password/reset/"), links


@pytest.mark.parametrize("headers", FORGED[:2])
def test_checkout_return_urls_given_to_the_provider_ignore_the_host_header(app, auth, db, make_book, headers):
    book = make_book("Forged Host", on_hand=3, price_cents=1500)
    client = forged_client(app, headers)
    auth.user("buyer")
    auth.login("buyer", client=client)
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"}, client=client)
    r = auth.post("/checkout", {"address_id": "new", "full_name": "Ann Reader", "line1": "1 Main St",
                                "city": "Springfield", "postcode": "12345", "country": "US"}, client=client)
    assert r.status_code == 303 and "/pay/test/cs_test_" in r.headers["Location"]
    session = db.session.scalars(select(GatewaySession)).one()
    number = db.session.scalars(select(Order.number)).one()
    assert session.success_url == f"http://shop.test/checkout/success/{number}"
    assert session.cancel_url == f"http://shop.test/checkout/cancelled/{number}"


@pytest.mark.parametrize("headers", FORGED[:2])
def test_wallet_top_up_return_urls_ignore_the_host_header(app, auth, db, headers):
    client = forged_client(app, headers)
    auth.user("topper")
    auth.login("topper", client=client)
    r = auth.post("/account/wallet/top-up", {"amount": "25.00"}, client=client)
    assert r.status_code == 303 and "/pay/test/" in r.headers["Location"]
    session = db.session.scalars(select(GatewaySession)).one()
    assert re.fullmatch(r"http://shop\.test/account/payments/CH-\S+", session.success_url), session.success_url
    assert session.cancel_url == "http://shop.test/account/wallet"


def test_public_url_helper_needs_no_request(app, monkeypatch):
    """The helper in a request for another host and with no request at all (a worker, a CLI command)."""
    from webapp.links import public_url

    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert public_url("checkout.success", number="FO-1") == "http://shop.test/checkout/success/FO-1"
    with app.app_context():
        assert public_url("auth.reset_password", token="abc.DEF-_1") == "http://shop.test/password/reset/abc.DEF-_1"
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://Shop.Example.com:8443/store/")
    with app.app_context():
        assert public_url("account.wallet") == "https://shop.example.com:8443/store/account/wallet"


def test_canonical_link_uses_the_public_url(app, make_book):
    book = make_book("Canonical", on_hand=1)
    page = forged_client(app, {"Host": "evil.example"}).get(f"/books/{book.id}", follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "evil.example" not in html
    assert re.search(r'<link rel="canonical" href="http://shop\.test/books/\d+/', html)
