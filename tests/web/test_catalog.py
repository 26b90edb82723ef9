import re

import pytest

from webapp.extensions import db
from webapp.models import Author
from webapp.services.catalog import vocabulary


def card_titles(html: bytes) -> list[str]:
    return re.findall(r'class="book-title"><a href="[^"]+">([^<]+)</a>', html.decode())


def test_home_shows_sections(client, catalog):
    r = client.get("/")
    assert r.status_code == 200
    assert b"New arrivals" in r.data and b"Bestsellers" in r.data and b"Browse by genre" in r.data
    assert len(card_titles(r.data)) == 24  # two shelves of 12: whole rows of 2, 4 and 6 cards


def test_empty_home_has_an_empty_state(client):
    r = client.get("/")
    assert r.status_code == 200 and b"The shelves are empty" in r.data


def test_listing_full_page_and_htmx_fragment(client, htmx_client, make_book):
    make_book("The Ferryman's Song", authors=("Ivo Marchetti",))
    make_book("Another Book", authors=("Jane Roe",))
    full = client.get("/books?q=marchetti")
    assert full.status_code == 200 and b"<html" in full.data
    assert card_titles(full.data) == ["The Ferryman&#39;s Song"]
    assert "HX-Request" in full.headers["Vary"]
    fragment = htmx_client.get("/books?q=marchetti")
    assert fragment.status_code == 200
    assert b"<html" not in fragment.data and b"<head" not in fragment.data
    assert b"Ferryman" in fragment.data and b"Another Book" not in fragment.data
    assert "HX-Request" in fragment.headers["Vary"]


@pytest.mark.parametrize("header", ["HX-Boosted", "HX-History-Restore-Request"])
def test_boosted_and_history_restore_get_the_full_page(client, make_book, header):
    make_book("Something")
    r = client.get("/books", headers={"HX-Request": "true", header: "true"})
    assert b"<html" in r.data


def test_page_two_differs_from_page_one(client, catalog):
    one = card_titles(client.get("/books?sort=title").data)
    two = card_titles(client.get("/books?sort=title&page=2").data)
    assert len(one) == 24 and len(two) == 24
    assert not set(one) & set(two)


def test_pager_links_work_with_and_without_htmx(client, catalog):
    html = client.get("/books?sort=price_asc").data.decode()
    assert 'href="/books?sort=price_asc&amp;page=2"' in html
    assert 'hx-get="/books?sort=price_asc&amp;page=2"' in html


@pytest.mark.parametrize("q", ['<script>alert("x")</script>', '"quoted" \'single\'', "<b>bold</b> & co", "%27%22"])
def test_markup_in_search_is_escaped_and_never_errors(client, make_book, q):
    make_book("Plain Book")
    r = client.get("/books", query_string={"q": q})
    assert r.status_code == 200
    body = r.data.decode()
    assert "<script>alert" not in body and "<b>bold</b>" not in body
    assert "&lt;script&gt;" in body or "&lt;b&gt;" in body or "&#34;quoted&#34;" in body or "%27%22" in body


def test_invalid_filters_show_messages_and_still_list(client, make_book):
    make_book("Still Listed", price_cents=1000)
    r = client.get("/books?min_price=abc&max_price=-5&sort=nope&language=zz&page=-3&in_stock=maybe")
    assert r.status_code == 200
    assert b"Still Listed" in r.data
    assert b"Not a valid decimal value" in r.data
    assert b"Number must be between" in r.data


def test_min_greater_than_max_is_explained(client, make_book):
    make_book("Cheap", price_cents=500)
    r = client.get("/books?min_price=20&max_price=10")
    assert b"Must be at least the minimum price." in r.data


def test_price_filter_in_dollars(client, make_book):
    make_book("Cheap", price_cents=500)
    make_book("Pricey", price_cents=5000)
    r = client.get("/books?min_price=10&max_price=60.00")
    assert card_titles(r.data) == ["Pricey"]


def test_no_results_offers_help(client, make_book):
    make_book("The Lantern Keeper")
    vocabulary.rebuild_terms()
    db.session.commit()
    r = client.get("/books?q=qqqqzzz")
    assert b"No books found" in r.data and b"Check the spelling" in r.data
    r = client.get("/books?q=lantren")
    assert b"Showing results for" in r.data and b"The Lantern Keeper" in r.data


def test_detail_page(client, make_book):
    book = make_book("Glass Orchard", authors=("Rhea Stone", "Tom Vale"), genres=("Poetry",), price_cents=1299,
                     on_hand=2)
    r = client.get(f"/books/{book.id}/glass-orchard")
    assert r.status_code == 200
    body = r.data.decode()
    assert "Glass Orchard" in body and "Rhea Stone" in body and "Tom Vale" in body
    assert "$12.99" in body and "Only 2 left" in body and "Poetry" in body
    assert 'href="/authors/' in body


