"""folio-cli's commands against a stub API: what each sends (path, query, body, token) and what it prints, in
text and with --json; bodies missing optional keys print "-" rather than crash."""
from __future__ import annotations

from .conftest import money, signed_in

BOOK = {"id": 12, "title": "The Lighthouse Almanac", "isbn13": "9780000000012",
        "authors": [{"id": 3, "name": "Ottoline Quarrendon"}], "price": money(1800), "rent_per_week": money(500),
        "stock": {"state": "low", "available": 2}, "cover_url": "/covers/12.svg"}
ORDER = {"number": "FO-AB12-CD34-EF56", "status": "pending_payment", "created_at": "2026-12-07T10:31:02.123456+00:00",
         "total": money(2299), "subtotal": money(1800), "shipping": money(499), "discount": money(0),
         "lines": [{"book_id": 12, "title": "The Lighthouse Almanac", "mode": "buy", "quantity": 1, "days": None,
                    "unit_price": money(1800), "total": money(1800)}],
         "shipping_address": {"full_name": "Ann Reader", "line1": "1 Main Street", "line2": None,
                              "city": "Springfield", "region": None, "postcode": "12345", "country": "US"},
         "timeline": [{"status": "pending_payment", "note": "Order placed.", "at": "2026-12-07T10:31:02+00:00"}],
         "can_cancel": True, "payment_url": "/pay/test/cs_test_abc"}
CART = {"lines": [{"book_id": 12, "title": "The Lighthouse Almanac", "mode": "rent", "quantity": 1, "days": 7,
                   "unit_price": money(500), "total": money(500)}],
        "subtotal": money(500), "discount": money(50), "shipping": money(499), "tax": money(40), "total": money(989),
        "code": "SAVE10",
        "problems": ["The price of The Lighthouse Almanac changed."]}


def test_search_sends_the_filters_without_a_token_and_prints_a_table(fake_api, run_cli, credentials):
    credentials()
    fake_api.on("GET", "/api/v1/books", (200, {"items": [BOOK, {"id": 4, "title": "Untitled"}], "total": 31,
                                               "page": {"next_cursor": "c2", "limit": 2}}))
    result = run_cli("search", "lighthouse", "almanac", "--genre", "travel", "--sort", "newest", "--limit", "2")
    assert result.code == 0, result.err
    (seen,) = fake_api.seen
    assert seen.args == {"q": "lighthouse almanac", "genre": "travel", "sort": "newest", "limit": "2"}
    assert seen.token is None  # the catalog is public
    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "Title", "Authors", "Price", "Stock"]
    assert lines[2].split("  ")[0] == "12"
    assert "The Lighthouse Almanac" in lines[2] and "Ottoline Quarrendon" in lines[2]
    assert "$18.00" in lines[2] and lines[2].endswith("only 2 left")
    assert lines[3].split()[:2] == ["4", "Untitled"] and lines[3].rstrip().endswith("-")  # no price, no stock
    assert lines[0].index("Title") == lines[2].index("The Lighthouse")  # aligned
    assert lines[-2:] == ["2 shown of 31 found.", "Next page: add --cursor c2"]

    fake_api.seen.clear()
    assert run_cli("search", "--cursor", "c2", "--json").json()["total"] == 31
    assert fake_api.seen[0].args == {"cursor": "c2"}


def test_search_with_no_results(fake_api, run_cli):
    fake_api.on("GET", "/api/v1/books", (200, {"items": [], "total": 0, "page": {"next_cursor": None}}))
    assert run_cli("search", "zzz").out == "No books match.\n"
    fake_api.on("GET", "/api/v1/books", (200, {"items": [], "total": 0, "suggestion": "lighthouse"}))
    assert run_cli("search", "zzz").out == 'No books match.\nDid you mean "lighthouse"?\n'


