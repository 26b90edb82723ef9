"""Issue 16, hostile query strings on the new list pages (staff customer tabs, rentals, holds, fees; the
customer's rentals, holds and wallet): huge, negative and junk page numbers and views are never a 500."""
from __future__ import annotations

import pytest

from tests.checkout_helpers import shopper
from tests.fee_helpers import late_return

JUNK = ["page=99999999999999999999", "page=-1", "page=0", "page=abc", "page=1e9", "page=%00", "page=2147483648",
        "view=lost", "view=bogus", "view=sent_back&page=9223372036854775808", "tab=../../etc", "kind=x"]


@pytest.fixture
def customer_id(app, db):
    user = shopper("paged")
    late_return(user, days_late=3)
    return user.id


@pytest.mark.parametrize("query", JUNK)
def test_staff_pages_take_junk_query_strings(admin_client, customer_id, query):
    for path in [f"/admin/users/{customer_id}{tab}" for tab in ("", "/orders", "/rentals", "/holds", "/wallet",
                                                                 "/plan", "/fees")] + ["/admin/rentals", "/admin/holds"]:
        r = admin_client.get(f"{path}?{query}")
        assert r.status_code in (200, 302, 400, 404), (path, query, r.status_code)
        r = admin_client.get(f"{path}?{query}", headers={"HX-Request": "true"})
        assert r.status_code in (200, 302, 400, 404), (path, query, r.status_code)


@pytest.mark.parametrize("query", JUNK)
def test_customer_pages_take_junk_query_strings(app, auth, query):
    auth.user("junky")
    c = app.test_client()
    auth.login("junky", client=c)
    for path in ("/account/rentals", "/account/holds", "/account/wallet"):
        r = c.get(f"{path}?{query}")
        assert r.status_code in (200, 302, 400, 404), (path, query, r.status_code)


@pytest.mark.parametrize("path", ["/admin/users/99999999999999999999", "/admin/users/0/fees",
                                  "/admin/users/1/fees/rental/99999999999999999999/waive",
                                  "/admin/holds/99999999999999999999/move", "/admin/rentals/99999999999999999999/return"])
def test_staff_routes_with_huge_ids_are_404_not_500(admin_client, auth, path):
    r = admin_client.get(path) if "/waive" not in path and "/move" not in path and "/return" not in path else \
        auth.post(path, {"reason": "x", "direction": "up"}, client=admin_client)
    assert r.status_code in (404, 405), (path, r.status_code)
