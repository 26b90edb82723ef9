"""The API's tokens (webapp/api/tokens.py, services.people.api_tokens): sign-in (password, second factor),
refresh rotation and reuse, sign-out (this token family, one by id, everywhere), expiry and forged tokens,
what ends them from the website (password change, deactivation, staff, the security page), the sign-in rate
limit, CORS, and the error shape under /api for what no view answers (405, 404, a form body, a 500)."""
from __future__ import annotations

import base64
import copy
import json
import re
from datetime import timedelta

import jwt
import pyotp
import pytest
import time_machine
from sqlalchemy import func, select

from tests.api.conftest import ApiClient, assert_error
from tests.conftest import ADMIN_TOTP, PASSWORD, FreshContextClient, _Config
from webapp.models import AuditLog, LoginEvent, User, UserSession, utcnow
from webapp.services.people import twofactor

CLI_AGENT = "folio-cli/0.1 python-requests/2.32.3"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
NEW_PASSWORD = "another horse battery 77 staple"


# ---- helpers ----

def _sign_in(app, login="reader1", **extra) -> ApiClient:
    """A new API client (its own "device") signed in; fails the test if sign-in does not work."""
    client = ApiClient(app)
    r = client.sign_in(login, **extra)
    assert r.status_code == 200, r.get_json()
    return client


def _works(client: ApiClient) -> bool:
    """The client's access token is accepted (a 200 on a signed-in route), or refused as revoked."""
    r = client.get("/api/v1/auth/sessions")
    if r.status_code == 200:
        return True
    assert_error(r, 401)
    return False


def _refresh(app, refresh_token: str):
    return app.test_client().post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def _family(db, session_id: int) -> UserSession:
    db.session.expire_all()
    return db.session.get(UserSession, session_id)


def _browser(app, auth, login="reader1"):
    """A browser signed in through /login (a web session)."""
    browser = app.test_client()
    browser.environ_base["HTTP_USER_AGENT"] = FIREFOX
    assert auth.login(login, client=browser).status_code == 303
    assert _browser_signed_in(browser)
    return browser


def _browser_signed_in(browser) -> bool:
    return browser.get("/account").status_code == 200


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def fresh_app(app):
    """Build another app (same database and Redis) from a config class; the limiter is one object for every app
    in the process, so its state is put back afterwards (tests/web/test_i14_review.py does the same)."""
    from webapp import create_app
    from webapp.extensions import db, limiter

    saved = dict(vars(limiter))
    manager = limiter.limit_manager
    saved_manager = {k: ({key: copy.copy(v) for key, v in value.items()} if isinstance(value, dict) else value)
                     for k, value in vars(manager).items()}
    made = []

    def _make(config, before=None):
        other = create_app(config)
        other.test_client_class = FreshContextClient
        other.extensions["folio_redis"] = app.extensions["folio_redis"]
        if before:
            before(other)
        made.append(other)
        return other

    yield _make
    vars(limiter).clear()
    vars(limiter).update(saved)
    vars(manager).clear()
    vars(manager).update(saved_manager)
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


# ---- sign-in ----

@pytest.mark.parametrize("login", ["reader1", "reader1@example.com", "  READER1@Example.com "])
def test_sign_in_by_username_or_email_gives_a_working_token_family(app, auth, db, login):
    user = auth.user("reader1")
    client = ApiClient(app)
    client.client.environ_base["HTTP_USER_AGENT"] = CLI_AGENT
    r = client.sign_in(login, client_name="folio-cli")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "session_id"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    assert body["refresh_token"].startswith("frt_") and body["access_token"].count(".") == 2
    family = _family(db, body["session_id"])
    assert (family.kind, family.user_id, family.client_name, family.revoked_at) == ("api", user.id, "folio-cli", None)
    assert family.user_agent == CLI_AGENT
    # The token names the family and works; the list shows it as the current sign-in.
    listed = client.get("/api/v1/auth/sessions").get_json()
    assert [(s["id"], s["kind"], s["client_name"], s["current"]) for s in listed] == \
        [(body["session_id"], "api", "folio-cli", True)]
    event = db.session.scalars(select(LoginEvent).where(LoginEvent.user_id == user.id)).one()
    assert (event.success, event.method) == (True, "api")


