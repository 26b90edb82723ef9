"""Registration does not tell whether an email address has an account: the form answers as for a new account,
creates nothing, signs nobody in, and emails the address's owner instead. A taken username is still said (see
registration.register)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.concurrency import race
from tests.conftest import PASSWORD, using_postgres
from webapp.models import AuditLog, OutboundEmail, User, utcnow
from webapp.services.people import registration

NEW_PASSWORD = "velvet harbour lantern 58"


def _register(auth, client, username, email):
    return auth.post("/register", {"username": username, "email": email, "password": NEW_PASSWORD,
                                   "confirm": NEW_PASSWORD}, client=client)


def _flashes(client) -> list:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


def _mail_to(db, address) -> list[OutboundEmail]:
    return list(db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == address)))


def _without_token(html: str) -> str:
    """The page without its per-session CSRF tokens (in the form and in hx-headers)."""
    return re.sub(r'[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}', "TOKEN", html)


def _errors(response) -> str:
    return " ".join(re.findall(r'class="error-text">([^<]+)<', response.get_data(as_text=True)))


def test_a_taken_email_gets_the_same_answer_as_a_new_one_and_its_owner_is_told(app, auth, db):
    owner = auth.user("owner_one", email="owner@example.com")
    new_visitor, prober = app.test_client(), app.test_client()

    fresh = _register(auth, new_visitor, "fresh_reader", "fresh@example.com")
    probe = _register(auth, prober, "probe_reader", "Owner@Example.com")

    assert fresh.status_code == probe.status_code == 303
    assert fresh.headers["Location"] == probe.headers["Location"]
    assert fresh.get_data() == probe.get_data()
    assert _flashes(new_visitor) == _flashes(prober)
    # nothing was created for the probe, and the prober is not signed in
    assert db.session.scalar(select(func.count(User.id)).where(User.username == "probe_reader")) == 0
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "owner@example.com")) == 1
    assert prober.get("/account").status_code == 302 and new_visitor.get("/account").status_code == 302
    # the next page reads the same for both (nobody is signed in until a code is entered) ...
    page_new, page_probe = new_visitor.get("/register/confirm"), prober.get("/register/confirm")
    assert page_new.status_code == page_probe.status_code == 200
    assert _without_token(page_new.get_data(as_text=True)).replace("fresh@example.com", "X") == \
        _without_token(page_probe.get_data(as_text=True)).replace("owner@example.com", "X")
    # ... and so do wrong codes, their count, the lock-out after five, and "send again"
    for _ in range(6):
        wrong_new = auth.post("/register/confirm", {"code": "000001"}, client=new_visitor)
        wrong_probe = auth.post("/register/confirm", {"code": "000001"}, client=prober)
        assert _errors(wrong_new) == _errors(wrong_probe) != ""
    assert "Too many wrong tries" in _errors(wrong_probe)
    # (the clock stands still: "wait N seconds" must not differ because a second passed between the two)
    with time_machine.travel(utcnow(), tick=False):
        for _ in range(2):
            auth.post("/register/confirm/resend", client=new_visitor)
            auth.post("/register/confirm/resend", client=prober)
            assert _flashes(new_visitor) == _flashes(prober)
    # the owner got one email saying so, with the links to sign in and to reset the password
    [notice] = _mail_to(db, "owner@example.com")
    assert "tried to register" in notice.subject
    assert "owner_one" in notice.body_text and "/login" in notice.body_text and "/password/forgot" in notice.body_text
    assert not any(c.isdigit() and len(c) == 6 for c in notice.body_text.split())  # no code to sign in with
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.object_id == str(owner.id))) == \
        "user.registration_with_existing_email"


def test_the_owner_is_emailed_at_most_once_an_hour(app, auth, db):
    auth.user("owner_two", email="owner2@example.com")
    for i in range(3):
        r = _register(auth, app.test_client(), f"probe_{i}", "owner2@example.com")
        assert r.status_code == 303
    assert len(_mail_to(db, "owner2@example.com")) == 1
    assert db.session.scalar(select(func.count(AuditLog.id))
                             .where(AuditLog.action == "user.registration_with_existing_email")) == 3


def test_inline_validation_does_not_say_an_email_is_taken(app, auth):
    auth.user("owner_three", email="owner3@example.com")
    client = app.test_client()
    taken = auth.post("/register/validate/email", {"email": "owner3@example.com"}, client=client,
                      headers={"HX-Request": "true"})
    free = auth.post("/register/validate/email", {"email": "nobody3@example.com"}, client=client,
                     headers={"HX-Request": "true"})
    assert taken.status_code == free.status_code == 200
    assert taken.get_data() == free.get_data()
    assert "Looks good" in taken.get_data(as_text=True)
    bad = auth.post("/register/validate/email", {"email": "not-an-address"}, client=client)
    assert "error-text" in bad.get_data(as_text=True)  # the address's form is still checked


def test_a_taken_username_is_still_said(app, auth, db):
    auth.user("owner_four", email="owner4@example.com")
    r = _register(auth, app.test_client(), "OWNER_FOUR", "someone.else@example.com")
    assert r.status_code == 200 and "That username is taken." in r.get_data(as_text=True)
    r = auth.post("/register/validate/username", {"username": "owner_four"}, client=app.test_client())
    assert "That username is taken." in r.get_data(as_text=True)
    # with the owner's email as well, only the username is mentioned
    r = _register(auth, app.test_client(), "owner_four", "owner4@example.com")
    body = r.get_data(as_text=True)
    assert "That username is taken." in body and body.count('class="error-text"') == 1
    email_input = re.search(r'<input[^>]*\bid="email"[^>]*>', body).group(0)
    assert "aria-invalid" not in email_input and "already exists" not in body
    assert _mail_to(db, "owner4@example.com") == []


@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): threads racing")
def test_two_registrations_racing_for_one_new_address_make_one_account(app, db):
    def work(i):
        return lambda: registration.register(f"racer_{i}", "race@example.com", PASSWORD)

    outcomes = race(app, work, 4)
    assert outcomes == ["ok"] * 4  # the losers are answered as for a taken address, never with an error
    db.session.expire_all()
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "race@example.com")) == 1


def _session_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def _pair(app, auth):
    """Two browsers registering: one with a new address, one with an address that has an account."""
    auth.user("owner_four", email="owner4@example.com")
    fresh, probe = app.test_client(), app.test_client()
    _register(auth, fresh, "fresh_four", "fresh4@example.com")
    _register(auth, probe, "probe_four", "owner4@example.com")
    return fresh, probe


def test_the_cookie_does_not_say_whether_the_address_had_an_account(app, auth):
    """Flask's cookie is signed, not encrypted: it holds the id of a code to confirm, the same kind either way."""
    fresh, probe = _pair(app, auth)
    a, b = _session_of(fresh)["registering"], _session_of(probe)["registering"]
    assert set(a) == set(b) == {"code", "email", "t"}
    assert isinstance(a["code"], int) and isinstance(b["code"], int)
    assert "_user_id" not in _session_of(fresh) and "_user_id" not in _session_of(probe)


def test_replaying_the_cookie_counts_tries_alike(app, auth):
    """The tries live on the server for both: putting an older cookie back does not reset the count of either."""
    fresh, probe = _pair(app, auth)
    saved = {c: {k.key: k.value for k in c._cookies.values()} for c in (fresh, probe)}
    answers = {fresh: [], probe: []}
    for _ in range(3):
        for client in (fresh, probe):
            for name, value in saved[client].items():
                client.set_cookie(name, value)
            answers[client].append(_errors(auth.post("/register/confirm", {"code": "000001"}, client=client)))
    assert answers[fresh] == answers[probe] == ["That code is not right. 4 tries left.",
                                                "That code is not right. 3 tries left.",
                                                "That code is not right. 2 tries left."]


def test_codes_expire_alike(app, auth):
    with time_machine.travel(utcnow(), tick=False) as traveller:
        fresh, probe = _pair(app, auth)
        traveller.shift(timedelta(minutes=16))
        expired = [_errors(auth.post("/register/confirm", {"code": "000001"}, client=c)) for c in (fresh, probe)]
    assert expired == ["That code has expired. Ask for a new one."] * 2
