"""The API's one error shape on every path under /api, whatever goes wrong (405, 415, 413, 400, 422, 401, 429, 500),
its caching headers (no-store unless public; a 304 left alone), and that a browser's cookie never signs an API
request in."""
from __future__ import annotations

import pytest
from flask import make_response
from flask_smorest.exceptions import NotModified

from tests.api.conftest import assert_error
from webapp.api.schemas import CursorArgs

SIGN_IN = "/api/v1/auth/token"


def test_unknown_address_and_method_answer_json(api):
    for url in ("/api/v1/nothing-here", "/api", "/api/v2/books"):
        r = api.get(url)
        assert_error(r, 404, "not_found")
        assert r.headers["Cache-Control"] == "no-store"
    r = api.get(SIGN_IN)
    error = assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]
    assert "Allow" in error["message"]


def test_a_body_that_is_not_json_is_415(api):
    r = api.post(SIGN_IN, data={"login": "reader1", "password": "x"})
    assert_error(r, 415, "unsupported_media_type")
    r = api.post(SIGN_IN, data="login=reader1", content_type="text/plain")
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "invalid_json"), (b'{"login": "a", "password": ', "invalid_json"),
    (b'{"login": "\xff\xfe"}', "invalid_json"),
    (b"[" * 100_000, "invalid_json"), (b'{"a":' * 50_000, "invalid_json"),  # past the parser's stack: not a 500
    (b'{"login": "a", "password": ' + b"9" * 5000 + b"}", "invalid_json"),  # more digits than Python reads
    (b"[" * 30 + b"]" * 30, "bad_request"),  # valid JSON, nested deeper than any body of ours
    (b'{"login": "\\ud800", "password": "x"}', "bad_request"),  # a lone surrogate: no database stores it
    (b'{"login": "reader1\\u0000", "password": "x"}', "bad_request"),  # NUL: PostgreSQL refuses it in text
    (b'{"login\\u0000": "reader1"}', "bad_request"),
])
def test_malformed_or_hostile_json_is_400(api, body, code):
    r = api.post(SIGN_IN, data=body, content_type="application/json")
    error = assert_error(r, 400, code)
    assert any(word in error["message"] for word in ("JSON", "NUL")), error


def test_a_body_over_a_mebibyte_is_413(api):
    r = api.post(SIGN_IN, data=b'{"login": "' + b"a" * (1024 * 1024) + b'"}', content_type="application/json")
    assert_error(r, 413, "too_large")


@pytest.mark.parametrize("body", [[1, 2], "reader1", None, 7])
def test_json_that_is_not_an_object_is_422(api, body):
    import json

    r = api.post(SIGN_IN, data=json.dumps(body), content_type="application/json")
    error = assert_error(r, 422, "validation_failed")
    assert error["fields"] == {"": ["Invalid input type."]}


def test_validation_errors_name_flat_fields(api):
    r = api.post(SIGN_IN, json={"password": 5, "extra": True})
    error = assert_error(r, 422, "validation_failed")
    assert error["fields"] == {"login": ["Missing data for required field."], "password": ["Not a valid string."],
                               "extra": ["Unknown field."]}
    assert "login" in error["message"] and "password" in error["message"]
    r = api.post(SIGN_IN)  # no body at all, on a route that needs one
    assert set(assert_error(r, 422, "validation_failed")["fields"]) == {"login", "password"}


def test_nested_webargs_messages_are_flattened():
    from webapp.errors import _fields

    assert _fields({"json": {"items": {0: {"quantity": ["Too many."]}}, "_schema": ["Bad."]},
                    "query": {"limit": ["Not a valid integer."]}}) == {
        "items.0.quantity": ["Too many."], "": ["Bad."], "limit": ["Not a valid integer."]}


def test_query_string_integers_are_read_as_numbers(app):
    """A query value is text: `?limit=5` is 5 for an integer field, `?limit=5.5` or `?limit=x` a field error."""
    from webargs.multidictproxy import MultiDictProxy
    from werkzeug.datastructures import MultiDict

    schema = CursorArgs()
    assert schema.load(MultiDictProxy(MultiDict([("limit", "5")]), schema)) == {"cursor": None, "limit": 5}
    for bad in ("5.5", "x", "99999999999999999999999", ""):
        with pytest.raises(Exception) as raised:
            schema.load(MultiDictProxy(MultiDict([("limit", bad)]), schema))
        assert "limit" in raised.value.messages
    with pytest.raises(Exception) as raised:  # a JSON body stays strict: "5" is not a number there
        schema.load({"limit": "5"})
    assert raised.value.messages == {"limit": ["Not a valid integer."]}


