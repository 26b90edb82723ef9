"""The shop's own pages, the contact form and the admin page editor, through the test client."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from webapp.models import AuditLog, OutboundEmail, SitePage

PUBLIC = ["/about", "/contact", "/shipping-returns", "/privacy", "/terms", "/faq"]


def _emails(db):
    return db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)).all()


@pytest.mark.parametrize("path", PUBLIC)
def test_every_page_is_public_and_linked_from_the_footer(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    footer = html[html.index("<footer"):]
    for other in PUBLIC:
        assert f'href="{other}"' in footer
    assert "<h1>" in html


def test_shipping_page_states_the_configured_figures(app, client, monkeypatch):
    for key, value in {"SHIPPING_FLAT_CENTS": 650, "FREE_SHIPPING_THRESHOLD_CENTS": 5000, "RENTAL_SHIPPING_CENTS": 275,
                       "RETURN_ADDRESS": "Returns Desk\n9 Quay Road\nPortsmouth PO1 1AA",
                       "RENTAL_RETURN_TRANSIT_DAYS": 9}.items():
        monkeypatch.setitem(app.config, key, value)
    html = client.get("/shipping-returns").get_data(as_text=True)
    assert "$6.50" in html and "$50.00" in html and "$2.75" in html
    assert re.search(r"Returns Desk<br\s*/?>\s*9 Quay Road<br\s*/?>\s*Portsmouth PO1 1AA", html)
    assert "9 days later" in html
    assert "I&#39;ve sent it back" in html or "I've sent it back" in html


def test_unknown_pages_are_404(client, admin_client):
    assert client.get("/imprint").status_code == 404
    assert admin_client.get("/admin/pages/imprint").status_code == 404


def test_customers_and_visitors_cannot_reach_the_editor(client, auth):
    assert client.get("/admin/pages").status_code in (302, 303)
    auth.user("reader1")
    auth.login("reader1")
    assert client.get("/admin/pages").status_code == 403
    assert client.get("/admin/pages/faq").status_code == 403
    assert auth.post("/admin/pages/faq", {"title": "Hacked", "body_md": "x"}).status_code == 403


def test_admin_edits_previews_saves_and_restores_a_page(app, admin_client, auth, db):
    listing = admin_client.get("/admin/pages").get_data(as_text=True)
    assert 'href="/admin/pages/faq"' in listing and "Built-in" in listing
    page = admin_client.get("/admin/pages/faq").get_data(as_text=True)
    assert "How does renting work?" in page  # the default text in the box and its preview

    token = auth.csrf(admin_client)
    body = "## Opening hours\n\nMonday to Saturday.\n\n<script>alert(1)</script> [x](javascript:alert(1))"
    preview = admin_client.post("/admin/pages/faq", data={"csrf_token": token, "title": "FAQ", "body_md": body,
                                                          "action": "preview"})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "<h2>Opening hours</h2>" in html and "<script>alert" not in html and 'href="javascript' not in html
    assert db.session.scalar(select(SitePage)) is None  # preview saves nothing

    live = admin_client.post("/admin/pages/faq/preview", data={"csrf_token": token, "title": "FAQ", "body_md": body},
                             headers={"HX-Request": "true"})
    assert live.status_code == 200 and "<h2>Opening hours</h2>" in live.get_data(as_text=True)
    assert "<html" not in live.get_data(as_text=True)  # a partial

    saved = admin_client.post("/admin/pages/faq", data={"csrf_token": token, "title": "Questions", "body_md": body,
                                                        "action": "save"})
    assert saved.status_code == 303
    public = admin_client.get("/faq").get_data(as_text=True)
    assert "<h1>Questions</h1>" in public and "Monday to Saturday." in public
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in public and "<script>alert" not in public
    row = db.session.scalar(select(SitePage))
    assert (row.slug, row.title) == ("faq", "Questions")

    restored = admin_client.post("/admin/pages/faq/restore", data={"csrf_token": token})
    assert restored.status_code == 303
    assert db.session.scalar(select(SitePage)) is None
    assert "How does renting work?" in admin_client.get("/faq").get_data(as_text=True)
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_type == "site_page")
                                 .order_by(AuditLog.id)).all()
    assert actions == ["site_page.saved", "site_page.restored"]


def test_the_editor_shows_errors_and_needs_csrf(admin_client, auth, db):
    token = auth.csrf(admin_client)
    refused = admin_client.post("/admin/pages/about", data={"csrf_token": token, "title": "x" * 121,
                                                            "body_md": "", "action": "save"})
    assert refused.status_code == 200
    html = refused.get_data(as_text=True)
    assert "Keep the title to 120 characters" in html and "The page needs some text" in html
    no_token = admin_client.post("/admin/pages/about", data={"title": "About", "body_md": "Hi", "action": "save"})
    assert no_token.status_code in (200, 400)
    assert db.session.scalar(select(SitePage)) is None


def _contact(auth, client=None, **overrides):
    data = {"name": "Ann Reader", "email": "ann@example.com", "topic": "order",
            "message": "Where is my order FO-1234? It has been a week."} | overrides
    return auth.post("/contact", data, client=client)


def test_contact_form_emails_staff_and_acknowledges(client, auth, db):
    auth.user("boss", role="admin")
    response = _contact(auth)
    assert response.status_code == 303 and response.headers["Location"].endswith("/contact/sent")
    emails = _emails(db)
    assert [e.recipient for e in emails] == ["boss@example.com", "ann@example.com"]
    staff, ack = emails
    assert "Ann Reader" in staff.subject and "Where is my order FO-1234?" in staff.body_text
    assert "ann@example.com" in staff.body_text and "not signed in" in staff.body_text
    assert "Where is my order" not in ack.body_text and "Ann Reader" not in ack.body_text  # quotes nothing typed
    assert "message is on its way" in client.get("/contact/sent").get_data(as_text=True)


def test_contact_email_setting_wins_and_signed_in_users_are_prefilled(app, client, auth, db, monkeypatch):
    auth.user("reader1", email="reader@example.com")
    auth.login("reader1")
    form = client.get("/contact").get_data(as_text=True)
    assert 'value="reader1"' in form and 'value="reader@example.com"' in form
    monkeypatch.setitem(app.config, "CONTACT_EMAIL", "help@shop.test")
    assert _contact(auth, email="reader@example.com").status_code == 303
    staff = _emails(db)[0]
    assert staff.recipient == "help@shop.test" and "signed in as reader1" in staff.body_text


def test_contact_form_errors_inline_honeypot_and_csrf(client, auth, db):
    auth.user("boss", role="admin")
    bad = _contact(auth, name="", email="not-an-address", topic="", message="hi")
    assert bad.status_code == 200
    html = bad.get_data(as_text=True)
    assert "Tell us your name." in html and "Choose what your message is about." in html
    assert 'aria-invalid="true"' in html
    assert _contact(auth, message="short").status_code == 200
    bot = _contact(auth, website="http://spam.example")
    assert bot.status_code == 303  # told "sent" ...
    assert client.post("/contact", data={"name": "A", "email": "a@example.com", "topic": "order",
                                         "message": "No token in this form at all."}).status_code in (200, 400)
    assert _emails(db) == []  # ... but nothing was sent, for any of them


def test_contact_form_is_rate_limited_with_a_friendly_page(client, auth, db):
    auth.user("boss", role="admin")
    for _ in range(5):
        assert _contact(auth).status_code == 303
    limited = _contact(auth, message="A sixth message, typed with care.")
    assert limited.status_code == 429
    html = limited.get_data(as_text=True)
    assert "Please try again in" in html and "A sixth message, typed with care." in html  # what was typed stays
    assert re.search(r"<form[^>]+/contact", html)
    assert len(_emails(db)) == 10


def test_page_edits_are_in_the_audit_log(admin_client, auth):
    token = auth.csrf(admin_client)
    admin_client.post("/admin/pages/terms", data={"csrf_token": token, "title": "Terms", "body_md": "New terms.",
                                                  "action": "save"})
    log = admin_client.get("/admin/audit?object_type=site_page").get_data(as_text=True)
    assert "site_page.saved" in log and "terms" in log
