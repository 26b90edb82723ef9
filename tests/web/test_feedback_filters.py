"""Issue 17 (feedback): the listing's price problems are shown with the results, live (htmx) and on a full page."""
import re


def _cards(html: str) -> list[str]:
    return re.findall(r'class="book-title"><a href="[^"]+">([^<]+)</a>', html)


def test_inverted_range_live_shows_the_message_in_the_results_and_beside_the_field(htmx_client, make_book):
    make_book("Cheap", price_cents=500)
    make_book("Pricey", price_cents=5000)
    r = htmx_client.get("/books?q=&min_price=20&max_price=10&sort=")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in body
    assert 'data-testid="filter-errors"' in body and "Max price: Must be at least the minimum price." in body
    # out of band: the field's own slot gets the message, the other slot is emptied
    assert re.search(r'<span id="max_price-error" class="field-errors" hx-swap-oob="true"><small class="error">'
                     r'Must be at least the minimum price.</small></span>', body)
    assert '<span id="min_price-error" class="field-errors" hx-swap-oob="true"></span>' in body
    assert _cards(body) == ["Pricey"]  # the unusable bound is left out, and the page says so
    assert r.headers["HX-Push-Url"] == "/books?min_price=20&max_price=10"


def test_invalid_price_live_is_explained(htmx_client, make_book):
    make_book("Any")
    body = htmx_client.get("/books?min_price=abc").get_data(as_text=True)
    assert 'data-testid="filter-errors"' in body and "Min price:" in body
    assert 'id="min_price-error" class="field-errors" hx-swap-oob="true"><small class="error">' in body


def test_fixed_range_live_clears_the_messages(htmx_client, make_book):
    make_book("Any", price_cents=1500)
    body = htmx_client.get("/books?min_price=10&max_price=20").get_data(as_text=True)
    assert "filter-errors" not in body
    for name in ("min_price", "max_price"):
        assert f'<span id="{name}-error" class="field-errors" hx-swap-oob="true"></span>' in body
    assert _cards(body) == ["Any"]


def test_full_page_shows_the_summary_once_and_the_field_message(client, make_book):
    make_book("Any", price_cents=1500)
    for _ in range(3):  # the second and third come from the page cache: same messages
        body = client.get("/books?min_price=20&max_price=10").get_data(as_text=True)
        assert body.count('data-testid="filter-errors"') == 1
        assert body.count('id="max_price-error"') == 1 and 'hx-swap-oob' not in body
        assert 'aria-invalid="true"' in body and 'aria-describedby="max_price-error"' in body


def test_genre_page_live_errors_too(htmx_client, make_book):
    make_book("Any", genres=("Mystery",))
    body = htmx_client.get("/genres/mystery?max_price=-3").get_data(as_text=True)
    assert 'data-testid="filter-errors"' in body


def test_header_search_shows_the_listing_query(client, make_book):
    make_book("Any")
    body = client.get("/books?q=lantern").get_data(as_text=True)
    assert 'id="q" name="q" value="lantern"' in body
    if 'id="site-q"' in body:  # the layout may show the header's box on the listing too
        assert re.search(r'id="site-q"[^>]*value="lantern"', body)
