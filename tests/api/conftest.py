"""API test helpers: sign in through POST /api/v1/auth/token and call with the bearer token."""
from __future__ import annotations

import pyotp
import pytest

from tests.conftest import ADMIN_TOTP, PASSWORD


class ApiClient:
    """A test client that signs in through the API and sends its access token on every call."""

    def __init__(self, app, client=None):
        self.app = app
        self.client = client or app.test_client()
        self.tokens: dict | None = None

    def sign_in(self, login: str, password: str = PASSWORD, totp_secret: str | None = None, **extra):
        body = {"login": login, "password": password, **extra}
        if totp_secret:
            body["totp"] = pyotp.TOTP(totp_secret).now()
        r = self.client.post("/api/v1/auth/token", json=body)
        if r.status_code == 200:
            self.tokens = r.get_json()
        return r

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"} if self.tokens else {}

    def _call(self, method: str, url: str, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return getattr(self.client, method)(url, headers=headers, **kwargs)

    def get(self, url, **kw):
        return self._call("get", url, **kw)

    def post(self, url, **kw):
        return self._call("post", url, **kw)

    def put(self, url, **kw):
        return self._call("put", url, **kw)

    def patch(self, url, **kw):
        return self._call("patch", url, **kw)

    def delete(self, url, **kw):
        return self._call("delete", url, **kw)


@pytest.fixture
def api(app):
    """An API client, not signed in (`api.sign_in(...)`)."""
    return ApiClient(app)


@pytest.fixture
def customer_api(app, auth):
    """An API client signed in as customer 'reader1'."""
    auth.user("reader1")
    c = ApiClient(app)
    assert c.sign_in("reader1").status_code == 200
    return c


@pytest.fixture
def admin_api(app, auth):
    """An API client signed in as admin 'boss' (with two-factor sign-in)."""
    auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
    c = ApiClient(app)
    r = c.sign_in("boss", totp_secret=ADMIN_TOTP)
    assert r.status_code == 200, r.get_json()
    return c


@pytest.fixture
def no2fa_api(app, auth):
    """An API client signed in as admin 'bare_admin', without two-factor sign-in (the sign-in itself is allowed;
    the staff API refuses it)."""
    auth.user("bare_admin", role="admin")
    c = ApiClient(app)
    assert c.sign_in("bare_admin").status_code == 200
    return c


def boss_id(db) -> int:
    """The id of admin_api's user, 'boss'."""
    from webapp.models import User

    return db.session.scalars(db.select(User.id).where(User.username == "boss")).one()


def assert_error(response, status: int, code: str | None = None):
    """The API's one error shape, with this status (and code)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert body is not None and set(body) == {"error"}, response.get_data(as_text=True)[:300]
    assert set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
