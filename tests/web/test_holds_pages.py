"""The holds pages: customers pause, resume and date their holds on /account/holds; staff cancel, move and extend
holds on /admin/holds and a book's queue page, with plain forms (303 and a flash) or htmx (a row or the queue)."""
import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import ADMIN_TOTP
from webapp.models import AuditLog, Hold, User, utcnow
from webapp.services.circulation import holds
from webapp.services.inventory import stock


def _user(db, name):
    return db.session.scalar(select(User).where(User.username == name))


def _hold(db, hold_id):
    db.session.expire_all()
    return db.session.get(Hold, hold_id)


@pytest.fixture
def queue(app, db, auth, make_book):
    """A sold-out book and three Free readers queued a minute apart: reader1 (signed-in tests use it), ann, bob."""
    book = make_book("Held Book", on_hand=0)
    t0 = utcnow() - timedelta(hours=1)
    ids = {}
    for i, name in enumerate(["reader1", "ann", "bob"]):
        user = auth.user(name)
        user.full_name = f"{name.title()} Surname"
        db.session.commit()
        with time_machine.travel(t0 + timedelta(minutes=i), tick=False):
            ids[name] = holds.place(user, book).id
            db.session.commit()
    return book, ids


def _token(client):
    page = client.get("/genres").get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


# ---- customers ----

def test_customer_pauses_and_resumes_a_hold(client, auth, db, queue):
    book, ids = queue
    auth.login("reader1")
    page = client.get("/account/holds").get_data(as_text=True)
    assert "Pause" in page and 'name="until"' in page and "Not needed after" in page
    r = auth.post(f"/account/holds/{ids['reader1']}/pause", {"until": ""})
    assert r.status_code == 303 and r.headers["Location"].endswith("/account/holds")
    page = client.get("/account/holds").get_data(as_text=True)
    assert "is paused until you resume it. It keeps its place in the queue." in page
    assert re.search(r"Number 1 in the queue</span>\s*<span[^>]*>paused until you resume it", page)
    assert _hold(db, ids["reader1"]).is_suspended
    panel = client.get(f"/books/{book.id}").get_data(as_text=True)  # the book page says so too
    assert "Your hold is <strong>paused</strong> until you resume it." in panel and 'data-testid="resume-hold"' in panel
    assert 'data-testid="hold-position"' not in panel
    stock.adjust(book.id, 1, "restock")  # a copy comes back: it skips the paused hold
    db.session.commit()
    assert _hold(db, ids["ann"]).status == "ready"
    r = auth.post(f"/account/holds/{ids['reader1']}/resume")
    assert r.status_code == 303
    page = client.get("/account/holds").get_data(as_text=True)
    assert "is active again: number 1 in the queue." in page and "paused" not in page
    assert not _hold(db, ids["reader1"]).is_suspended


def test_customer_pause_until_a_date_and_bad_dates(client, auth, db, queue):
    _book, ids = queue
    auth.login("reader1")
    today = utcnow().date()
    auth.post(f"/account/holds/{ids['reader1']}/pause", {"until": today.isoformat()})
    assert "Choose a date after today." in client.get("/account/holds").get_data(as_text=True)
    auth.post(f"/account/holds/{ids['reader1']}/pause", {"until": "not-a-date"})
    assert "Not a valid date value." in client.get("/account/holds").get_data(as_text=True)
    assert not _hold(db, ids["reader1"]).is_suspended
    until = today + timedelta(days=10)
    auth.post(f"/account/holds/{ids['reader1']}/pause", {"until": until.isoformat()})
    page = client.get("/account/holds").get_data(as_text=True)
    assert f"paused until {until:%-d %B %Y}" in page and f"paused until {until:%-d %b %Y}" in page
    assert _hold(db, ids["reader1"]).suspended_until.date() == until