def test_a_corrected_search_says_so(fake_api, run_cli):
    fake_api.on("GET", "/api/v1/books", (200, {"items": [BOOK], "total": 1000, "total_capped": True,
                                               "suggestion": "lighthouse", "corrected_from": "lighthuose"}))
    lines = run_cli("search", "lighthuose").out.splitlines()
    assert lines[0] == 'Nothing matched "lighthuose": showing results for "lighthouse".'
    assert lines[-1] == "1 shown of more than 1000 found."


def test_book_details(fake_api, run_cli):
    fake_api.on("GET", "/api/v1/books/12", (200, {**BOOK, "description": "A keeper's year.", "language": "en",
                                                  "genres": [{"slug": "travel", "name": "Travel"}]}))
    out = run_cli("book", "12").out
    assert out.startswith("The Lighthouse Almanac\nby Ottoline Quarrendon\n")
    assert "Price:     $18.00" in out and "Rent:      $5.00 a week" in out and "Genres:    Travel" in out
    assert "Published: -" in out and "  A keeper's year." in out


def test_cart_show_add_remove_and_code(fake_api, run_cli, credentials):
    credentials()
    for method, path in [("GET", "/api/v1/cart"), ("POST", "/api/v1/cart/items"),
                         ("DELETE", "/api/v1/cart/items/12/rent"), ("PUT", "/api/v1/cart/code"),
                         ("DELETE", "/api/v1/cart/code")]:
        fake_api.on(method, path, signed_in(fake_api, (200, CART)))
    shown = run_cli("cart").out
    assert "rent 7 days" in shown and "Discount (SAVE10): -" not in shown
    assert "Discount (SAVE10): $0.50" in shown and "Tax:               $0.40" in shown
    assert "Total:             $9.89" in shown
    assert "! The price of The Lighthouse Almanac changed." in shown
    assert run_cli("cart", "show").out == shown

    assert run_cli("cart", "add", "12", "--rent", "--days", "7", "--qty", "1").code == 0
    assert run_cli("cart", "add", "13").code == 0
    assert [s.body for s in fake_api.calls("POST", "/api/v1/cart/items")] == [
        {"book_id": 12, "mode": "rent", "quantity": 1, "days": 7}, {"book_id": 13, "mode": "buy"}]
    assert run_cli("cart", "remove", "12", "--rent").out.startswith("Removed book 12 from the cart.")
    assert run_cli("cart", "code", "save10").code == 0
    assert fake_api.calls("PUT", "/api/v1/cart/code")[0].body == {"code": "save10"}
    assert run_cli("cart", "code", "--remove", "--json").json() == CART
    assert all(s.token == "acc-1" for s in fake_api.seen)


def test_empty_cart(fake_api, run_cli, credentials):
    credentials()
    fake_api.on("GET", "/api/v1/cart", signed_in(fake_api, (200, {"lines": [], "problems": []})))
    assert run_cli("cart").out == "Your cart is empty.\n"


def test_buy_now_with_a_new_address_prints_the_payment_url(fake_api, run_cli, credentials):
    credentials()
    fake_api.on("POST", "/api/v1/buy-now", signed_in(fake_api, (201, {"order": ORDER,
                                                                     "payment_url": "/pay/test/cs_test_abc"})))
    result = run_cli("buy-now", "12", "--qty", "2", "--full-name", "Ann Reader", "--line1", "1 Main Street",
                     "--city", "Springfield", "--postcode", "12345", "--country", "US", "--use-wallet")
    assert result.code == 0, result.err
    assert fake_api.calls("POST", "/api/v1/buy-now")[0].body == {
        "book_id": 12, "mode": "buy", "quantity": 2, "use_wallet": True,
        "address": {"full_name": "Ann Reader", "line1": "1 Main Street", "city": "Springfield", "postcode": "12345",
                    "country": "US"}}
    assert result.out.splitlines() == ["Order FO-AB12-CD34-EF56: pending payment, total $22.99.",
                                       f"Pay at: {fake_api.url}/pay/test/cs_test_abc",
                                       "Follow it with: folio-cli order FO-AB12-CD34-EF56"]


