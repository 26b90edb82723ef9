"""Emails rendered from templates/email: the HTML part follows the text part, escapes what people typed and
offers only the shop's own links."""
from __future__ import annotations

import re

from webapp.services.platform import mail


def _links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_a_password_reset_carries_its_link_and_no_other_in_both_parts(app):
    with app.app_context():
        subject, text, html = mail.render("account_password_reset", name="Ann <b>http://evil.example/x</b>",
                                          link="http://shop.test/reset/tok3n")
    assert subject == "Reset your Folio password"
    assert "http://evil.example/x" in text and "\nhttp://shop.test/reset/tok3n\n" in text
    assert _links(html) == ["http://shop.test/reset/tok3n"]  # a stranger's URL in a name stays text
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_other_emails_sign_with_the_shop_link_and_keep_trailing_punctuation_out(app):
    with app.app_context():
        subject, text, html = mail.render("account_verify_code", name="Ann", code="123456", minutes=15)
    assert text.rstrip().endswith("Folio\nhttp://shop.test")
    assert _links(html) == ["http://shop.test", "http://shop.test/contact", "http://shop.test/privacy"]
    assert "<title>" + subject + "</title>" in html