def test_a_wrong_password_is_refused_and_recorded(app, auth, db, api):
    user = auth.user("reader1")
    err = assert_error(api.sign_in("reader1", password="not the password at all"), 401, "invalid_credentials")
    assert err["fields"] == {}
    unknown = assert_error(api.sign_in("nobody-here", password="not the password at all"), 401, "invalid_credentials")
    assert unknown["message"] == err["message"]  # the same words: no telling which accounts exist
    events = db.session.scalars(select(LoginEvent)).all()
    assert [(e.user_id, e.success, e.method) for e in events] == [(user.id, False, "api")]
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_a_deactivated_account_cannot_sign_in_and_its_tokens_are_refused_at_once(app, auth, db):
    user = auth.user("reader1")
    client = _sign_in(app)
    user.is_active_account = False  # the flag alone (no session ended): checked on every request
    db.session.commit()
    err = assert_error(client.get("/api/v1/auth/sessions"), 401, "token_revoked")
    assert err["message"]
    assert_error(_refresh(app, client.tokens["refresh_token"]), 401, "token_revoked")
    assert_error(ApiClient(app).sign_in("reader1"), 401, "invalid_credentials")


def test_staff_deactivation_on_the_website_ends_the_api_tokens(app, auth, db, admin_client):
    user = auth.user("reader1")
    client = _sign_in(app)
    assert auth.post(f"/admin/users/{user.id}/deactivate", client=admin_client).status_code == 303
    assert not _works(client)
    assert _family(db, client.tokens["session_id"]).revoked_reason == "deactivated"


# ---- second factor ----

@pytest.fixture
def two_factor_user(auth, db):
    """reader2fa, a customer with two-factor sign-in on; returns (user, its recovery codes)."""
    user = auth.user("reader2fa", totp_secret=ADMIN_TOTP)
    codes = twofactor.regenerate_recovery_codes(user)
    db.session.commit()
    return user, codes


def test_two_factor_sign_in(app, db, two_factor_user):
    user, _ = two_factor_user
    api = ApiClient(app)
    missing = assert_error(api.sign_in("reader2fa"), 401, "totp_required")
    assert list(missing["fields"]) == ["totp"]
    wrong_code = str((int(pyotp.TOTP(ADMIN_TOTP).now()) + 1) % 1_000_000).zfill(6)
    wrong = assert_error(api.sign_in("reader2fa", totp=wrong_code), 401, "invalid_totp")
    assert list(wrong["fields"]) == ["totp"]
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0  # no family for any of those
    # The right code gives tokens...
    with time_machine.travel(utcnow(), tick=False):
        code = pyotp.TOTP(ADMIN_TOTP).now()
        assert api.sign_in("reader2fa", totp=code).status_code == 200
        # ...and the same code (the same 30-second step) cannot be used again, even with the right password.
        assert_error(ApiClient(app).sign_in("reader2fa", totp=code), 401, "invalid_totp")
    assert _works(api)
    methods = db.session.execute(select(LoginEvent.success, LoginEvent.method).where(LoginEvent.user_id == user.id)
                                 .order_by(LoginEvent.id)).all()
    assert [tuple(m) for m in methods] == [(False, "api_totp"), (True, "api"), (False, "api_totp")]


def test_a_recovery_code_signs_in_once(app, db, two_factor_user):
    user, codes = two_factor_user
    left = twofactor.remaining_recovery_codes(user)
    assert _sign_in(app, "reader2fa", totp=codes[0]).tokens["access_token"]
    db.session.expire_all()
    assert twofactor.remaining_recovery_codes(user) == left - 1
    assert_error(ApiClient(app).sign_in("reader2fa", totp=codes[0]), 401, "invalid_totp")
    assert _sign_in(app, "reader2fa", totp=codes[1]).tokens  # another one still works


# ---- refresh rotation and reuse ----

