"""The sign-in and code forms consume one-time secrets once: six browsers typing the same TOTP code at the
same moment (real PostgreSQL, one request per thread), and the messages a customer sees (SQLite too)."""
from __future__ import annotations

import re
from collections.abc import Callable

import pyotp
import pytest
from sqlalchemy import select

from tests.concurrency import race
from tests.conftest import ADMIN_TOTP, using_postgres
from webapp.models import EmailCode, LoginEvent, OutboundEmail

BROWSERS = 6


@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                    "SQLite serialises writers, so there is no race to test")
def test_six_browsers_with_one_totp_code_sign_in_once(app, auth, db):
    admin = auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
    browsers = [app.test_client() for _ in range(BROWSERS)]
    for browser in browsers:  # each has typed the password and waits for the second factor
        r = auth.login("boss", client=browser)
        assert r.status_code == 303 and "/login/2fa" in r.headers["Location"]
    code = pyotp.TOTP(ADMIN_TOTP).now()
    statuses: list[int | str] = [0] * BROWSERS

    def work(i: int) -> Callable[[], None]:
        token = auth.csrf(browsers[i])  # connect before the start line

        def send() -> None:
            try:
                statuses[i] = browsers[i].post("/login/2fa", data={"code": code, "csrf_token": token}).status_code
            except Exception as exc:  # a crash propagated by the test client counts as a 500
                statuses[i] = f"{type(exc).__name__}: {exc}"
        return send

    race(app, work, BROWSERS)
    # one signs in; the others are refused, by the code's single use or (past 5 tries for this sign-in, counted
    # atomically before each try) by the limit
    assert statuses.count(303) == 1 and set(statuses) <= {200, 303, 429}, statuses
    signed_in = [b for b in browsers if b.get("/account").status_code == 200]
    assert len(signed_in) == 1
    events = db.session.scalars(select(LoginEvent).where(LoginEvent.user_id == admin.id)).all()
    assert sorted(e.success for e in events) == [False] * statuses.count(200) + [True]


def test_a_used_totp_code_is_refused_on_the_next_sign_in(app, auth, client):
    auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
    assert auth.login("boss", totp_secret=ADMIN_TOTP).status_code == 303
    auth.logout()
    r = auth.login("boss", totp_secret=ADMIN_TOTP)  # the same code again, within its 30 seconds
    assert r.status_code == 200
    assert "That code is not right (or was already used)." in r.get_data(as_text=True)


def test_wrong_codes_on_the_verify_form_count_and_say_how_many_tries_are_left(app, auth, client, db):
    auth.post("/register", {"username": "newbie", "email": "newbie@example.com",
                            "password": "violet kettle uphill sonnet", "confirm": "violet kettle uphill sonnet"})
    body = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id.desc())).first().body_text
    good = re.search(r"\b(\d{6})\b", body).group(1)
    bad = "000000" if good != "000000" else "111111"
    for left in ("4 tries left.", "3 tries left.", "2 tries left.", "1 try left."):
        r = auth.post("/register/confirm", {"code": bad})
        assert r.status_code == 200 and f"That code is not right. {left}" in r.get_data(as_text=True)
    assert db.session.scalars(select(EmailCode.attempts)).one() == 4  # each wrong try stuck
    r = auth.post("/register/confirm", {"code": good})  # the fifth try, and the right code
    assert r.status_code == 303
    r = client.get("/verify")
    assert r.status_code == 302  # verified: nothing left to confirm
