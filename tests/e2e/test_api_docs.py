"""/api/docs in a real browser: the vendored Swagger UI (no CDN) loads under the site's Content Security Policy,
reads /api/openapi.json and shows the operations; axe finds no serious or critical problem at phone and desktop
sizes."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .axe import VIEWPORTS, blocking_violations, describe

# Static Swagger UI over a static document (/api/openapi.json is built at start, no query): the same page on
# either database, so CI runs these once, on the PostgreSQL leg.
pytestmark = pytest.mark.backend_neutral

# Collects what the browser refuses under the CSP (the event fires for every refusal, logged or not).
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
});
"""


def _open_docs(page: Page, live_server: str) -> tuple[list[str], list[str], list[str]]:
    """Open /api/docs and wait for Swagger UI to draw the operations; returns (console errors, page errors,
    requests that left this server)."""
    errors: list[str] = []
    page_errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith((live_server, "data:", "blob:")) else None)
    page.add_init_script(CSP_PROBE)
    response = page.goto("/api/docs")
    assert response is not None and response.status == 200
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15_000)
    page.wait_for_load_state("networkidle")
    return errors, page_errors, outside


def test_the_docs_load_the_vendored_swagger_ui_and_show_the_operations(e2e_page: Page, live_server):
    page = e2e_page
    errors, page_errors, outside = _open_docs(page, live_server)
    # Our API, from /api/openapi.json: the title and the auth operations, with their summaries.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Folio API")
    paths = page.locator(".swagger-ui .opblock .opblock-summary-path").all_inner_texts()
    for path in ("/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/logout",
                 "/api/v1/auth/sessions/{session_id}"):
        assert any(p.replace("\u200b", "") == path for p in paths), (path, paths[:20])
    token_op = page.locator(".swagger-ui .opblock-post").filter(has_text="/api/v1/auth/token").first
    expect(token_op).to_contain_text("Sign in")
    # Opening an operation shows its request body and responses (Swagger UI works, not only draws).
    token_op.locator(".opblock-summary-control").click()
    expect(token_op.locator(".responses-wrapper")).to_be_visible()
    expect(token_op.locator(".responses-wrapper")).to_contain_text("401")
    # Nothing refused by the Content Security Policy, nothing thrown, nothing fetched from elsewhere (no CDN).
    violations = page.evaluate("window.__cspViolations")
    assert violations == [], violations
    csp_errors = [e for e in errors if "Content Security Policy" in e or "Refused to" in e]
    assert csp_errors == [], csp_errors
    assert page_errors == [], page_errors
    assert errors == [], errors
    assert outside == [], outside


# One operation of each kind: a JSON body and eight responses (sign-in), ten query parameters with enums (the
# catalog), a header parameter with a body (checkout), staff filters (admin orders). Opened, they show every kind of
# element the first operation of every tag shows (the same 134 tag-and-class kinds, counted in a browser when this
# list was chosen), and axe over them takes 3 s instead of 10.
ONE_OF_EACH_KIND = [("post", "/api/v1/auth/token"), ("get", "/api/v1/books"), ("post", "/api/v1/checkout"),
                    ("get", "/api/v1/admin/orders")]


def _open_one_of_each_kind(page: Page) -> None:
    """Open ONE_OF_EACH_KIND and check that they show query and header parameters, a choice list, request
    bodies and responses (so a change to the document cannot quietly leave a kind out of the audit)."""
    for method, path in ONE_OF_EACH_KIND:
        summary = page.locator(".opblock-summary-path", has_text=path)
        operation = page.locator(f".swagger-ui .opblock-{method}").filter(has=summary).first
        operation.locator(".opblock-summary-control").click(no_wait_after=True)
    opened = page.locator(".swagger-ui .opblock.is-open")
    expect(opened.locator(".responses-wrapper")).to_have_count(len(ONE_OF_EACH_KIND), timeout=15_000)
    shown = [p.replace("\u200b", "") for p in opened.locator(".opblock-summary-path").all_inner_texts()]
    assert sorted(shown) == sorted(path for _, path in ONE_OF_EACH_KIND), shown
    places = {text.strip() for text in opened.locator(".parameter__in").all_inner_texts()}
    assert {"(query)", "(header)"} <= places, places
    expect(opened.locator(".opblock-section-request-body")).to_have_count(2)
    assert opened.locator(".parameters select").count() >= 1
    assert opened.locator(".responses-table .response").count() >= 4 * len(ONE_OF_EACH_KIND)


def _open_every_operation(page: Page) -> None:
    """Open the first operation of every tag (each area's parameters, bodies and responses: the kinds of markup
    Swagger UI draws; opening all sixty makes the page too slow to test, and test_openapi.py already checks every
    reference of the document resolves)."""
    sections = page.locator(".swagger-ui .opblock-tag-section")
    is_open = page.locator(".swagger-ui .opblock.is-open")
    open_before = is_open.count()  # _open_one_of_each_kind's: a click on one of those would close it
    opened = clicked = 0
    for i in range(sections.count()):
        control = sections.nth(i).locator(".opblock .opblock-summary-control").first
        if control.count():
            if "is-open" not in (sections.nth(i).locator(".opblock").first.get_attribute("class") or ""):
                control.click(no_wait_after=True)
                clicked += 1
            opened += 1
    assert opened >= 10, f"only {opened} tags with operations"
    expect(is_open).to_have_count(open_before + clicked)
    expect(is_open.locator(".responses-wrapper")).to_have_count(open_before + clicked, timeout=15_000)
    # Swagger UI lists "Resolver error"s in an errors box and in the operation itself.
    expect(page.locator(".swagger-ui .errors-wrapper")).to_have_count(0)
    expect(page.locator(".swagger-ui .message.thrown")).to_have_count(0)


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_the_docs_have_no_serious_axe_violations(e2e_page: Page, live_server, viewport):
    """The page as a reader sees it: the list, then one operation of each kind opened (parameters, bodies,
    responses), audited; then the first operation of every tag opened too: no resolver error, no sideways scroll.
    (Swagger UI's own colours fail contrast: static/css/api-docs.css darkens them; deep links are off because
    Swagger UI puts the link inside the operation's button, a nested control.)"""
    page = e2e_page
    page.set_viewport_size(VIEWPORTS[viewport])
    _open_docs(page, live_server)
    blocking = blocking_violations(page)
    assert not blocking, f"axe on /api/docs ({viewport}):\n{describe(blocking)}"
    _open_one_of_each_kind(page)
    blocking = blocking_violations(page)
    assert not blocking, f"axe on /api/docs, one operation of each kind open ({viewport}):\n{describe(blocking)}"
    _open_every_operation(page)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"/api/docs at {viewport} scrolls sideways by {overflow}px"


def test_try_it_out_has_no_serious_axe_violations(e2e_page: Page, live_server):
    page = e2e_page
    _open_docs(page, live_server)
    token_op = page.locator(".swagger-ui .opblock-post").filter(has_text="/api/v1/auth/token").first
    token_op.locator(".opblock-summary-control").click()
    token_op.locator(".try-out__btn").click()
    expect(token_op.locator("textarea.body-param__text")).to_be_visible()
    blocking = blocking_violations(page)
    assert not blocking, f"axe on /api/docs in 'Try it out':\n{describe(blocking)}"