def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(app, auth, db):
    auth.user("reader1")
    first = _sign_in(app)
    family = first.tokens["session_id"]
    seen_refresh, seen_access = {first.tokens["refresh_token"]}, {first.tokens["access_token"]}
    current = first.tokens
    for _ in range(2):
        r = _refresh(app, current["refresh_token"])
        assert r.status_code == 200, r.get_json()
        current = r.get_json()
        assert current["session_id"] == family  # the same family, listed once
        assert current["refresh_token"] not in seen_refresh and current["access_token"] not in seen_access
        seen_refresh.add(current["refresh_token"])
        seen_access.add(current["access_token"])
    newest = ApiClient(app)
    newest.tokens = current
    assert _works(newest)
    # The first refresh token again: someone else holds a copy. Refused, and the whole family ends.
    assert_error(_refresh(app, first.tokens["refresh_token"]), 401, "token_reused")
    assert_error(newest.get("/api/v1/auth/sessions"), 401, "token_revoked")  # the newest access token too
    assert_error(_refresh(app, current["refresh_token"]), 401, "token_revoked")  # and the newest refresh token
    row = _family(db, family)
    assert row.revoked_at is not None and row.revoked_reason == "refresh_token_reused"


def test_unknown_or_malformed_refresh_tokens_are_refused(app, api):
    assert_error(_refresh(app, "frt_" + "x" * 43), 401, "invalid_token")
    assert_error(_refresh(app, "not-a-refresh-token"), 401, "invalid_token")
    assert_error(_refresh(app, ""), 422, "validation_failed")


# ---- signing out ----

def test_logout_ends_this_family_only(app, auth, db):
    auth.user("reader1")
    laptop, phone = _sign_in(app), _sign_in(app)
    r = laptop.post("/api/v1/auth/logout")
    assert r.status_code == 204 and r.get_data() == b""
    assert_error(laptop.get("/api/v1/auth/sessions"), 401, "token_revoked")
    assert_error(_refresh(app, laptop.tokens["refresh_token"]), 401, "token_revoked")
    assert _works(phone)
    assert _family(db, laptop.tokens["session_id"]).revoked_reason == "signed_out"
    assert_error(laptop.post("/api/v1/auth/logout"), 401, "token_revoked")  # once is all


def test_logout_everywhere_ends_every_token_family_and_every_browser(app, auth, db):
    user = auth.user("reader1")
    other = auth.user("reader2")
    browser = _browser(app, auth)
    one, two = _sign_in(app), _sign_in(app)
    bystander = _sign_in(app, "reader2")
    assert one.post("/api/v1/auth/logout-everywhere").status_code == 204
    for client in (one, two):
        assert_error(client.get("/api/v1/auth/sessions"), 401, "token_revoked")
        assert_error(_refresh(app, client.tokens["refresh_token"]), 401, "token_revoked")
    assert not _browser_signed_in(browser)
    db.session.expire_all()
    live = db.session.scalars(select(UserSession).where(UserSession.revoked_at.is_(None))).all()
    assert [s.user_id for s in live] == [other.id]  # another account is untouched
    assert _works(bystander)
    assert user.id not in {s.user_id for s in live}


def test_ending_one_sign_in_by_id_and_never_another_users(app, auth, db):
    auth.user("reader1")
    auth.user("reader2")
    here, there = _sign_in(app), _sign_in(app)
    browser = _browser(app, auth)
    stranger = _sign_in(app, "reader2")
    ids = {s["id"]: s for s in here.get("/api/v1/auth/sessions").get_json()}
    assert set(ids) == {here.tokens["session_id"], there.tokens["session_id"],
                        db.session.scalar(select(UserSession.id).where(UserSession.kind == "web"))}
    assert {s["kind"] for s in ids.values()} == {"api", "web"}
    # Another user's sign-in: 404, and it stays live.
    assert_error(here.delete(f"/api/v1/auth/sessions/{stranger.tokens['session_id']}"), 404, "not_found")
    assert _works(stranger)
    assert_error(here.delete("/api/v1/auth/sessions/999999"), 404, "not_found")
    # Its own other sign-in ends; this one goes on.
    r = here.delete(f"/api/v1/auth/sessions/{there.tokens['session_id']}")
    assert r.status_code == 204
    assert not _works(there) and _works(here)
    assert_error(here.delete(f"/api/v1/auth/sessions/{there.tokens['session_id']}"), 404, "not_found")  # already
    # A browser session too, by its id.
    web_id = next(i for i, s in ids.items() if s["kind"] == "web")
    assert here.delete(f"/api/v1/auth/sessions/{web_id}").status_code == 204
    assert not _browser_signed_in(browser)


