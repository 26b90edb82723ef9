"""/account/security with API tokens listed beside the browsers: readable and axe-clean at phone and desktop
sizes, and "Revoke" on a token's row ends it (no JavaScript needed: a plain form post)."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .axe import VIEWPORTS, assert_accessible
from .conftest import in_app, sign_in_as


def _token(app, client_name: str | None, user_agent: str = "folio-cli/0.1 (Linux)") -> dict:
    from tests.api.conftest import ApiClient

    def sign_in(db):
        client = ApiClient(app)
        client.client.environ_base["HTTP_USER_AGENT"] = user_agent
        extra = {"client_name": client_name} if client_name else {}
        assert client.sign_in("reader1", **extra).status_code == 200
        return client.tokens

    return in_app(app, sign_in)


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_api_tokens_on_the_security_page(app, e2e_page: Page, make_user, viewport):
    page = e2e_page
    page.set_viewport_size(VIEWPORTS[viewport])
    make_user("reader1")
    cli = _token(app, "folio-cli")
    _token(app, None, "python-requests/2.32.3")
    sign_in_as(page, "reader1")
    page.goto("/account/security")
    rows = page.locator("[data-testid=device]")
    expect(rows).to_have_count(3)
    token_rows = page.locator("[data-testid=device][data-kind=api]")
    expect(token_rows).to_have_count(2)
    cli_row = token_rows.filter(has_text="folio-cli")
    expect(cli_row).to_contain_text("API token")
    expect(cli_row).to_contain_text("folio-cli on Linux")  # the device, from the user agent
    expect(token_rows.filter(has_text="API client")).to_contain_text("a script")
    expect(page.locator("[data-testid=device][data-kind=web]")).to_contain_text("this device")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"/account/security at {viewport} scrolls sideways by {overflow}px"
    assert_accessible(page, f"the security page with API tokens ({viewport})")

    cli_row.get_by_role("button", name="Revoke the API token folio-cli (folio-cli on Linux)").click()
    expect(page.locator(".flashes")).to_contain_text("That API token is revoked.")
    expect(token_rows).to_have_count(1)
    expect(page.locator("[data-testid=device][data-kind=api]").filter(has_text="folio-cli")).to_have_count(0)

    def refused(db):
        r = app.test_client().get("/api/v1/auth/sessions",
                                  headers={"Authorization": f"Bearer {cli['access_token']}"})
        return r.status_code, r.get_json()["error"]["code"]

    assert in_app(app, refused) == (401, "token_revoked")
    assert_accessible(page, f"the security page after revoking a token ({viewport})")


def test_staff_revoke_api_tokens_on_the_admin_user_page(app, e2e_page: Page, make_user):
    from tests.conftest import ADMIN_TOTP

    page = e2e_page
    customer_id = make_user("reader1")
    make_user("boss", role="admin", totp_secret=ADMIN_TOTP)
    cli = _token(app, "folio-cli")
    sign_in_as(page, "boss", totp_secret=ADMIN_TOTP)
    page.goto(f"/admin/users/{customer_id}/sessions")  # the Sessions tab of the customer page
    expect(page.locator("[data-testid=device-row][data-kind=api]")).to_have_count(1)
    expect(page.locator("[data-testid=device-row][data-kind=api]")).to_contain_text("folio-cli")
    assert_accessible(page, "the admin user page with an API token")
    page.get_by_role("button", name="Revoke API tokens").click()
    expect(page.locator(".flashes")).to_contain_text("Revoked 1 API token; browsers stay signed in.")
    expect(page.locator("[data-testid=device-row]")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Not signed in anywhere.")

    def refused(db):
        r = app.test_client().get("/api/v1/auth/sessions",
                                  headers={"Authorization": f"Bearer {cli['access_token']}"})
        return r.status_code

    assert in_app(app, refused) == 401
