"""Accounts in the browser: register, confirm the email, 2FA with TOTP and recovery codes,
inline validation, the admin users panel, axe audits and screenshots of the account pages."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_TOTP, PASSWORD

from .axe import VIEWPORTS, AxeReport
from .conftest import assert_same_document, header_menu, mark_document

SIGNED_OUT = "You are signed out."
WRONG_2FA = "That code is not right (or was already used)."


# ---- helpers -----------------------------------------------------------------------------

def _header_user(page: Page, username: str):
    return page.locator(".site-header .nav-links").get_by_role("link", name=username, exact=True)


def sign_out(page: Page) -> None:
    page.locator(".site-header").get_by_role("button", name="Sign out").click()
    expect(page.locator(".flashes")).to_contain_text(SIGNED_OUT)
    expect(page.locator(".site-header").get_by_role("link", name="Sign in", exact=True)).to_be_visible()


def sign_in(page: Page, login: str, password: str = PASSWORD) -> None:
    """Fill and send the /login form (where it lands is for the caller to check)."""
    page.goto("/login")
    page.locator("#login").fill(login)
    page.locator("#password").fill(password)
    page.locator("main").get_by_role("button", name="Sign in").click()


def second_factor(page: Page, code: str) -> None:
    expect(page).to_have_url(re.compile(r"/login/2fa(\?|$)"))
    page.locator("#code").fill(code)
    page.locator("main").get_by_role("button", name="Verify").click()


def next_totp(secret: str) -> str:
    """A code the server takes but has not seen yet: the one for the next 30 s step.

    A code is refused once its time step (or an earlier one) was used, and the server
    accepts the current step +/- 1, so the next step's code works at once without
    waiting for the clock to tick over.
    """
    return pyotp.TOTP(secret).at(time.time() + 30)




# ---- 1. the accounts acceptance journey ---------------------------------------------------

def test_register_verify_2fa_and_recovery_code_journey(e2e_page: Page, deliver_mail):
    page = e2e_page
    username, email = "quill_reader", "quill@example.com"

    # --- register through the form
    page.goto("/register")
    page.locator("#username").fill(username)
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/register/confirm$"))
    expect(page.locator("main h1")).to_have_text("Confirm your email")
    expect(page.locator("main")).to_contain_text(email)
    expect(_header_user(page, username)).to_have_count(0)  # signed in only once the emailed code is entered

    # --- the worker delivers the email; read the code in the dev outbox
    assert deliver_mail(), "registering queued no email"
    page.goto("/dev/outbox")
    newest = page.locator("main table tbody tr").first
    expect(newest.locator("td").nth(1)).to_have_text(email)
    expect(newest.locator("td").nth(3)).to_have_text("outbox")  # delivered (kept in the dev outbox)
    expect(newest.locator("td").nth(2)).to_contain_text("verification code")
    newest.get_by_role("link").click()
    body = page.locator("pre.email-body")
    expect(body).to_contain_text("with this code:")
    match = re.search(r"with this code:\s+(\d{6})\b", body.inner_text())
    assert match, body.inner_text()
    code = match.group(1)

    # --- confirm the address: that signs the new account in
    page.goto("/register/confirm")
    page.locator("#code").fill(code)
    page.locator("main").get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator(".flashes")).to_contain_text("Your email address is confirmed")
    expect(page.locator("dl.facts")).to_contain_text(username)
    expect(page.locator("dl.facts dt:text-is('Email') + dd .status-pill")).to_have_text("verified")

    # --- sign out, sign in with the password (no 2FA yet: straight in)
    sign_out(page)
    sign_in(page, username)
    expect(page.locator(".flashes")).to_contain_text("Welcome back")
    expect(_header_user(page, username)).to_be_visible()

    # --- turn on two-factor authentication
    page.goto("/account/security")
    page.get_by_role("button", name="Turn on two-factor authentication").click()  # a link styled as a button
    expect(page).to_have_url(re.compile(r"/account/2fa/setup$"))
    secret = page.locator("[data-testid=totp-secret]").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    setup_code = pyotp.TOTP(secret).now()
    page.locator("#code").fill(setup_code)
    page.locator("main").get_by_role("button", name="Turn on", exact=True).click()
    # The codes come back in the POST's own response (never stored in the session), so the URL stays.
    expect(page).to_have_url(re.compile(r"/account/2fa/setup$"))
    expect(page.locator(".flashes")).to_contain_text("Two-factor authentication is on")
    codes_list = page.locator("[data-testid=recovery-codes] li")
    expect(codes_list).to_have_count(10)
    recovery_codes = [c.strip() for c in codes_list.all_inner_texts()]
    assert len(set(recovery_codes)) == 10, recovery_codes
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in recovery_codes), recovery_codes
    expect(page.locator("#tfa-heading + p")).to_contain_text("10 recovery codes left.")
    # Shown once only: the security page no longer lists them.
    page.goto("/account/security")
    expect(page.locator("[data-testid=recovery-codes]")).to_have_count(0)

    # --- sign out; signing in now asks for the second factor
    sign_out(page)
    sign_in(page, username)
    expect(page).to_have_url(re.compile(r"/login/2fa(\?|$)"))
    expect(_header_user(page, username)).to_have_count(0)  # not signed in yet
    second_factor(page, setup_code)  # the code used at setup: refused as a replay
    expect(page.locator("#code-feedback")).to_have_text(WRONG_2FA)
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    second_factor(page, next_totp(secret))
    expect(page.locator(".flashes")).to_contain_text("Welcome back")
    expect(_header_user(page, username)).to_be_visible()
    page.goto("/account")
    expect(page.locator("dl.facts")).to_contain_text(username)
    expect(page.locator("dl.facts dt:text-is('Two-factor') + dd .status-pill")).to_have_text("on")

    # --- sign out; sign in with a recovery code instead
    sign_out(page)
    sign_in(page, email)  # by email address this time
    second_factor(page, recovery_codes[3].upper())  # case does not matter
    expect(page.locator(".flashes")).to_contain_text("Signed in with a recovery code. 9 left")
    expect(_header_user(page, username)).to_be_visible()
    page.goto("/account/security")
    expect(page.locator("#tfa-heading + p")).to_contain_text("9 recovery codes left.")
    methods = page.locator("#sessions-heading ~ .table-wrap tbody tr td:nth-child(3)").all_inner_texts()
    assert "recovery code" in methods and "totp" in methods and "password" in methods, methods

    # --- a recovery code works once only
    sign_out(page)
    sign_in(page, username)
    second_factor(page, recovery_codes[3])
    expect(page.locator("#code-feedback")).to_have_text(WRONG_2FA)
    expect(_header_user(page, username)).to_have_count(0)


# ---- 2. inline validation on /register ----------------------------------------------------

def type_and_validate(page: Page, field: str, text: str, *, paste: bool = False) -> None:
    """Put `text` in a /register field and wait for htmx's validation of exactly that text.

    Typing triggers it on keyup (after a 600 ms pause); `paste=True` fills the field at once
    and leaves it with Tab, which triggers it on change, without the pause.
    """
    def checks_this_text(response) -> bool:
        request = response.request
        return (response.url.endswith(f"/register/validate/{field}") and request.method == "POST"
                and parse_qs(request.post_data or "").get(field) == [text])

    box = page.locator(f"#{field}")
    with page.expect_response(checks_this_text) as response:
        if paste:
            box.fill(text)
            box.press("Tab")
        else:
            box.fill("")
            box.press_sequentially(text, delay=5)
    assert response.value.status == 200, response.value


def test_register_validates_fields_as_you_type(e2e_page: Page, make_user):
    page = e2e_page
    make_user("taken_name")
    page.goto("/register")
    mark_document(page)
    username_feedback = page.locator("#username-feedback")
    password_feedback = page.locator("#password-feedback")
    expect(username_feedback).to_have_text("3 to 30 letters, digits or underscores.")  # the field's help

    type_and_validate(page, "username", "ab")  # too short
    expect(username_feedback.locator(".error-text")).to_have_text("Use 3 to 30 letters, digits or underscores.")
    type_and_validate(page, "username", "taken_name", paste=True)
    expect(username_feedback.locator(".error-text")).to_have_text("That username is taken.")
    type_and_validate(page, "username", "fresh_name", paste=True)
    expect(username_feedback).to_have_text("Looks good.")

    type_and_validate(page, "email", "not-an-email")
    expect(page.locator("#email-feedback .error-text")).to_be_visible()

    type_and_validate(page, "password", "password123")  # a common password
    expect(password_feedback.locator(".error-text")).to_contain_text("too common or easy to guess")
    type_and_validate(page, "password", PASSWORD, paste=True)
    expect(password_feedback.locator(".error-text")).to_have_count(0)
    expect(password_feedback.locator(".hint-text")).to_contain_text("Strength:")

    type_and_validate(page, "confirm", "something else")
    expect(page.locator("#confirm-feedback .error-text")).to_have_text("The passwords do not match.")
    type_and_validate(page, "confirm", PASSWORD, paste=True)
    expect(page.locator("#confirm-feedback")).to_have_text("Looks good.")
    assert_same_document(page, "inline validation")
    expect(page).to_have_url(re.compile(r"/register$"))


# ---- 3. the admin journey -----------------------------------------------------------------

def test_admin_finds_and_deactivates_a_user(e2e_page: Page, make_user, new_context):
    page = e2e_page
    make_user("boss", role="admin", totp_secret=ADMIN_TOTP)
    for name in ("reader_anna", "reader_bruno", "writer_carla", "writer_dmitri"):
        make_user(name)

    sign_in(page, "boss")
    second_factor(page, pyotp.TOTP(ADMIN_TOTP).now())
    expect(_header_user(page, "boss")).to_be_visible()
    page.locator(".site-header").get_by_role("link", name="Admin", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/users$"))

    count = page.locator("#users-table p[role=status]")
    rows = page.locator("#users-table tbody tr")
    expect(count).to_have_text("5 users")
    expect(rows).to_have_count(5)
    mark_document(page)

    # --- search as you type: the table narrows in place
    page.locator("#q").press_sequentially("writer", delay=30)
    expect(count).to_have_text("2 users")
    expect(rows.locator("td:first-child a")).to_have_text(["writer_dmitri", "writer_carla"])
    expect(page).to_have_url(re.compile(r"/admin/users\?(.*&)?q=writer(&|$)"))
    page.locator("#q").fill("anna")
    expect(count).to_have_text("1 user")
    expect(rows).to_have_count(1)
    assert_same_document(page, "searching users")

    # --- open the user and deactivate them
    rows.first.get_by_role("link", name="reader_anna").click()
    expect(page.locator("main h1")).to_have_text("reader_anna")
    status = page.locator("dl.facts dt:text-is('Status') + dd")
    expect(status).to_have_text("active")
    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator(".flashes")).to_contain_text("Account deactivated and signed out everywhere.")
    expect(status).to_have_text("deactivated")
    expect(page.get_by_role("button", name="Reactivate")).to_be_visible()
    expect(page.locator("#history-heading ~ .table-wrap tbody")).to_contain_text("admin.user_deactivated")

    # --- the list shows the new status, and the account can no longer sign in
    page.get_by_role("link", name="← Users").click()
    page.locator("#status").select_option("deactivated")
    expect(count).to_have_text("1 user")
    expect(rows.first).to_contain_text("reader_anna")
    expect(rows.first.locator(".status-pill.bad")).to_have_text("deactivated")

    other = new_context()
    other.set_default_timeout(5_000)
    anna = other.new_page()
    sign_in(anna, "reader_anna")
    expect(anna.locator(".form-errors")).to_contain_text("do not match an active account")


# ---- 4. axe audits and screenshots --------------------------------------------------------

def _register_with_inline_feedback(page: Page) -> None:
    """The register form after inline validation: two errors and one "Looks good."."""
    page.goto("/register")
    type_and_validate(page, "username", "ab")
    expect(page.locator("#username-feedback .error-text")).to_be_visible()
    type_and_validate(page, "password", "password123", paste=True)
    expect(page.locator("#password-feedback .error-text")).to_be_visible()
    type_and_validate(page, "email", "someone@example.com", paste=True)
    expect(page.locator("#email-feedback .field-ok")).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_axe_violations_on_public_account_pages(new_context, scheme):
    context = new_context(color_scheme=scheme)
    context.set_default_timeout(5_000)
    page = context.new_page()
    report = AxeReport()
    page.goto("/login")
    report.audit(page, "login")
    page.locator("#login").fill("nobody")
    page.locator("#password").fill("wrong password")
    page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-errors")).to_be_visible()
    report.audit(page, "login with an error")

    _register_with_inline_feedback(page)
    report.audit(page, "register with inline feedback")
    page.locator("#confirm").fill("different")
    page.locator("main").get_by_role("button", name="Create account").click()
    expect(page.locator("#username")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#confirm")).to_have_attribute("aria-invalid", "true")
    report.audit(page, "register with errors from the server")

    page.locator("#username").fill("axe_newcomer")
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/register/confirm$"))
    report.audit(page, "register: confirm the code")
    page.locator("#code").fill("000000")
    page.locator("main").get_by_role("button", name="Confirm").click()
    expect(page.locator("#code-feedback .error-text")).to_be_visible()
    report.audit(page, "register: a wrong code")
    report.check()


def test_no_serious_axe_violations_on_signed_in_account_pages(e2e_page: Page, make_user):
    page = e2e_page
    make_user("new_reader", verified=False)
    report = AxeReport()
    sign_in(page, "new_reader")
    expect(_header_user(page, "new_reader")).to_be_visible()

    page.goto("/verify")
    report.audit(page, "verify")
    page.locator("#code").fill("000000")
    page.locator("main").get_by_role("button", name="Confirm").click()
    expect(page.locator("#code-feedback .error-text")).to_be_visible()
    report.audit(page, "verify with an error")

    page.goto("/account")
    report.audit(page, "account (unverified)")
    page.goto("/account/security")
    report.audit(page, "security (2FA off)")

    page.goto("/account/2fa/setup")
    report.audit(page, "2fa setup")
    page.locator("#code").fill("12345x")
    page.locator("main").get_by_role("button", name="Turn on", exact=True).click()
    expect(page.locator("#code-feedback .error-text")).to_be_visible()
    report.audit(page, "2fa setup with an error")
    secret = page.locator("[data-testid=totp-secret]").inner_text().strip()
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.locator("main").get_by_role("button", name="Turn on", exact=True).click()
    expect(page.locator("[data-testid=recovery-codes] li")).to_have_count(10)
    report.audit(page, "security with fresh recovery codes")
    for path, label in [("/account/subscription", "plans"), ("/account/holds", "holds (empty)"),
                        ("/account/wallet", "wallet with top-up form"), ("/account/rentals", "rentals (empty)")]:
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        report.audit(page, label)
    report.check()


def test_no_serious_axe_violations_on_admin_pages(e2e_page: Page, make_user):
    page = e2e_page
    make_user("boss", role="admin", totp_secret=ADMIN_TOTP)
    customer_id = make_user("reader_anna")
    report = AxeReport()
    sign_in(page, "boss")
    second_factor(page, pyotp.TOTP(ADMIN_TOTP).now())
    expect(_header_user(page, "boss")).to_be_visible()
    page.goto("/admin/users")
    expect(page.locator("#users-table tbody tr")).to_have_count(2)
    report.audit(page, "admin users")
    page.locator("#q").fill("zzz-nobody")
    expect(page.locator("#users-table .empty")).to_be_visible()
    report.audit(page, "admin users, no match")
    page.goto(f"/admin/users/{customer_id}")
    report.audit(page, "admin user")
    for view in ("ready", "waiting"):
        page.goto(f"/admin/holds?view={view}")
        expect(page.locator("#holds-table .empty")).to_be_visible()
        report.audit(page, f"admin holds ({view}, empty)")
    report.check()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_account_screenshots_and_layout(new_context, make_user, screenshot_dir, viewport):
    size = VIEWPORTS[viewport]
    context = new_context(viewport=size, device_scale_factor=1)
    context.set_default_timeout(5_000)
    page = context.new_page()
    suffix = f"{viewport}-{size['width']}x{size['height']}.png"

    def overflow() -> int:
        return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")

    page.goto("/login")
    expect(page.locator("#login")).to_be_visible()
    assert overflow() <= 0, f"/login at {viewport} scrolls sideways by {overflow()}px"
    login_box = page.locator("#login").bounding_box()
    assert login_box["width"] >= min(size["width"] * 0.7, 400), f"the login field is squeezed to {login_box}"
    page.screenshot(path=str(screenshot_dir / f"login-{suffix}"), full_page=True)

    # The security page at its fullest: 2FA just turned on (recovery codes shown) and sign-ins listed.
    username = f"shots_{viewport}"
    make_user(username)
    sign_in(page, username)
    expect(header_menu(page).get_by_role("link", name=username, exact=True)).to_be_visible()  # phones: under Menu
    page.goto("/account/2fa/setup")
    secret = page.locator("[data-testid=totp-secret]").inner_text().strip()
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.locator("main").get_by_role("button", name="Turn on", exact=True).click()
    codes = page.locator("[data-testid=recovery-codes] li")
    expect(codes).to_have_count(10)
    assert overflow() <= 0, f"/account/security at {viewport} scrolls sideways by {overflow()}px"
    for i in range(10):
        box = codes.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], f"recovery code {i} is cut off: {box}"
    page.screenshot(path=str(screenshot_dir / f"account-security-{suffix}"), full_page=True)
    assert (screenshot_dir / f"login-{suffix}").stat().st_size > 0
    assert (screenshot_dir / f"account-security-{suffix}").stat().st_size > 0