def test_checkout_uses_the_only_saved_address_and_refuses_to_guess_among_several(fake_api, run_cli, credentials):
    credentials()
    saved = [{"id": 5, "full_name": "Ann Reader", "line1": "1 Main Street", "city": "Springfield",
              "postcode": "12345", "country": "US"}]
    fake_api.on("GET", "/api/v1/me/addresses", signed_in(fake_api, lambda s: (200, saved)))
    fake_api.on("POST", "/api/v1/checkout", signed_in(fake_api, (201, {"order": {**ORDER, "status": "paid"},
                                                                      "payment_url": None})))
    result = run_cli("checkout")
    assert result.code == 0, result.err
    assert fake_api.calls("POST", "/api/v1/checkout")[0].body == {"address_id": 5}
    assert result.out.splitlines()[0] == "Shipping to your saved address: Ann Reader, 1 Main Street, Springfield, " \
                                         "12345, US"
    assert "Nothing to pay by card." in result.out

    json_result = run_cli("checkout", "--json")
    assert json_result.json()["order"]["status"] == "paid"  # the note went to stderr
    assert "Shipping to your saved address" in json_result.err

    saved.append({**saved[0], "id": 6})
    result = run_cli("checkout")
    assert result.code == 2 and "--address-id" in result.err
    saved.clear()
    result = run_cli("checkout")
    assert result.code == 2 and "--full-name --line1" in result.err
    assert run_cli("checkout", "--address-id", "9").code == 0
    assert fake_api.calls("POST", "/api/v1/checkout")[-1].body == {"address_id": 9}


def test_orders_order_and_cancel(fake_api, run_cli, credentials):
    credentials()
    fake_api.on("GET", "/api/v1/orders", signed_in(fake_api, (200, {"items": [ORDER], "page": {"next_cursor": None}})))
    fake_api.on("GET", "/api/v1/orders/FO-AB12-CD34-EF56", signed_in(fake_api, (200, ORDER)))
    cancelled = {**ORDER, "status": "cancelled", "can_cancel": False, "payment_url": None}
    fake_api.on("POST", "/api/v1/orders/FO-AB12-CD34-EF56/cancel", signed_in(fake_api, (200, cancelled)))

    listed = run_cli("orders", "--limit", "5").out.splitlines()
    assert listed[0].split() == ["Number", "Placed", "Status", "Total"]
    assert listed[2].split() == ["FO-AB12-CD34-EF56", "2026-12-07", "10:31", "pending", "payment", "$22.99"]
    assert fake_api.calls("GET", "/api/v1/orders")[0].args == {"limit": "5"}

    shown = run_cli("order", "FO-AB12-CD34-EF56").out
    assert "Order:  FO-AB12-CD34-EF56\nStatus: pending payment\nPlaced: 2026-12-07 10:31\n" in shown
    assert "Ship to:  Ann Reader, 1 Main Street, Springfield, 12345, US" in shown
    assert "Tax" not in shown  # none charged: no line
    assert "Order placed." in shown
    assert f"Pay at: {fake_api.url}/pay/test/cs_test_abc" in shown
    assert "Cancel it with: folio-cli cancel FO-AB12-CD34-EF56" in shown

    result = run_cli("cancel", "FO-AB12-CD34-EF56")
    assert result.out.startswith("Order FO-AB12-CD34-EF56 is now cancelled.\n")
    assert "Pay at" not in result.out and "Cancel it with" not in result.out
    assert run_cli("cancel", "FO-AB12-CD34-EF56", "--to-wallet").code == 0
    assert [s.body for s in fake_api.calls("POST", "/api/v1/orders/FO-AB12-CD34-EF56/cancel")] == [
        None, {"refund_to": "wallet"}]


def test_an_order_number_stays_one_path_segment(fake_api, run_cli, credentials):
    credentials()
    assert run_cli("order", "../me").code == 1  # the stub's 404
    assert fake_api.seen[0].raw_uri == "/api/v1/orders/..%2Fme"


