"""Admin discount codes through the web: list and filters, create/edit with validation, toggle, delete."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.checkout_helpers import start
from webapp.models import AuditLog, DiscountCode, utcnow

VALID = {"code": "welcome15", "description": "New readers", "kind": "percent", "value": "15", "min_subtotal": "",
         "starts_at": "", "ends_at": "", "max_uses": "", "max_uses_per_user": "1", "active": "y"}


def post(admin_client, auth, url, data=None):
    data = dict(data or {})
    data["csrf_token"] = auth.csrf(admin_client)
    return admin_client.post(url, data=data)


def code(db, text) -> DiscountCode:
    db.session.expire_all()
    return db.session.scalars(select(DiscountCode).where(DiscountCode.code == text)).one()


def test_create_list_and_filter(admin_client, auth, db):
    assert admin_client.get("/admin/discounts/new").status_code == 200
    r = post(admin_client, auth, "/admin/discounts/new", VALID)
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/discounts")
    created = code(db, "WELCOME15")
    assert (created.kind, created.value, created.max_uses_per_user, created.active) == ("percent", 15, 1, True)
    fixed = dict(VALID, code="FIVEOFF", kind="fixed", value="$5.50", min_subtotal="25", max_uses="100",
                 ends_at=(utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    assert post(admin_client, auth, "/admin/discounts/new", fixed).status_code == 303
    five = code(db, "FIVEOFF")
    assert (five.value, five.min_subtotal_cents, five.max_uses) == (550, 2500, 100)
    assert five.ends_at.tzinfo is not None and five.ends_at > utcnow()
    later = dict(VALID, code="LATER", starts_at=(utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    assert post(admin_client, auth, "/admin/discounts/new", later).status_code == 303

    page = admin_client.get("/admin/discounts").get_data(as_text=True)
    assert "WELCOME15" in page and "15%" in page and "$5.50" in page and "$25.00" in page
    assert "Scheduled" in page and "0 of 100" in page
    r = admin_client.get("/admin/discounts?state=scheduled", headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert "<html" not in body and "LATER" in body and "WELCOME15" not in body
    assert "FIVEOFF" in admin_client.get("/admin/discounts?q=five").get_data(as_text=True)
    assert admin_client.get("/admin/discounts?state=zzz&page=-1").status_code == 200
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_type == "discount")).all()
    assert actions == ["discount.created"] * 3


def test_validation_errors_are_shown_on_the_fields(admin_client, auth, db):
    cases = [
        (dict(VALID, code="x!"), "Use 3 to 40 letters"),
        (dict(VALID, value="150"), "from 1 to 100"),
        (dict(VALID, value="ten"), "from 1 to 100"),
        (dict(VALID, kind="fixed", value="0"), "more than 0.00"),
        (dict(VALID, kind="fixed", value="5.555"), "Enter an amount like 12.50."),
        (dict(VALID, min_subtotal="-3"), "Enter an amount like 12.50."),
        (dict(VALID, max_uses="0"), "at least 1"),
        (dict(VALID, max_uses="lots"), "Not a valid integer value."),
        (dict(VALID, starts_at="2030-01-02T10:00", ends_at="2030-01-01T10:00"), "The end must be after the start."),
        (dict(VALID, kind="bogus"), "Not a valid choice"),
    ]
    for data, message in cases:
        r = post(admin_client, auth, "/admin/discounts/new", data)
        body = r.get_data(as_text=True)
        assert r.status_code == 200 and message in body, (data, message)
        assert 'aria-invalid="true"' in body
    assert db.session.scalar(select(DiscountCode.id)) is None
    post(admin_client, auth, "/admin/discounts/new", VALID)
    r = post(admin_client, auth, "/admin/discounts/new", dict(VALID, code="Welcome15"))
    assert r.status_code == 200 and "“WELCOME15” already exists." in r.get_data(as_text=True)
    r = post(admin_client, auth, "/admin/discounts/new", dict(VALID, description="<img src=x onerror=alert(1)>"
                                                              , code="ESCAPED"))
    page = admin_client.get("/admin/discounts").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page


def test_edit_prefills_saves_and_audits(admin_client, auth, db):
    post(admin_client, auth, "/admin/discounts/new", dict(VALID, kind="fixed", value="7.25"))
    d = code(db, "WELCOME15")
    page = admin_client.get(f"/admin/discounts/{d.id}/edit").get_data(as_text=True)
    assert 'value="7.25"' in page and 'value="WELCOME15"' in page
    r = post(admin_client, auth, f"/admin/discounts/{d.id}/edit", dict(VALID, kind="fixed", value="9", max_uses="50"))
    assert r.status_code == 303
    d = code(db, "WELCOME15")
    assert (d.value, d.max_uses) == (900, 50)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "discount.updated")).one()
    assert entry.before == {"value": 725, "max_uses": None} and entry.after == {"value": 900, "max_uses": 50}
    r = post(admin_client, auth, f"/admin/discounts/{d.id}/edit", dict(VALID, kind="fixed", value="0"))
    assert r.status_code == 200 and "more than 0.00" in r.get_data(as_text=True)
    assert code(db, "WELCOME15").value == 900
    assert admin_client.get("/admin/discounts/99999/edit").status_code == 404


def test_deactivate_activate_and_delete(admin_client, auth, db, make_book):
    post(admin_client, auth, "/admin/discounts/new", VALID)
    d = code(db, "WELCOME15")
    d_id = d.id
    assert post(admin_client, auth, f"/admin/discounts/{d.id}/deactivate").status_code == 303
    assert code(db, "WELCOME15").active is False
    r = post(admin_client, auth, f"/admin/discounts/{d.id}/deactivate")
    assert "already deactivated" in admin_client.get(r.headers["Location"]).get_data(as_text=True)
    r = post(admin_client, auth, f"/admin/discounts/{d.id}/activate", {"back": "edit"})
    assert r.headers["Location"].endswith(f"/admin/discounts/{d.id}/edit") and code(db, "WELCOME15").active
    assert admin_client.post(f"/admin/discounts/{d.id}/delete", data={}).status_code == 400  # no CSRF token

    used = dict(VALID, code="USED", max_uses_per_user="")
    post(admin_client, auth, "/admin/discounts/new", used)
    u = code(db, "USED")
    start(auth.user("redeemer"), [(make_book(on_hand=3), 1, "buy", 1)], code="used")
    page = admin_client.get(f"/admin/discounts/{u.id}/edit").get_data(as_text=True)
    assert "cannot be renamed or deleted" in page and "/delete" not in page
    r = post(admin_client, auth, f"/admin/discounts/{u.id}/delete")
    assert "cannot be deleted" in admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert code(db, "USED")

    r = post(admin_client, auth, f"/admin/discounts/{d_id}/delete")
    assert r.status_code == 303 and "“WELCOME15” deleted." in admin_client.get(r.headers["Location"]).get_data(
        as_text=True)
    db.session.expire_all()
    assert db.session.get(DiscountCode, d_id) is None
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_type == "discount",
                                                               AuditLog.object_id == str(d_id))
                                 .order_by(AuditLog.id)).all()
    assert actions == ["discount.created", "discount.deactivated", "discount.activated", "discount.deleted"]


def test_customers_cannot_manage_codes(client, auth):
    auth.user("nosy")
    auth.login("nosy")
    assert client.get("/admin/discounts").status_code == 403
    assert auth.post("/admin/discounts/new", VALID).status_code == 403
