import re

import pyotp
import pytest
from sqlalchemy import select

from tests.conftest import ADMIN_TOTP, PASSWORD
from webapp.models import LoginEvent, OutboundEmail, User
from webapp.services.people import accounts


def test_register_validates_every_field_inline_and_on_submit(client, auth):
    auth.user("taken_name", email="taken@example.com")
    data = {"username": "TAKEN_NAME", "email": "TAKEN@example.com", "password": "password123",
            "confirm": "different"}
    r = auth.post("/register", data)
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    for message in ["That username is taken.", "too common", "The passwords do not match."]:
        assert message in body
    assert "already exists" not in body  # whether an email has an account is never said (test_register_privacy)
    # the htmx inline endpoint answers with just the field's message
    r = auth.post("/register/validate/username", {"username": "x"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "3 to 30" in r.get_data(as_text=True) and "<html" not in r.get_data(as_text=True)
    r = auth.post("/register/validate/password", {"password": "violet kettle uphill sonnet", "username": "ann"})
    assert "Strength" in r.get_data(as_text=True)


def test_register_verify_flow(client, auth, db, run_jobs):
    r = auth.post("/register", {"username": "newreader", "email": "New.Reader@Example.com",
                                "password": PASSWORD, "confirm": PASSWORD})
    assert r.status_code == 303 and r.headers["Location"].endswith("/register/confirm")
    assert client.get("/account").status_code == 302  # not signed in until the code is entered
    run_jobs()
    message = db.session.scalars(select(OutboundEmail)).one()
    assert message.recipient == "new.reader@example.com" and message.status == "outbox"
    code = re.search(r"\b(\d{6})\b", message.body_text).group(1)
    assert "new.reader@example.com" in client.get("/register/confirm").get_data(as_text=True)
    r = auth.post("/register/confirm", {"code": code})
    assert r.status_code == 303 and r.headers["Location"].endswith("/account")
    assert db.session.scalar(select(User.email_verified_at).where(User.username == "newreader")) is not None
    assert client.get("/account").status_code == 200  # signed in now


def test_post_without_csrf_token_is_rejected(client, auth):
    auth.user("reader1")
    r = client.post("/login", data={"login": "reader1", "password": PASSWORD})
    assert r.status_code == 400
    r = client.post("/logout")
    assert r.status_code == 400


def test_login_logout_and_generic_error(client, auth, db):
    auth.user("reader1")
    r = auth.login("reader1", "wrong password!!")
    wrong_user = auth.login("nobody_here", "wrong password!!")
    generic = "That username/email and password do not match an active account."
    assert generic in r.get_data(as_text=True) and generic in wrong_user.get_data(as_text=True)
    r = auth.login("READER1@example.com")
    assert r.status_code == 303
    assert "reader1" in client.get("/account").get_data(as_text=True)
    events = db.session.scalars(select(LoginEvent.success).order_by(LoginEvent.id)).all()
    assert events == [False, True]
    auth.logout()
    assert client.get("/account").status_code == 302


def test_session_is_rotated_at_login(client, auth):
    auth.user("reader1")
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "attacker-known"
    auth.login("reader1")
    with client.session_transaction() as sess:
        assert "planted" not in sess and "_user_id" in sess


def test_brute_force_is_throttled_per_account(app, client, auth):
    auth.user("victim")
    for _ in range(5):
        assert auth.login("victim", "not the password!").status_code == 200
    r = auth.login("victim", PASSWORD)
    assert r.status_code == 429
    assert re.search(r"try again in \d+ minutes?", r.get_data(as_text=True))
    # another account from the same client is not locked by the per-account limit
    auth.user("other_user")
    assert auth.login("other_user").status_code == 303


def test_brute_force_is_throttled_per_ip(app, client, auth):
    for i in range(30):
        auth.login(f"nobody{i}", "not the password!")
    r = auth.login("nobody_else", "not the password!")
    assert r.status_code == 429


def test_two_factor_login_with_totp_and_recovery_code(app, client, auth, db):
    auth.user("reader1")
    auth.login("reader1")
    html = client.get("/account/2fa/setup").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html).group(1)
    assert 'src="data:image/svg+xml;base64,' in html
    with client.session_transaction() as sess:
        assert secret not in str(dict(sess))  # the pending secret is encrypted in the cookie
    r = auth.post("/account/2fa/setup", {"code": pyotp.TOTP(secret).now()})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", r.get_data(as_text=True))
    assert len(codes) == 10
    with client.session_transaction() as sess:
        assert not any(code in str(dict(sess)) for code in codes)
    assert "data-testid=\"recovery-codes\"" not in client.get("/account/security").get_data(as_text=True)  # shown once
    auth.logout()

    r = auth.login("reader1")
    assert r.status_code == 303 and "/login/2fa" in r.headers["Location"]
    assert client.get("/account").status_code == 302  # not signed in yet
    assert auth.post("/login/2fa", {"code": "000000"}).status_code == 200
    r = auth.post("/login/2fa", {"code": codes[0]})
    assert r.status_code == 303
    assert client.get("/account").status_code == 200
    auth.logout()
    auth.login("reader1")
    assert auth.post("/login/2fa", {"code": codes[0]}).status_code == 200  # used already


def test_password_change_signs_out_other_sessions(app, client, auth):
    auth.user("reader1")
    other = app.test_client()
    auth.login("reader1")
    auth.login("reader1", client=other)
    assert other.get("/account").status_code == 200
    r = auth.post("/account/password", {"current_password": PASSWORD, "password": "a fresh passphrase 77",
                                        "confirm": "a fresh passphrase 77"})
    assert r.status_code == 303
    assert client.get("/account").status_code == 200  # this session stays
    assert other.get("/account").status_code == 302  # the other one is gone


def test_password_reset_by_email_link(app, client, auth, db, run_jobs):
    auth.user("reader1")
    r = auth.post("/password/forgot", {"email": "reader1@example.com"})
    assert r.status_code == 303
    unknown = auth.post("/password/forgot", {"email": "ghost@example.com"})
    assert unknown.status_code == 303  # same answer: no account enumeration
    run_jobs()
    body = db.session.scalars(select(OutboundEmail.body_text)).one()
    link = re.search(r"http://shop\.test(/password/reset/\S+)", body).group(1)
    r = auth.post(link, {"password": "the new passphrase 5", "confirm": "the new passphrase 5"})
    assert r.status_code == 303
    assert auth.login("reader1", "the new passphrase 5").status_code == 303
    auth.logout()
    r = client.get(link)
    assert r.status_code == 302  # single use


def test_user_fields_with_markup_are_escaped(client, auth, admin_client):
    user = auth.user("plainuser")
    auth.login("plainuser")
    auth.post("/account", {"full_name": '<script>alert("x")</script>'})
    body = client.get("/account").get_data(as_text=True)
    assert '<script>alert("x")</script>' not in body and "&lt;script&gt;" in body
    admin_body = admin_client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "<script>alert" not in admin_body and "&lt;script&gt;" in admin_body


def test_open_redirects_are_refused(client, auth):
    auth.user("reader1")
    r = auth.post("/login?next=https://evil.example/", {"login": "reader1", "password": PASSWORD})
    assert r.status_code == 303 and "evil" not in r.headers["Location"]


def test_admin_without_2fa_is_sent_to_set_it_up(client, auth):
    auth.user("newadmin", role="admin")
    auth.login("newadmin")
    r = client.get("/admin/users")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/2fa/setup")


def test_admin_with_2fa_needs_the_second_factor(client, auth):
    auth.user("boss2", role="admin", totp_secret=ADMIN_TOTP)
    r = auth.login("boss2")
    assert "/login/2fa" in r.headers["Location"]
    assert client.get("/admin/users").status_code == 302


@pytest.mark.parametrize("login_as", ["anonymous", "customer", "author", "admin_without_2fa"])
def test_every_admin_url_is_refused_to_non_admins(app, client, auth, login_as):
    target = auth.user("target_user")
    if login_as != "anonymous":
        auth.user("someone", role="admin" if login_as == "admin_without_2fa" else login_as)
        auth.login("someone")
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin")]
    assert len(rules) >= 40  # users, orders, rentals, holds, books, imports, discounts, authors, reports, audit
    for rule in rules:
        url = re.sub(r"<int:[a-z_]+>", str(target.id), rule.rule)  # any id: the role check comes first
        url = re.sub(r"<any\(([a-z_]+)[^)]*\):[a-z_]+>", r"\1", url)  # the first allowed value
        url = re.sub(r"<[a-z_]+>", "FO-TEST", url)
        assert "<" not in url, rule.rule
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": auth.csrf()} if method == "POST" else None
            r = client.open(url, method=method, data=data)
            expected = (302,) if login_as in ("anonymous", "admin_without_2fa") else (403,)
            assert r.status_code in expected, (rule.rule, method, r.status_code)
            if login_as == "anonymous":
                assert "/login" in r.headers["Location"]
            elif login_as == "admin_without_2fa":
                assert r.headers["Location"].endswith("/account/2fa/setup")


def test_users_cannot_touch_each_others_addresses(client, auth, db):
    ann = auth.user("ann_user")
    accounts.save_address(ann, {"full_name": "Ann", "line1": "1 Secret Lane", "city": "X", "postcode": "1",
                                "country": "GB"})
    db.session.commit()
    address_id = ann.addresses[0].id
    auth.user("bob_user")
    auth.login("bob_user")
    assert "Secret Lane" not in client.get("/account/addresses").get_data(as_text=True)
    assert client.get(f"/account/addresses/{address_id}/edit").status_code == 404
    assert auth.post(f"/account/addresses/{address_id}/edit", {"full_name": "Bob", "line1": "x", "city": "y",
                                                               "postcode": "1", "country": "GB"}).status_code == 404
    assert auth.post(f"/account/addresses/{address_id}/delete").status_code == 404
    db.session.expire_all()
    assert db.session.get(User, ann.id).addresses[0].line1 == "1 Secret Lane"


def test_addresses_crud(client, auth):
    auth.user("reader1")
    auth.login("reader1")
    r = auth.post("/account/addresses/new", {"full_name": "Ann", "line1": "1 Main St", "city": "Leeds",
                                             "postcode": "LS1 1AA", "country": "gb"})
    assert r.status_code == 303
    body = client.get("/account/addresses").get_data(as_text=True)
    assert "1 Main St" in body and "GB" in body and "default" in body
    r = auth.post("/account/addresses/new", {"full_name": "", "line1": "", "city": "", "postcode": "$$",
                                             "country": "Britain"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "This field is required." in body and "Choose a country from the list." in body


def test_delete_account_flow(client, auth, db):
    user = auth.user("leaving")
    auth.login("leaving")
    r = auth.post("/account/delete", {"password": PASSWORD})
    assert r.status_code == 200 and "Tick the box" in r.get_data(as_text=True)
    r = auth.post("/account/delete", {"password": PASSWORD, "confirm": "y"})
    assert r.status_code == 303
    assert client.get("/account").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).deleted_at is not None
    assert auth.login("leaving").status_code == 200


def test_resend_code_is_throttled_with_a_message(client, auth):
    auth.post("/register", {"username": "resender", "email": "resender@example.com", "password": PASSWORD,
                            "confirm": PASSWORD})
    r = auth.post("/register/confirm/resend")
    assert r.status_code == 303
    assert "Please wait" in client.get("/register/confirm").get_data(as_text=True)
