"""The account emails, word for word: rendered from templates/email/account_*.txt (text and HTML parts), with the
shop's name from SHOP_NAME and links only as the caller gives them."""
import pytest

from webapp.services.platform import mail

LINK = "http://shop.test/password/reset/tok"
CASES = [
    ("account_password_reset", {"name": "Ann", "link": LINK}, "Reset your Folio password",
     "Hello Ann,\n\nSomeone (hopefully you) asked to reset your password. Open this link within an hour to choose "
     f"a new one:\n\n{LINK}\n\nIf it wasn't you, ignore this email: your password stays the same.\n\n-- \nFolio\n"),
    ("account_password_reset_by_staff", {"name": "Ann", "link": LINK}, "Please choose a new password",
     "Hello Ann,\n\nFor your security, an administrator has asked you to choose a new password. Your old password "
     f"no longer works. Set a new one within an hour here:\n\n{LINK}\n\nIf the link expires, use 'Forgot password' "
     "on the sign-in page.\n\n-- \nFolio\n"),
    ("account_registration_attempt",
     {"name": "Ann", "username": "ann", "sign_in_url": "http://shop.test/login", "reset_url": None},
     "Someone tried to register at Folio with your email address",
     "Hello Ann,\n\nSomeone just tried to create a new Folio account with this email address, which already has an "
     "account: yours (username ann). No new account was created and nothing about your account changed.\n\nIf it "
     "was you, sign in or reset your password instead:\n\nSign in: http://shop.test/login\n\nIf it wasn't you, you "
     "can ignore this email.\n\n-- \nFolio\nhttp://shop.test\n"),
    ("account_verify_code", {"name": "Ann", "code": "012345", "minutes": 15}, "Your Folio verification code: 012345",
     "Hello Ann,\n\nWelcome! Confirm your email address with this code:\n\n    012345\n\nIt is valid for 15 "
     "minutes. If you did not ask for it, you can ignore this email.\n\n-- \nFolio\nhttp://shop.test\n"),
    ("account_new_email_code", {"name": "Ann", "code": "012345", "minutes": 15},
     "Confirm your new Folio email: 012345",
     "Hello Ann,\n\nConfirm this new email address for your account with this code:\n\n    012345\n\nIt is valid "
     "for 15 minutes. If you did not ask for it, you can ignore this email.\n\n-- \nFolio\nhttp://shop.test\n"),
]


@pytest.mark.parametrize(("template", "context", "subject", "text"), CASES, ids=[c[0] for c in CASES])
def test_account_emails_read_as_they_always_did(app, template, context, subject, text):
    with app.app_context():
        got_subject, got_text, html = mail.render(template, **context)
    assert (got_subject, got_text) == (subject, text)
    assert f"<title>{subject}</title>" in html and "Hello Ann," in html


def test_the_shop_name_comes_from_the_settings(app, monkeypatch):
    monkeypatch.setitem(app.config, "SHOP_NAME", "Bookery")
    with app.app_context():
        subject, text, _ = mail.render("account_password_reset", name="Ann", link=LINK)
    assert subject == "Reset your Bookery password" and text.endswith("\n-- \nBookery\n")