# ---- expired and forged access tokens ----

def test_an_expired_access_token_is_refused_and_the_refresh_token_still_works(app, auth):
    auth.user("reader1")
    client = _sign_in(app)
    with time_machine.travel(utcnow() + timedelta(minutes=14), tick=False):
        assert _works(client)
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):
        err = assert_error(client.get("/api/v1/auth/sessions"), 401, "token_expired")
        assert "refresh" in err["message"]
        r = _refresh(app, client.tokens["refresh_token"])
        assert r.status_code == 200
        client.tokens = r.get_json()
        assert _works(client)


def test_forged_access_tokens_are_refused(app, auth):
    user = auth.user("reader1")
    victim = auth.user("reader2")
    client = _sign_in(app)
    header, payload, signature = client.tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == str(user.id)
    forged = {
        "another user, same signature": f"{header}.{_b64({**claims, 'sub': str(victim.id)})}.{signature}",
        "a longer life, same signature": f"{header}.{_b64({**claims, 'exp': claims['exp'] + 86400})}.{signature}",
        "signed with another key": jwt.encode(claims, "guessed-secret-key-at-least-32-bytes!", algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg none, no dot": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}",
        "not a JWT": "hello",
        "a refresh token as access token": client.tokens["refresh_token"],
    }
    for what, token in forged.items():
        r = app.test_client().get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"})
        err = assert_error(r, 401, "invalid_token")
        assert err["message"], what
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), what
    # Not a bearer token at all; and no token.
    assert_error(app.test_client().get("/api/v1/auth/sessions", headers={"Authorization": "Basic cmVhZGVyMTp4"}),
                 401, "invalid_token")
    assert_error(app.test_client().get("/api/v1/auth/sessions"), 401, "unauthorized")
    assert _works(client)  # the real one still works


# ---- what ends tokens from the website ----

def test_a_password_change_on_the_website_ends_the_api_tokens(app, auth, db):
    auth.user("reader1")
    browser = _browser(app, auth)
    client = _sign_in(app)
    r = auth.post("/account/password", {"current_password": PASSWORD, "password": NEW_PASSWORD,
                                        "confirm": NEW_PASSWORD}, client=browser)
    assert r.status_code == 303
    assert_error(client.get("/api/v1/auth/sessions"), 401, "token_revoked")
    assert_error(_refresh(app, client.tokens["refresh_token"]), 401, "token_revoked")
    assert _browser_signed_in(browser)  # the browser that changed it stays in
    assert_error(ApiClient(app).sign_in("reader1"), 401, "invalid_credentials")
    assert _sign_in(app, password=NEW_PASSWORD).tokens


def test_staff_revoke_api_tokens_on_the_website_keeps_the_browsers(app, auth, db, admin_client):
    customer = auth.user("reader1")
    browser = _browser(app, auth)
    cli = ApiClient(app)
    cli.client.environ_base["HTTP_USER_AGENT"] = CLI_AGENT
    assert cli.sign_in("reader1", client_name="folio-cli").status_code == 200
    script = _sign_in(app)
    page = admin_client.get(f"/admin/users/{customer.id}/sessions").get_data(as_text=True)
    assert page.count('data-kind="api"') == 2 and page.count('data-kind="web"') == 1
    assert "folio-cli" in page and "Revoke API tokens" in page
    r = auth.post(f"/admin/users/{customer.id}/revoke-api-tokens", client=admin_client)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/admin/users/{customer.id}/sessions")
    assert "Revoked 2 API tokens" in admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert not _works(cli) and not _works(script)
    assert_error(_refresh(app, cli.tokens["refresh_token"]), 401, "token_revoked")
    assert _browser_signed_in(browser)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "user.api_tokens_revoked")).one()
    boss = db.session.scalar(select(User).where(User.username == "boss"))
    assert (entry.actor_id, entry.object_type, entry.object_id, entry.after) == \
        (boss.id, "user", str(customer.id), {"tokens_revoked": 2})
    assert _family(db, cli.tokens["session_id"]).revoked_reason == "revoked_by_staff"
    # Nothing left: the button is gone and a second post says so.
    page = admin_client.get(f"/admin/users/{customer.id}/sessions").get_data(as_text=True)
    assert "/revoke-api-tokens" not in page and 'data-kind="web"' in page
    r = auth.post(f"/admin/users/{customer.id}/revoke-api-tokens", client=admin_client)
    assert "no API tokens to revoke" in admin_client.get(r.headers["Location"]).get_data(as_text=True)