def test_a_sparse_order_prints_dashes(fake_api, run_cli, credentials):
    credentials()
    fake_api.on("GET", "/api/v1/orders/FO-1", signed_in(fake_api, (200, {"number": "FO-1", "status": "paid",
                                                                        "lines": [{}], "timeline": [{}]})))
    result = run_cli("order", "FO-1")
    assert result.code == 0, result.err
    assert "Total:    -" in result.out and "Ship to:  -" in result.out


def test_account_addresses_and_holds(fake_api, run_cli, credentials):
    credentials()
    fake_api.on("GET", "/api/v1/me", signed_in(fake_api, (200, {
        "id": 1, "username": "ann", "email": "ann@example.com", "full_name": None, "role": "customer",
        "email_verified": False, "two_factor": False, "wallet": money(2500), "plan": "free",
        "created_at": "2026-01-02T03:04:05+00:00"})))
    fake_api.on("GET", "/api/v1/me/addresses", signed_in(fake_api, (200, [])))
    hold = {"id": 8, "book_id": 12, "title": "The Lighthouse Almanac", "status": "waiting", "position": 2,
            "created_at": "2026-12-07T10:00:00+00:00", "ready_until": None}
    fake_api.on("GET", "/api/v1/holds", signed_in(fake_api, (200, {"items": [hold]})))
    fake_api.on("POST", "/api/v1/holds", signed_in(fake_api, (201, hold)))
    fake_api.on("DELETE", "/api/v1/holds/8", signed_in(fake_api, (204, None)))

    me = run_cli("me").out
    assert "Username:     ann" in me and "Email:        ann@example.com (not verified)" in me
    assert "Full name:    -" in me and "Wallet:       $25.00" in me and "Member since: 2026-01-02 03:04" in me
    assert run_cli("whoami").out == me
    assert run_cli("addresses").out.startswith("No saved addresses")
    holds = run_cli("holds").out.splitlines()
    assert holds[2].split()[:7] == ["8", "12", "The", "Lighthouse", "Almanac", "waiting", "2"]
    assert run_cli("hold", "12").out == "Hold 8 placed on The Lighthouse Almanac; you are number 2 in the queue.\n"
    assert fake_api.calls("POST", "/api/v1/holds")[0].body == {"book_id": 12}
    assert run_cli("unhold", "8").out == "Hold 8 cancelled.\n"
    assert run_cli("unhold", "8", "--json").out == ""  # 204: no body to print


def test_a_lost_checkout_answer_is_asked_again_with_the_same_idempotency_key(fake_api, run_cli, credentials,
                                                                             monkeypatch):
    import requests

    credentials()
    fake_api.on("POST", "/api/v1/checkout", signed_in(fake_api, (201, {"order": ORDER, "payment_url": "/pay/x"})))
    real = requests.Session.request
    lost = []

    def request(self, method, url, **kwargs):
        response = real(self, method, url, **kwargs)
        if url.endswith("/checkout") and not lost:
            lost.append(kwargs["headers"]["Idempotency-Key"])
            raise requests.ReadTimeout("the answer was lost")
        return response

    monkeypatch.setattr(requests.Session, "request", request)
    result = run_cli("checkout", "--address-id", "5")
    assert result.code == 0, result.err
    keys = [s.idempotency_key for s in fake_api.calls("POST", "/api/v1/checkout")]
    assert len(keys) == 2 and keys[0] == keys[1] == lost[0]
    assert 26 <= len(keys[0]) <= 64 and keys[0].startswith("folio-cli-")
    assert "Asking again (the same request: no second order)." in result.err
    assert "Pay at: " in result.out

    fake_api.seen.clear()
    assert run_cli("checkout", "--address-id", "5").code == 0
    assert fake_api.calls("POST", "/api/v1/checkout")[0].idempotency_key != keys[0]  # a new checkout, a new key
