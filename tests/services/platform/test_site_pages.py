"""services.platform.site_pages: safe Markdown, defaults from the configuration, saving and restoring."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import AuditLog, SitePage
from webapp.services.platform import site_pages
from webapp.services.platform.site_pages import SitePageError


@pytest.mark.parametrize("markdown, forbidden", [
    ("<script>alert(1)</script>", "<script"),
    ("[click](javascript:alert(1))", 'href="javascript'),
    ("[click](JaVaScRiPt:alert(1))", "href=\"JaVa"),
    ('<a href="https://evil.example" onclick="x()">hi</a>', "<a href"),
    ("<iframe src=https://evil.example></iframe>", "<iframe"),
    ("![tracker](https://evil.example/pixel.png)", "<img"),
    ('<img src=x onerror="alert(1)">', "<img"),
    ("[x](data:text/html;base64,PHNjcmlwdD4=)", 'href="data:'),
    ("<style>body{display:none}</style>", "<style"),
])
def test_render_keeps_nothing_that_runs_or_tracks(app, markdown, forbidden):
    html = str(site_pages.render(markdown))
    assert forbidden.lower() not in html.lower()


def test_render_keeps_formatting_and_makes_links_safe(app):
    html = str(site_pages.render("# Title\n\n**bold** *em* `code`\n\n- one\n- two\n\n"
                                 "[Shop](https://example.com/x) [mail](mailto:help@example.com) [faq](/faq)\n\n"
                                 "| a | b |\n|---|---|\n| 1 | 2 |"))
    assert "<h2>Title</h2>" in html and "<h1>" not in html  # the page's title is the one h1
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html and "<code>code</code>" in html
    assert "<li>one</li>" in html and "<table>" in html
    assert '<a href="https://example.com/x" rel="noopener noreferrer">Shop</a>' in html
    assert 'href="mailto:help@example.com"' in html and 'href="/faq"' in html


def test_raw_html_is_shown_as_text(app):
    assert "&lt;b&gt;hi&lt;/b&gt;" in str(site_pages.render("<b>hi</b>"))


def test_defaults_follow_the_configuration(app, monkeypatch):
    monkeypatch.setitem(app.config, "RENTAL_SHIPPING_CENTS", 321)
    monkeypatch.setitem(app.config, "LATE_FEE_PER_DAY_CENTS", 75)
    monkeypatch.setitem(app.config, "RETURN_INSTRUCTIONS", "Wrap it well.")
    with app.test_request_context():
        page = site_pages.get("shipping-returns")
    assert page is not None and not page.customised
    assert "$3.21" in page.body_md and "$0.75 a day" in page.body_md and "Wrap it well." in page.body_md
    assert "{" not in "".join(site_pages.default(slug)[1] for slug in site_pages.SLUGS)  # every placeholder filled


def test_save_validates_and_upserts(app, db, auth):
    admin = auth.user("boss", role="admin")
    with pytest.raises(SitePageError) as refused:
        site_pages.save("faq", "  ", "x" * (site_pages.BODY_MAX + 1), admin)
    assert set(refused.value.errors) == {"title", "body_md"}
    with pytest.raises(SitePageError):
        site_pages.save("imprint", "Imprint", "text", admin)
    site_pages.save("faq", "  Questions   and answers ", "First\r\n", admin, ip="10.0.0.1")
    db.session.commit()
    other = auth.user("boss2", role="admin")
    page = site_pages.save("faq", "FAQ", "Second", other)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(SitePage)) == 1
    assert (page.title, page.body_md, page.customised, page.updated_by) == ("FAQ", "Second", True, "boss2")
    first = db.session.scalar(select(AuditLog).where(AuditLog.action == "site_page.saved").order_by(AuditLog.id))
    assert first.object_id == "faq" and first.before["default"] is True and first.ip == "10.0.0.1"


def test_restore_default_drops_the_saved_text(app, db, auth):
    admin = auth.user("boss", role="admin")
    site_pages.save("about", "About", "Ours", admin)
    db.session.commit()
    page = site_pages.restore_default("about", admin)
    db.session.commit()
    assert not page.customised and page.title == "About us"
    assert db.session.scalar(select(func.count()).select_from(SitePage)) == 0


@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): SQLite serialises writers")
def test_admins_saving_the_same_new_page_at_once_all_succeed(app, db, auth):
    ids = [auth.user(f"boss{i}", role="admin").id for i in range(4)]

    def work(i):
        from webapp.extensions import db as thread_db
        from webapp.models import User

        user = thread_db.session.get(User, ids[i])
        return lambda: site_pages.save("terms", f"Terms {i}", f"Version {i}", user)

    outcomes = race(app, work, 4)
    assert outcomes == ["ok"] * 4
    rows = db.session.scalars(select(SitePage)).all()
    assert len(rows) == 1 and rows[0].title in {f"Terms {i}" for i in range(4)}