def test_revoking_api_tokens_needs_an_admin_and_a_csrf_token(app, auth, db, admin_client):
    customer = auth.user("reader1")
    client = _sign_in(app)
    browser = _browser(app, auth)
    r = auth.post(f"/admin/users/{customer.id}/revoke-api-tokens", client=browser)  # a customer
    assert r.status_code in (403, 404)
    r = admin_client.post(f"/admin/users/{customer.id}/revoke-api-tokens")  # no CSRF token
    assert r.status_code == 400
    assert _works(client)
    assert auth.post("/admin/users/999999/revoke-api-tokens", client=admin_client).status_code == 404


def test_the_security_page_lists_api_tokens_with_the_browsers_and_revokes_them(app, auth, db):
    auth.user("reader1")
    browser = _browser(app, auth)
    cli = ApiClient(app)
    cli.client.environ_base["HTTP_USER_AGENT"] = CLI_AGENT
    assert cli.sign_in("reader1", client_name="folio-cli").status_code == 200
    nameless = _sign_in(app)
    page = browser.get("/account/security").get_data(as_text=True)
    rows = re.findall(r'<li data-testid="device" data-kind="(\w+)">(.*?)</li>', page, re.S)
    assert sorted(kind for kind, _ in rows) == ["api", "api", "web"]
    cli_row = next(text for kind, text in rows if kind == "api" and "folio-cli" in text)
    assert "API token" in cli_row and "Revoke" in cli_row and "last used" in cli_row
    assert "<small>folio-cli</small>" in cli_row and "a script" not in cli_row  # its device is named (60d7638)
    web_row = next(text for kind, text in rows if kind == "web")
    assert "Browser" in web_row and "Firefox on Windows" in web_row and "this device" in web_row
    assert "API client" in next(text for kind, text in rows if kind == "api" and "folio-cli" not in text)
    assert "revokes every API token" in page and "Sign out all other devices and API tokens" in page
    # Revoke the folio-cli token from the page: refused at once, the browser and the other token go on.
    r = auth.post(f"/account/security/sessions/{cli.tokens['session_id']}/end", client=browser)
    assert r.status_code == 303 and r.headers["Location"].endswith("/account/security")
    assert "That API token is revoked." in browser.get("/account/security").get_data(as_text=True)
    assert not _works(cli) and _works(nameless) and _browser_signed_in(browser)
    # "Revoke all API tokens" ends the rest, and only those.
    r = auth.post("/account/security/revoke-api-tokens", client=browser)
    assert r.status_code == 303
    assert not _works(nameless) and _browser_signed_in(browser)
    page = browser.get("/account/security").get_data(as_text=True)
    assert 'data-kind="api"' not in page and "Revoke all API tokens" not in page


def test_sign_out_everywhere_on_the_website_revokes_the_api_tokens(app, auth):
    auth.user("reader1")
    browser = _browser(app, auth)
    client = _sign_in(app)
    other_browser = _browser(app, auth)
    auth.post("/account/security/sign-out-others", client=browser)
    assert not _works(client) and not _browser_signed_in(other_browser) and _browser_signed_in(browser)
    client = _sign_in(app)
    auth.post("/account/security/sign-out-everywhere", client=browser)
    assert not _works(client) and not _browser_signed_in(browser)


def test_a_customer_cannot_end_another_users_token_from_the_security_page(app, auth):
    auth.user("reader1")
    auth.user("reader2")
    browser = _browser(app, auth)
    stranger = _sign_in(app, "reader2")
    r = auth.post(f"/account/security/sessions/{stranger.tokens['session_id']}/end", client=browser)
    assert r.status_code == 303
    assert _works(stranger)


# ---- rate limit ----