def test_customer_sets_and_clears_not_needed_after(client, auth, db, queue):
    _book, ids = queue
    auth.login("reader1")
    day = utcnow().date() + timedelta(days=20)
    auth.post(f"/account/holds/{ids['reader1']}/not-needed-after", {"not_needed_after": day.isoformat()})
    page = client.get("/account/holds").get_data(as_text=True)
    assert f"ends by itself after {day:%-d %B %Y}" in page and f"Not needed after {day:%-d %b %Y}" in page
    auth.post(f"/account/holds/{ids['reader1']}/not-needed-after", {"not_needed_after": ""})
    assert "Choose a date, or clear the date." in client.get("/account/holds").get_data(as_text=True)
    auth.post(f"/account/holds/{ids['reader1']}/not-needed-after",
              {"not_needed_after": (utcnow().date() - timedelta(days=1)).isoformat()})
    assert "Choose today or a later date." in client.get("/account/holds").get_data(as_text=True)
    auth.post(f"/account/holds/{ids['reader1']}/not-needed-after", {"clear": "y"})
    assert "no longer has an end date" in client.get("/account/holds").get_data(as_text=True)
    assert _hold(db, ids["reader1"]).not_needed_after is None


@pytest.mark.parametrize("action,data", [("pause", {"until": ""}), ("resume", {}),
                                         ("not-needed-after", {"clear": "y"})])
def test_customer_routes_need_csrf_and_own_the_hold(client, auth, db, queue, action, data):
    _book, ids = queue
    auth.login("reader1")
    assert client.post(f"/account/holds/{ids['reader1']}/{action}", data=data).status_code == 400  # no token
    assert auth.post(f"/account/holds/{ids['ann']}/{action}", data).status_code == 404  # someone else's
    assert auth.post(f"/account/holds/999999/{action}", data).status_code == 404
    held = _hold(db, ids["ann"])
    assert not held.is_suspended and held.not_needed_after is None


def test_customer_routes_need_sign_in(client, queue):
    _book, ids = queue
    r = client.post(f"/account/holds/{ids['reader1']}/resume")
    assert r.status_code in (302, 303, 400)  # to the sign-in page (or refused for its missing token)
    assert not _hold_pause_changed(ids)


def _hold_pause_changed(ids):
    from webapp.extensions import db

    return db.session.get(Hold, ids["reader1"]).is_suspended


# ---- staff ----

def test_admin_lists_show_customers_by_name_with_a_link(admin_client, db, queue):
    book, ids = queue
    ann = _user(db, "ann")
    page = admin_client.get("/admin/holds?view=waiting").get_data(as_text=True)
    assert f'<a href="/admin/users/{ann.id}">Ann Surname</a>' in page and ann.email in page
    assert f">#{ann.id}<" not in page
    queue_page = admin_client.get(f"/admin/holds/books/{book.id}").get_data(as_text=True)
    assert "Holds queue: Held Book" in queue_page
    names = re.findall(r'<a href="/admin/users/\d+">(\w+) Surname</a>', queue_page)
    assert names == ["Reader1", "Ann", "Bob"]
    assert admin_client.get("/admin/holds/books/999999").status_code == 404


def test_admin_moves_a_hold_with_and_without_htmx(admin_client, db, queue):
    book, ids = queue
    token = _token(admin_client)
    r = admin_client.post(f"/admin/holds/{ids['bob']}/move?view=queue", data={"csrf_token": token, "direction": "up"})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/admin/holds/books/{book.id}")
    page = admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Moved Bob Surname to number 2 in the queue" in page
    assert re.findall(r'<a href="/admin/users/\d+">(\w+) Surname</a>', page) == ["Reader1", "Bob", "Ann"]
    # htmx: the answer is the queue alone, renumbered
    r = admin_client.post(f"/admin/holds/{ids['bob']}/move?view=queue", data={"csrf_token": token, "direction": "up"},
                          headers={"HX-Request": "true"})
    fragment = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in fragment and "Moved Bob Surname to number 1" in fragment
    assert re.findall(r'<a href="/admin/users/\d+">(\w+) Surname</a>', fragment) == ["Bob", "Reader1", "Ann"]
    # refused: already first (shown in the queue, nothing moved)
    r = admin_client.post(f"/admin/holds/{ids['bob']}/move?view=queue", data={"csrf_token": token, "direction": "up"},
                          headers={"HX-Request": "true"})
    assert "already first in the queue" in r.get_data(as_text=True)
    assert holds.position(_hold(db, ids["bob"])) == 1
    assert len(db.session.scalars(select(AuditLog).where(AuditLog.action == "hold.moved")).all()) == 2
    # a bad direction is a message too
    r = admin_client.post(f"/admin/holds/{ids['bob']}/move?view=queue",
                          data={"csrf_token": token, "direction": "left"}, headers={"HX-Request": "true"})
    assert "Not a valid choice" in r.get_data(as_text=True)