def test_detail_stock_states(client, make_book):
    out = make_book("Gone Book", on_hand=0)
    plenty = make_book("Plenty Book", on_hand=30)
    assert b"Out of stock" in client.get(f"/books/{out.id}").data
    assert b"In stock" in client.get(f"/books/{plenty.id}").data


def test_wrong_slug_redirects_to_canonical(client, make_book):
    book = make_book("Glass Orchard")
    r = client.get(f"/books/{book.id}/wrong-slug")
    assert r.status_code == 301 and r.headers["Location"].endswith(f"/books/{book.id}/glass-orchard")


def test_missing_and_inactive_books_are_404(client, make_book):
    archived = make_book("Archived", active=False)
    assert client.get("/books/999999").status_code == 404
    r = client.get(f"/books/{archived.id}")
    assert r.status_code == 404 and b"Page not found" in r.data


def test_404_is_json_for_api_clients(client):
    r = client.get("/books/999999", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json["error"]["code"] == "page_not_found"


def test_genre_and_author_pages(client, make_book):
    make_book("Dragon Tide", genres=("Fantasy",), authors=("Lia Wren",))
    make_book("Cold Case", genres=("Crime",), authors=("Lia Wren",))
    r = client.get("/genres/fantasy")
    assert r.status_code == 200 and card_titles(r.data) == ["Dragon Tide"]
    r = client.get("/genres")
    assert b"Fantasy" in r.data and b"Crime" in r.data
    author = db.session.query(Author).filter_by(name="Lia Wren").one()
    r = client.get(f"/authors/{author.id}")
    assert r.status_code == 200 and set(card_titles(r.data)) == {"Dragon Tide", "Cold Case"}
    assert client.get("/genres/nope").status_code == 404
    assert client.get("/authors/999999").status_code == 404


def test_generated_cover_is_svg_and_cacheable(client, make_book):
    book = make_book('Title with <markup> & "quotes"')
    r = client.get(f"/books/{book.id}/cover.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert b"<markup>" not in r.data and b"&lt;markup&gt;" in r.data
    etag = r.headers["ETag"]
    assert client.get(f"/books/{book.id}/cover.svg", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("url", ["/books?sort=title", "/books?q=the", "/genres/fantasy"])
def test_listing_query_count_does_not_grow_with_page_size(app, client, catalog, count_queries, url):
    counts = {}
    for size in (5, 40):
        app.config["PAGE_SIZE"] = size
        app.extensions["folio_redis"].flushdb()  # cold: what a page costs when nothing is cached
        try:
            with count_queries() as statements:
                r = client.get(url)
            assert r.status_code == 200
        finally:
            app.config["PAGE_SIZE"] = 24
        counts[size] = len(statements)
    assert counts[5] == counts[40], counts
    assert counts[40] <= 6, counts


def test_detail_query_count_is_constant(client, make_book, count_queries):
    few = make_book("Few", authors=("A One",), genres=("G1",))
    many = make_book("Many", authors=("B One", "B Two", "B Three", "B Four"), genres=("G1", "G2", "G3"))
    for i in range(8):
        make_book(f"Other {i}", authors=("B Two",), genres=("G2",))
    with count_queries() as q_few:
        assert client.get(f"/books/{few.id}").status_code == 200
    with count_queries() as q_many:
        assert client.get(f"/books/{many.id}").status_code == 200
    assert len(q_many) <= len(q_few)
    assert len(q_many) <= 8, q_many


def test_security_headers(client):
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"]
    assert "<script>" not in r.data.decode().replace("<script src", "")


def test_search_with_default_sort_ranks_by_relevance(client, htmx_client, make_book):
    make_book("Zebra Stories", authors=("Quill Amberley",), published_on=__import__("datetime").date(1990, 1, 1))
    make_book("Amberley Hall", authors=("Ann Other",), published_on=__import__("datetime").date(2024, 1, 1))
    # the listing form always sends sort (empty means "best match")
    r = htmx_client.get("/books?q=amberley&genre=&language=&min_price=&max_price=&sort=")
    assert card_titles(r.data)[0] == "Amberley Hall"  # title match beats author match, not newest-first
    assert r.headers["HX-Push-Url"] == "/books?q=amberley"
    page = client.get("/books?q=amberley").get_data(as_text=True)
    assert '<option value="" selected>Best match</option>' in page


def test_invalid_price_shows_one_message_tied_to_its_field(client, make_book):
    make_book("Any")
    body = client.get("/books?min_price=abc").get_data(as_text=True)
    assert body.count('id="min_price-error"') == 1 and 'aria-describedby="min_price-error"' in body
    assert "Number must be between" not in body
