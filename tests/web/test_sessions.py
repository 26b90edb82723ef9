"""Server-side sessions (issue 12, finding 2): a copied cookie is worth nothing once its session has ended,
whether the customer signed out, signed out everywhere, changed their password, or staff ended it."""
from datetime import timedelta

import time_machine
from sqlalchemy import select

from tests.conftest import ADMIN_TOTP, PASSWORD
from webapp.extensions import db as other_db
from webapp.models import AuditLog, UserSession, utcnow
from webapp.services.people import accounts

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1"


def _cookies(client) -> dict[str, str]:
    return {c.key: c.value for c in client._cookies.values()}


def _copy(app, client, only: tuple[str, ...] | None = None):
    """Another browser holding a copy of this one's cookies (a stolen or shared cookie)."""
    thief = app.test_client()
    for name, value in _cookies(client).items():
        if only is None or name in only:
            thief.set_cookie(name, value)
    return thief


def _signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, client, auth):
    auth.user("reader1")
    assert auth.login("reader1").status_code == 303
    thief = _copy(app, client)
    assert _signed_in(thief)
    auth.logout()
    assert not _signed_in(client)
    r = thief.get("/account")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_remember_cookie_is_bound_to_its_session(app, client, auth):
    auth.user("reader1")
    auth.post("/login", {"login": "reader1", "password": PASSWORD, "remember": "y"})
    assert "remember_token" in _cookies(client)
    remembered = _copy(app, client, only=("remember_token",))  # a new browser with just the remember cookie
    assert _signed_in(remembered)
    auth.logout()
    assert not _signed_in(_copy(app, remembered, only=("remember_token",)))


def test_sign_out_everywhere_and_per_device(app, auth, db):
    auth.user("reader1")
    laptop, phone = app.test_client(), app.test_client()
    laptop.environ_base["HTTP_USER_AGENT"] = BROWSER
    phone.environ_base["HTTP_USER_AGENT"] = PHONE
    auth.login("reader1", client=laptop)
    auth.login("reader1", client=phone)
    page = laptop.get("/account/security").get_data(as_text=True)
    assert "Firefox on Windows" in page and "Safari on iPhone" in page and "this device" in page
    rows = db.session.scalars(select(UserSession).order_by(UserSession.id)).all()
    assert len(rows) == 2
    # the laptop signs the phone out
    r = auth.post(f"/account/security/sessions/{rows[1].id}/end", client=laptop)
    assert r.status_code == 303 and _signed_in(laptop) and not _signed_in(phone)
    # sign in again on the phone, then "sign out all other devices" from the laptop
    auth.login("reader1", client=phone)
    stolen = _copy(app, phone)
    auth.post("/account/security/sign-out-others", client=laptop)
    assert _signed_in(laptop) and not _signed_in(phone) and not _signed_in(stolen)
    # "sign out everywhere" ends this device too
    stolen_laptop = _copy(app, laptop)
    r = auth.post("/account/security/sign-out-everywhere", client=laptop)
    assert r.status_code == 303 and "/login" in r.headers["Location"]
    assert not _signed_in(laptop) and not _signed_in(stolen_laptop)
    assert db.session.scalars(select(UserSession).where(UserSession.revoked_at.is_(None))).all() == []


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, auth):
    auth.user("reader1")
    here, elsewhere = app.test_client(), app.test_client()
    auth.login("reader1", client=here)
    auth.login("reader1", client=elsewhere)
    r = auth.post("/account/password", {"current_password": PASSWORD, "password": "another horse battery 77 staple",
                                        "confirm": "another horse battery 77 staple"}, client=here)
    assert r.status_code == 303
    assert _signed_in(here) and not _signed_in(elsewhere)


def test_staff_can_end_a_customers_sessions(app, auth, admin_client, db):
    customer = auth.user("reader1")
    device = app.test_client()
    auth.login("reader1", client=device)
    page = admin_client.get(f"/admin/users/{customer.id}/sessions").get_data(as_text=True)
    assert 'data-testid="device-row"' in page
    r = auth.post(f"/admin/users/{customer.id}/end-sessions", client=admin_client)
    assert r.status_code == 303 and not _signed_in(device)
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "admin.user_sessions_ended"))
    assert r.headers["Location"].endswith(f"/admin/users/{customer.id}/sessions")
    assert "Not signed in anywhere" in admin_client.get(r.headers["Location"]).get_data(as_text=True)


def test_deactivation_ends_sessions_at_once(app, auth, admin_client):
    customer = auth.user("reader1")
    device = app.test_client()
    auth.login("reader1", client=device)
    auth.post(f"/admin/users/{customer.id}/deactivate", client=admin_client)
    assert not _signed_in(device)


def test_sessions_lapse_when_idle_and_last_seen_is_written_sparingly(app, client, auth, db, count_queries):
    auth.user("reader1")
    with time_machine.travel(utcnow(), tick=False) as traveller:
        auth.login("reader1")
        row = db.session.scalars(select(UserSession)).one()
        first_seen = row.last_seen_at
        with count_queries() as statements:
            client.get("/account")
        assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE USER_SESSIONS")]
        traveller.shift(timedelta(minutes=6))
        client.get("/account")
        db.session.expire_all()
        assert db.session.get(UserSession, row.id).last_seen_at > first_seen
        traveller.shift(timedelta(days=app.config["SESSION_IDLE_DAYS"], minutes=1))
        assert not _signed_in(client)  # unused for too long: signed out


def test_admin_two_factor_sign_in_makes_a_session_only_after_the_second_factor(app, auth, db):
    auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
    device = app.test_client()
    r = auth.post("/login", {"login": "boss", "password": PASSWORD}, client=device)
    assert "/login/2fa" in r.headers["Location"]
    assert db.session.scalars(select(UserSession)).all() == []
    auth.login("boss", client=device, totp_secret=ADMIN_TOTP)
    assert len(db.session.scalars(select(UserSession)).all()) == 1


def test_a_sign_in_in_flight_while_the_password_changes_does_not_survive_it(app, client, auth, db, monkeypatch):
    """The password was checked, then (before the session was made) the owner changed it elsewhere: the
    session this sign-in makes is dead on arrival."""
    user = auth.user("reader1")
    real = accounts.authenticate

    def checked_then_changed_elsewhere(login, password):
        found = real(login, password)
        with app.app_context():  # the owner, in another request, changes the password meanwhile
            owner = other_db.session.get(type(found), user.id)
            accounts.change_password(owner, PASSWORD, "a brand new passphrase 4411")
            other_db.session.commit()
        return found

    monkeypatch.setattr(accounts, "authenticate", checked_then_changed_elsewhere)
    assert auth.login("reader1").status_code == 303
    assert not _signed_in(client)


def test_without_keep_me_signed_in_the_cookie_ends_with_the_browser(app, client, auth):
    auth.user("reader1")
    response = auth.login("reader1")
    session_cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")][-1]
    assert "Expires=" not in session_cookie and "remember_token" not in _cookies(client)
    other = app.test_client()
    response = auth.post("/login", {"login": "reader1", "password": PASSWORD, "remember": "y"}, client=other)
    session_cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")][-1]
    assert "Expires=" in session_cookie and "remember_token" in _cookies(other)


def test_the_device_list_names_browsers_scripts_and_folio_cli():
    from webapp.services.people.sessions import device

    assert device("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36") == "Chrome on Linux"
    assert device("folio-cli/0.1 python-requests/2.34 (Linux)") == "folio-cli on Linux"
    assert device("python-requests/2.34.2") == "a script"
    assert device(None) == "Unknown device"
