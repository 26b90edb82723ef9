"""The admin audit log: filters, object links, readable and escaped changes, keyset pages, index use."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, text

from tests.checkout_helpers import pay, start
from tests.conftest import using_postgres
from webapp.models import AuditLog, DiscountCode, User, utcnow
from webapp.services.platform import audit


def post(admin_client, auth, url, data=None):
    data = dict(data or {})
    data["csrf_token"] = auth.csrf(admin_client)
    return admin_client.post(url, data=data)


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-testid="audit-row">.*?<code>([^<]+)</code>', html, re.S)


@pytest.fixture
def history(admin_client, auth, db, make_book, run_jobs):
    """A few real admin actions and security events."""
    book = make_book(on_hand=3)
    customer = auth.user("audited_reader")
    order = start(customer, [(book, 1, "buy", 1)])
    pay(order)
    run_jobs()
    post(admin_client, auth, f"/admin/orders/{order.number}/ship", {"tracking": "<b>TRK-1</b>"})
    post(admin_client, auth, "/admin/discounts/new", {"code": "AUDITME", "kind": "fixed", "value": "5",
                                                      "active": "y"})
    post(admin_client, auth, f"/admin/users/{customer.id}/role", {"role": "author"})
    with time_machine.travel(utcnow() - timedelta(minutes=5), tick=False):  # a security event, earlier
        audit.record("user.password_changed", actor_id=customer.id, object_type="user", object_id=customer.id,
                     ip="198.51.100.7")
        db.session.commit()
    discount = db.session.scalars(select(DiscountCode)).one()
    return {"order": order, "customer": customer, "discount": discount, "book": book}


def test_every_admin_action_is_listed_newest_first_with_links(admin_client, history, db):
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    actions = rows(page)
    assert actions[:3] == ["admin.user_role_changed", "discount.created", "order.shipped"]
    assert {"user.password_changed", "user.2fa_enabled"} <= set(actions)
    order, customer, discount = history["order"], history["customer"], history["discount"]
    assert f'<a href="/admin/orders/{order.number}">order {order.number}</a>' in page
    assert f'<a href="/admin/users/{customer.id}">user {customer.id}</a>' in page
    assert f'<a href="/admin/discounts/{discount.id}/edit">discount {discount.id}</a>' in page
    assert "127.0.0.1" in page and '>boss</a>' in page
    # before → after as a small escaped table
    assert "<th scope=\"row\">role</th><td>customer</td><td>author</td>" in page
    assert "&lt;b&gt;TRK-1&lt;/b&gt;" in page and "<b>TRK-1</b>" not in page
    assert "198.51.100.7" in page


def test_filters_by_action_actor_object_and_dates(admin_client, auth, history, db):
    def actions(query: str, htmx=False) -> list[str]:
        r = admin_client.get("/admin/audit?" + query, headers={"HX-Request": "true"} if htmx else {})
        assert r.status_code == 200
        if htmx:
            assert "<html" not in r.get_data(as_text=True) and "HX-Request" in r.headers["Vary"]
        return rows(r.get_data(as_text=True))

    assert actions("action=order.") == ["order.shipped"]
    assert actions("action=order") == ["order.shipped"]
    assert actions("action=discount.*", htmx=True) == ["discount.created"]
    assert actions("action=admin.user_role_changed") == ["admin.user_role_changed"]
    assert actions("action=admin.user_role") == []  # without a trailing dot or *, an exact name
    assert set(actions("actor=boss")) == {"order.shipped", "discount.created", "admin.user_role_changed",
                                          "user.2fa_enabled"}
    assert set(actions("actor=BOSS%40example.com")) == set(actions("actor=boss"))
    customer = history["customer"]
    assert actions(f"actor=%23{customer.id}") == ["user.password_changed"]
    assert "No user matches “nobody”." in admin_client.get("/admin/audit?actor=nobody").get_data(as_text=True)
    assert actions(f"object_type=user&object_id={customer.id}") == ["admin.user_role_changed", "user.password_changed"]
    order = history["order"]
    assert actions(f"object_type=order&object_id={order.number.lower()}") == ["order.shipped"]
    today = utcnow().date()
    assert actions(f"date_to={today - timedelta(days=1)}") == []
    assert len(actions(f"date_from={today}&date_to={today}")) >= 5
    assert admin_client.get("/admin/audit?date_from=nope&object_type=zzz&before=garbage").status_code == 200
    r = admin_client.get(f"/admin/audit?date_from={today}&date_to={today - timedelta(days=2)}")
    assert "The end date is before the start date." in r.get_data(as_text=True)


def test_system_entries_and_escaping(admin_client, db):
    audit.record("security.login_blocked", object_type="user", object_id="999999", ip="203.0.113.9",
                 before={"attempts": 4}, after={"attempts": 5, "why": "<script>alert('x')</script>",
                                                "refund_cents": 1250, "locked": True})
    db.session.commit()
    page = admin_client.get("/admin/audit?actor=system").get_data(as_text=True)
    assert rows(page) == ["security.login_blocked"] and "system" in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "$12.50" in page and "<td>yes</td>" in page and "<td>4</td><td>5</td>" in page


def test_deleted_discount_is_not_linked_and_books_link_only_when_the_page_exists(admin_client, db, app):
    audit.record("discount.deleted", object_type="discount", object_id="4242", before={"code": "GONE"})
    audit.record("book.updated", object_type="book", object_id="7", after={"title": "New"})
    db.session.commit()
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "discount 4242" in page and "/admin/discounts/4242/edit" not in page
    has_book_editor = any(re.fullmatch(r"/admin/books/<[^>/]+>/edit", r.rule) for r in app.url_map.iter_rules())
    assert ('href="/admin/books/7/edit"' in page) == has_book_editor


def test_keyset_pages_cover_every_entry_once(admin_client, db):
    moment = utcnow() - timedelta(hours=1)
    with time_machine.travel(moment, tick=False):  # same timestamp: the id breaks ties
        for i in range(70):
            audit.record("bulk.same_time", object_type="user", object_id=str(i))
        db.session.commit()
    for i in range(50):
        audit.record("bulk.later", object_type="user", object_id=str(100 + i))
    db.session.commit()
    seen, url, pages = [], "/admin/audit?action=bulk.", 0
    while url:
        html = admin_client.get(url).get_data(as_text=True)
        seen += re.findall(r"user (\d+)</a>", html)
        pages += 1
        nxt = re.search(r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#audit-table" hx-push-url="true" rel="next"',
                        html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
        assert pages < 10
    assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120
    assert seen[:50] == [str(i) for i in range(149, 99, -1)]
    assert 'rel="first"' in admin_client.get("/admin/audit?action=bulk.&before=" + audit.cursor_of(
        db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first())).get_data(as_text=True)


def test_query_count_does_not_grow_with_rows(admin_client, db, count_queries):
    boss = db.session.scalars(select(User).where(User.username == "boss")).one()

    def queries() -> int:
        with count_queries() as statements:
            assert admin_client.get("/admin/audit", headers={"HX-Request": "true"}).status_code == 200
        return len(statements)

    audit.record("admin.bulk", actor_id=boss.id, object_type="discount", object_id="0")
    audit.record("admin.bulk", actor_id=None, object_type="order", object_id="FO-X")
    db.session.commit()
    few = queries()
    for i in range(40):
        audit.record("admin.bulk", actor_id=boss.id, object_type="discount", object_id=str(i))
    db.session.commit()
    assert queries() == few


def test_customers_cannot_read_the_audit_log(client, auth):
    auth.user("nosy")
    auth.login("nosy")
    assert client.get("/admin/audit").status_code == 403


@pytest.mark.skipif(not using_postgres(), reason="query plans: PostgreSQL only")
@pytest.mark.parametrize("filters, index", [
    ({}, "ix_audit_log_created"),
    ({"actor": "boss"}, "ix_audit_log_actor_created"),
    ({"object_type": "order", "object_id": "FO-AAAA-BBBB-CCCC"}, "ix_audit_log_object"),
    ({"action": "order.shipped"}, "ix_audit_log_action"),
    ({"action": "order."}, "ix_audit_log_action"),
    ({"date_from": utcnow().date()}, "ix_audit_log_created"),
])
def test_filters_can_use_the_audit_indexes(app, db, auth, filters, index):
    """With sequential scans off, each filter's query has an index to go to (the planner picks by cost)."""
    from sqlalchemy.dialects import postgresql

    auth.user("boss")
    captured = []
    real = db.session.scalars

    def capture(stmt, *a, **kw):
        captured.append(stmt)
        return real(stmt, *a, **kw)

    db.session.scalars = capture
    try:
        audit.search(**filters)
    finally:
        del db.session.scalars
    sql = str(captured[-1].compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.scalars(text("EXPLAIN " + sql)))
    assert index in plan, plan