def test_admin_cancels_with_a_reason(admin_client, db, queue):
    book, ids = queue
    token = _token(admin_client)
    r = admin_client.post(f"/admin/holds/{ids['ann']}/cancel?view=waiting", data={"csrf_token": token, "reason": ""},
                          headers={"HX-Request": "true"})
    row = r.get_data(as_text=True)
    assert r.status_code == 200 and row.lstrip().startswith("<tr") and "Give a reason" in row
    assert _hold(db, ids["ann"]).status == "waiting"
    r = admin_client.post(f"/admin/holds/{ids['ann']}/cancel?view=waiting",
                          data={"csrf_token": token, "reason": "Asked at the desk."}, headers={"HX-Request": "true"})
    row = r.get_data(as_text=True)
    assert "Cancelled the hold of Ann Surname on “Held Book”; they are emailed." in row and "cancelled" in row
    assert _hold(db, ids["ann"]).status == "cancelled"
    # without JavaScript: 303 back to the list, with the flash
    r = admin_client.post(f"/admin/holds/{ids['bob']}/cancel?view=waiting",
                          data={"csrf_token": token, "reason": "Duplicate."})
    assert r.status_code == 303 and "view=waiting" in r.headers["Location"]
    assert "Cancelled the hold of Bob Surname" in admin_client.get(r.headers["Location"]).get_data(as_text=True)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "hold.cancelled_by_staff")
                               .order_by(AuditLog.id)).first()
    assert entry.after["reason"] == "Asked at the desk." and entry.actor_id == _user(db, "boss").id
    assert admin_client.post(f"/admin/holds/{ids['bob']}/cancel", data={"reason": "x"}).status_code == 400  # CSRF
    assert admin_client.post("/admin/holds/999999/cancel", data={"csrf_token": token, "reason": "x"}).status_code == 404


def test_admin_extends_a_ready_hold(admin_client, db, queue):
    book, ids = queue
    stock.adjust(book.id, 1, "restock")
    db.session.commit()
    end = _hold(db, ids["reader1"]).expires_at
    token = _token(admin_client)
    page = admin_client.get("/admin/holds?view=ready").get_data(as_text=True)
    assert "Extend" in page and 'name="days"' in page
    r = admin_client.post(f"/admin/holds/{ids['reader1']}/extend?view=ready", data={"csrf_token": token, "days": "3"},
                          headers={"HX-Request": "true"})
    row = r.get_data(as_text=True)
    assert "now waits for Reader1 Surname until" in row
    assert _hold(db, ids["reader1"]).expires_at == end + timedelta(days=3)
    r = admin_client.post(f"/admin/holds/{ids['reader1']}/extend?view=ready", data={"csrf_token": token, "days": "99"})
    assert r.status_code == 303
    assert "Extend by 1 to 14 days." in admin_client.get(r.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("method,url", [("get", "/admin/holds"), ("get", "/admin/holds/books/1"),
                                        ("post", "/admin/holds/1/cancel"), ("post", "/admin/holds/1/move"),
                                        ("post", "/admin/holds/1/extend")])
def test_staff_routes_are_forbidden_to_customers(client, auth, queue, method, url):
    auth.login("reader1")
    if method == "get":
        assert client.get(url).status_code == 403
    else:
        assert auth.post(url, {"reason": "x", "direction": "up", "days": "1"}).status_code == 403


def test_staff_need_2fa_admins_only(app, auth, queue):
    client = app.test_client()
    auth.user("boss2", role="admin", totp_secret=ADMIN_TOTP)
    auth.login("boss2", client=client, totp_secret=ADMIN_TOTP)
    assert client.get("/admin/holds?view=closed").status_code == 200