def test_sign_in_attempts_past_the_limit_answer_429_with_retry_after(app, auth, db, api):
    auth.user("reader1")
    limit = int(app.config["API_SIGN_IN_LIMIT"].split()[0])
    for _ in range(limit):
        assert_error(api.sign_in("reader1", password="wrong password, again"), 401, "invalid_credentials")
    r = api.sign_in("reader1")  # even the right password, now
    err = assert_error(r, 429, "rate_limited")
    assert re.fullmatch(r"[1-9]\d*", r.headers["Retry-After"]), r.headers.get("Retry-After")
    assert int(r.headers["Retry-After"]) <= 15 * 60 + 1  # the per-account window (10 per 15 minutes), rounded up
    assert r.headers["Retry-After"] in err["message"]
    assert r.mimetype == "application/json"
    assert db.session.scalar(select(func.count()).select_from(LoginEvent)) == limit  # the 429 never reached it
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


# ---- CORS ----

def test_no_cors_headers_by_default(app, auth):
    auth.user("reader1")
    origin = {"Origin": "https://evil.example"}
    r = app.test_client().post("/api/v1/auth/token", json={"login": "reader1", "password": PASSWORD}, headers=origin)
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    pre = app.test_client().options("/api/v1/auth/token", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in pre.headers


def test_cors_allows_the_configured_origins_only(app, auth, fresh_app):
    class WithCors(_Config):
        API_CORS_ORIGINS = ["https://app.example.com"]

    other = fresh_app(WithCors)
    with other.app_context():
        auth.user("reader1")
    allowed, denied = {"Origin": "https://app.example.com"}, {"Origin": "https://evil.example"}
    body = {"login": "reader1", "password": PASSWORD}
    r = other.test_client().post("/api/v1/auth/token", json=body, headers=allowed)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Credentials" not in r.headers
    pre = other.test_client().options("/api/v1/auth/token", headers={
        **allowed, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Content-Type"})
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    r = other.test_client().post("/api/v1/auth/token", json=body, headers=denied)
    assert "Access-Control-Allow-Origin" not in r.headers
    # Only the API: the website's pages never get it.
    assert "Access-Control-Allow-Origin" not in other.test_client().get("/books", headers=allowed).headers


# ---- the error shape where no view answers ----

def test_a_wrong_method_is_405_in_the_error_shape(app):
    r = app.test_client().get("/api/v1/auth/token")
    assert_error(r, 405, "method_not_allowed")
    assert r.mimetype == "application/json"


def test_a_405_names_the_allowed_methods(app):
    r = app.test_client().get("/api/v1/auth/token")
    assert "POST" in r.headers.get("Allow", "")


def test_a_form_body_to_a_json_route_is_refused_in_the_error_shape(app, auth):
    auth.user("reader1")
    r = app.test_client().post("/api/v1/auth/token", data={"login": "reader1", "password": PASSWORD})
    assert r.status_code in (415, 422), r.status_code
    assert_error(r, r.status_code)
    assert r.mimetype == "application/json" and b"<html" not in r.get_data().lower()
    r = app.test_client().post("/api/v1/auth/token", data="not json", content_type="application/json")
    assert_error(r, r.status_code)
    assert r.status_code in (400, 422)


def test_bad_json_fields_are_422_with_the_fields(app):
    r = app.test_client().post("/api/v1/auth/token", json={"login": "reader1", "password": 5, "extra": True})
    err = assert_error(r, 422, "validation_failed")
    assert {"password", "extra"} <= set(err["fields"])


def test_an_unknown_api_path_is_a_json_404(app):
    for path in ("/api/v1/no-such-thing", "/api/v1/auth/sessions/abc", "/api/nothing"):
        r = app.test_client().get(path)
        assert_error(r, 404, "not_found")
        assert r.mimetype == "application/json"


def test_an_unexpected_error_under_api_answers_json(app, fresh_app):
    def boom():
        raise RuntimeError("a bug, for the test")

    other = fresh_app(_Config, before=lambda a: a.add_url_rule("/api/v1/test-boom", "test_boom", boom))
    r = other.test_client().get("/api/v1/test-boom")
    err = assert_error(r, 500, "internal_error")
    assert "a bug" not in err["message"]  # nothing of the exception reaches the client
    assert r.mimetype == "application/json"
