"""The shop's own pages in a real browser, at phone and desktop sizes: a visitor opens About from the footer,
goes on to Contact, is told what is missing, then sends a message (staff's email and the acknowledgement land
in the outbox); an admin edits the FAQ with the live preview, saves, and the public page shows the change.
axe audits every page visited; screenshots go to test-artifacts/screenshots/site-pages-<step>-<size>.png."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.conftest import ADMIN_TOTP

from .axe import VIEWPORTS, assert_accessible
from .conftest import in_app, sign_in_as

NEW_FAQ = "## Opening hours\n\nMonday to Saturday, 9 to 6.\n\n### Can I bring my dog?\n\nOf course."


def _shot(page: Page, screenshot_dir, step: str, size: str) -> None:
    page.screenshot(path=str(screenshot_dir / f"site-pages-{step}-{size}.png"), full_page=True)


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_visitor_contacts_the_shop_and_an_admin_edits_the_faq(e2e_page: Page, app, make_user, deliver_mail,
                                                               screenshot_dir, size):
    from webapp.models import OutboundEmail

    page = e2e_page
    page.set_viewport_size(VIEWPORTS[size])
    make_user("boss", role="admin", totp_secret=ADMIN_TOTP)

    page.goto("/")
    page.locator("footer").get_by_role("link", name="About us").click()
    expect(page).to_have_url(re.compile(r"/about$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("About us")
    assert_accessible(page, f"About ({size})")
    _shot(page, screenshot_dir, "about", size)

    page.locator("footer").get_by_role("link", name="Contact").click()
    expect(page).to_have_url(re.compile(r"/contact$"))
    page.get_by_role("button", name="Send message").click()  # nothing filled in
    expect(page.locator("#name-feedback")).to_contain_text("Tell us your name.")
    expect(page.locator("#topic-feedback")).to_contain_text("Choose what your message is about.")
    assert_accessible(page, f"Contact with errors ({size})")
    page.get_by_label("Your name").fill("Vera Visitor")
    page.get_by_label("Your email address").fill("vera@example.com")
    page.get_by_label("What is it about?").select_option("rental")
    page.get_by_label("Your message").fill("How long can I keep a rented book on the Free plan?")
    _shot(page, screenshot_dir, "contact", size)
    page.get_by_role("button", name="Send message").click()
    expect(page).to_have_url(re.compile(r"/contact/sent$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thank you")
    assert_accessible(page, f"Message sent ({size})")

    assert deliver_mail()
    emails = in_app(app, lambda db: [(e.recipient, e.status, e.subject, e.body_text) for e in db.session.scalars(
        select(OutboundEmail).order_by(OutboundEmail.id))])
    assert [(recipient, status) for recipient, status, _s, _b in emails] == [
        ("boss@example.com", "outbox"), ("vera@example.com", "outbox")]
    assert "Vera Visitor" in emails[0][2] and "How long can I keep a rented book" in emails[0][3]

    sign_in_as(page, "boss", ADMIN_TOTP)
    page.goto("/admin/pages")
    assert_accessible(page, f"Admin pages list ({size})")
    page.locator("main").get_by_role("link", name="Frequently asked questions").click()
    expect(page).to_have_url(re.compile(r"/admin/pages/faq$"))
    page.get_by_label("Title").fill("Questions and answers")
    page.get_by_label("Text (Markdown)").fill(NEW_FAQ)
    preview = page.locator("#page-preview")
    expect(preview.get_by_role("heading", name="Opening hours")).to_be_visible(timeout=10_000)  # live, with htmx
    expect(preview).not_to_contain_text("How does renting work?")
    assert_accessible(page, f"FAQ editor with preview ({size})")
    _shot(page, screenshot_dir, "faq-editor", size)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flashes")).to_contain_text("is saved and live")

    page.goto("/faq")
    expect(page.get_by_role("heading", level=1)).to_have_text("Questions and answers")
    expect(page.get_by_role("heading", name="Can I bring my dog?")).to_be_visible()
    assert_accessible(page, f"FAQ after the edit ({size})")
    _shot(page, screenshot_dir, "faq-public", size)