def test_401_names_the_bearer_scheme(api):
    r = api.get("/api/v1/auth/sessions")
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = api.get("/api/v1/auth/sessions", headers={"Authorization": "Bearer not-a-token"})
    assert_error(r, 401, "invalid_token")
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_429_says_when_to_come_back(app, api, customer_api, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_PER_ADDRESS", "3 per minute")
    statuses = [customer_api.get("/api/v1/auth/sessions").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = customer_api.get("/api/v1/auth/sessions")
    error = assert_error(r, 429, "rate_limited")
    retry = r.headers["Retry-After"]
    assert retry.isdigit() and 1 <= int(retry) <= 61, retry  # the window, rounded up
    assert f"{retry} second" in error["message"]
    assert r.headers["Cache-Control"] == "no-store"


def test_sign_in_has_its_own_limit(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "API_SIGN_IN_LIMIT", "2 per minute")
    for _ in range(2):
        assert_error(api.post(SIGN_IN, json={"login": "nobody", "password": "x"}), 401, "invalid_credentials")
    r = api.post(SIGN_IN, json={"login": "nobody", "password": "x"})
    assert_error(r, 429, "rate_limited")
    assert r.headers["Retry-After"].isdigit()


def test_a_bug_is_a_500_in_the_error_shape(app, customer_api, monkeypatch, caplog):
    def broken():
        raise RuntimeError("a bug")

    monkeypatch.setitem(app.view_functions, "api_auth.list_sessions", broken)
    r = customer_api.get("/api/v1/auth/sessions")
    error = assert_error(r, 500, "internal_error")
    assert "a bug" not in r.get_data(as_text=True)  # nothing of the exception reaches the client
    assert error["fields"] == {}
    assert "unhandled error on GET /api/v1/auth/sessions" in caplog.text


def test_private_responses_are_not_stored(api, customer_api):
    for r in (customer_api.get("/api/v1/auth/sessions"),
              api.post(SIGN_IN, json={"login": "reader1", "password": "wrong"}),
              api.get("/api/v1/nothing-here")):
        assert r.headers["Cache-Control"] == "no-store", r.status_code
    r = api.post(SIGN_IN, json={"login": "reader1", "password": "correct horse battery staple 42"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"  # tokens, above all


def test_a_public_response_keeps_its_cache_control(app, api, monkeypatch):
    def public_view():
        response = make_response({"ok": True})
        response.cache_control.public = True
        response.cache_control.max_age = 60
        return response

    monkeypatch.setitem(app.view_functions, "api_auth.list_sessions", public_view)
    r = api.get("/api/v1/auth/sessions")
    assert r.status_code == 200
    assert "public" in r.headers["Cache-Control"] and "no-store" not in r.headers["Cache-Control"]


def test_not_modified_is_a_bare_304_with_its_etag(app, api, monkeypatch):
    """flask-smorest's ETag check raises 304 when If-None-Match matches: no body, the ETag, and no `no-store`
    (a 304's headers update the cached copy's: no-store there would throw away what the client just kept)."""
    def not_modified():
        raise NotModified

    monkeypatch.setitem(app.view_functions, "api_auth.list_sessions", not_modified)
    r = api.get("/api/v1/auth/sessions", headers={"If-None-Match": '"abc123"'})
    assert r.status_code == 304
    assert r.get_data() == b""
    assert r.headers["ETag"] == '"abc123"'
    assert "no-store" not in r.headers.get("Cache-Control", "")


def test_a_browser_session_never_signs_in_an_api_request(app, auth, client):
    """Cookies are not credentials for the API (it takes no CSRF token): signed in on the website, a call
    without a bearer token is 401, and it changes nothing."""
    from webapp.extensions import db
    from webapp.models import UserSession

    user = auth.user("reader1")
    assert auth.login("reader1", client=client).status_code == 303
    assert client.get("/account").status_code == 200  # the browser is signed in
    r = client.get("/api/v1/auth/sessions")
    assert_error(r, 401, "unauthorized")
    r = client.post("/api/v1/auth/logout-everywhere")
    assert_error(r, 401, "unauthorized")
    assert "Set-Cookie" not in r.headers
    live = db.session.scalars(db.select(UserSession).filter_by(user_id=user.id, revoked_at=None)).all()
    assert [s.kind for s in live] == ["web"]  # the browser's sign-in survived the cookie-only call
    assert client.get("/account").status_code == 200


def test_hostile_cursors_are_never_a_500(app, customer_api, admin_api):
    """Every listing that takes a `cursor`: cursors past every id or date (an id beyond a database integer was
    PostgreSQL's "integer out of range") or of no known form answer a page or a 4xx in our shape."""
    spec = customer_api.get("/api/openapi.json").get_json()
    listings = [path for path, item in spec["paths"].items() if "get" in item and "{" not in path
                and any(p.get("name") == "cursor" and p.get("in") == "query" for p in item["get"].get("parameters", []))]
    for path in listings:
        caller = admin_api if path.startswith("/api/v1/admin/") else customer_api
        for cursor in ("1_9999999999", "999999999999999999_9999999999", "0_0", "x", "9" * 200):
            r = caller.get(path, query_string={"cursor": cursor})
            assert r.status_code < 500, (path, cursor, r.get_data(as_text=True)[:300])
            if r.status_code >= 400:
                assert_error(r, r.status_code)
