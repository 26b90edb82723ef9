"""The public catalog API: /api/v1/books (filters, sorts, cursor pages), book detail with stock state, authors,
genres; no token needed; ETag / If-None-Match / Cache-Control public."""
from __future__ import annotations

import base64
import json
from datetime import date

import pytest

from tests.api.conftest import assert_error
from webapp.extensions import db
from webapp.models import Author
from webapp.services.catalog import editing, vocabulary
from webapp.services.inventory import stock


def walk(api, url: str, limit: int) -> tuple[list[dict], list[dict]]:
    """Every page of a listing, following next_cursor: (items, bodies)."""
    items, bodies = [], []
    sep = "&" if "?" in url else "?"
    r = api.get(f"{url}{sep}limit={limit}")
    while True:
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        bodies.append(body)
        items += body["items"]
        assert body["page"]["limit"] == limit
        assert len(body["items"]) <= limit
        if body["page"]["next_cursor"] is None:
            return items, bodies
        assert len(body["items"]) == limit
        r = api.get(f"{url}{sep}cursor={body['page']['next_cursor']}")


def author_id(name: str) -> int:
    return db.session.query(Author.id).filter_by(name=name).scalar()


def cursor_of(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# ------------------------------------------------------------------------------------------------------ listing

def test_listing_summaries_have_the_documented_shape(api, make_book):
    book = make_book("The Ferryman's Song", authors=("Ivo Marchetti", "Jane Roe"), price_cents=1999, on_hand=7)
    r = api.get("/api/v1/books")
    assert r.status_code == 200
    body = r.get_json()
    assert body["total"] == 1 and body["total_capped"] is False and body["page"] == {"next_cursor": None,
                                                                                      "limit": 20}
    [item] = body["items"]
    assert item["id"] == book.id and item["title"] == "The Ferryman's Song" and item["isbn13"] == book.isbn13
    assert [a["name"] for a in item["authors"]] == ["Ivo Marchetti", "Jane Roe"]
    assert item["price"] == {"cents": 1999, "currency": "USD"}
    assert item["rent_per_week"] == {"cents": 399, "currency": "USD"}
    assert item["stock"] == {"state": "in_stock", "available": 7}
    assert item["cover_url"] == f"/books/{book.id}/cover.svg"
    assert api.get(item["cover_url"]).status_code == 200  # the path the web serves


def test_search_and_filters(api, make_book):
    cheap = make_book("Tidal Atlas", authors=("Ivo Marchetti",), genres=("Fiction",), price_cents=900,
                      language="en", on_hand=2)
    dear = make_book("Tidal Charts", authors=("Jane Roe",), genres=("History",), price_cents=4500,
                     language="de", on_hand=0)
    other = make_book("Garden Notes", authors=("Jane Roe",), genres=("History",), price_cents=2500, on_hand=5)

    def ids(query: str) -> list[int]:
        r = api.get(f"/api/v1/books?{query}")
        assert r.status_code == 200, r.get_json()
        return sorted(i["id"] for i in r.get_json()["items"])

    assert ids("q=tidal") == sorted([cheap.id, dear.id])
    assert ids("q=tid") == sorted([cheap.id, dear.id])  # the last word as a prefix, as on the site
    assert ids("genre=history") == sorted([dear.id, other.id])
    assert ids(f"author={author_id('Ivo Marchetti')}") == [cheap.id]
    assert ids("min_price=1000") == sorted([dear.id, other.id])
    assert ids("max_price=2500") == sorted([cheap.id, other.id])
    assert ids("min_price=1000&max_price=3000") == [other.id]
    assert ids("in_stock=true") == sorted([cheap.id, other.id])
    assert ids("language=de") == [dear.id]
    assert ids("q=tidal&in_stock=true&genre=fiction") == [cheap.id]


def test_sorts(api, make_book):
    a = make_book("Alpha", price_cents=3000, published_on=date(2019, 1, 1), units_sold=5)
    b = make_book("Bravo", price_cents=1000, published_on=date(2023, 1, 1), units_sold=50)
    c = make_book("Charlie", price_cents=2000, published_on=date(2021, 1, 1), units_sold=1)

    def order(sort: str) -> list[int]:
        return [i["id"] for i in api.get(f"/api/v1/books?sort={sort}").get_json()["items"]]

    assert order("title") == [a.id, b.id, c.id]
    assert order("price_asc") == [b.id, c.id, a.id]
    assert order("price_desc") == [a.id, c.id, b.id]
    assert order("newest") == [b.id, c.id, a.id]
    assert order("bestselling") == [b.id, a.id, c.id]
    assert api.get("/api/v1/books").get_json()["items"][0]["id"] == b.id  # default without q: newest


@pytest.mark.parametrize("sort", ["title", "price_desc", "newest"])
def test_cursor_walk_visits_every_book_once(api, catalog, sort):
    everything = api.get(f"/api/v1/books?sort={sort}&limit=100").get_json()
    assert everything["total"] == 60 and everything["page"]["next_cursor"] is None
    items, bodies = walk(api, f"/api/v1/books?sort={sort}", 7)
    assert len(bodies) == 9  # 8 full pages of 7 and one of 4
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 60  # no duplicates, no gaps
    assert ids == [i["id"] for i in everything["items"]]  # the same order as one big page
    assert all(b["total"] == 60 for b in bodies)


def test_cursor_walk_with_filters_keeps_them(api, make_book):
    for n in range(5):
        make_book(f"Sea Story {n}", genres=("Sea",))
        make_book(f"Land Story {n}", genres=("Land",))
    items, _ = walk(api, "/api/v1/books?genre=sea&sort=title", 2)
    assert [i["title"] for i in items] == [f"Sea Story {n}" for n in range(5)]


def test_the_walk_stops_at_the_services_last_page(app, api, catalog):
    app.config["MAX_PAGE"] = 3
    try:
        items, bodies = walk(api, "/api/v1/books?sort=title", 5)
    finally:
        app.config["MAX_PAGE"] = 400
    assert len(bodies) == 3 and len(items) == 15 == len({i["id"] for i in items})
    assert bodies[-1]["total"] == 60  # the count still says how many there are


def test_a_cursor_past_the_end_is_an_empty_last_page(api, make_book):
    for n in range(3):
        make_book(f"Book {n}")
    r = api.get("/api/v1/books?limit=2")
    digest = json.loads(base64.urlsafe_b64decode(r.get_json()["page"]["next_cursor"] + "=="))["h"]
    for page in (3, 999_999):  # past the last page, past MAX_PAGE
        r = api.get(f"/api/v1/books?cursor={cursor_of({'k': 'b', 'p': page, 'n': 2, 'h': digest})}")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["items"] == [] and body["page"]["next_cursor"] is None and body["total"] == 3


def test_a_corrected_search_walks_the_suggestions_pages(api, make_book):
    for n in range(5):
        make_book(f"Lighthouse Keeper {n}")
    vocabulary.rebuild_terms()
    db.session.commit()
    first = api.get("/api/v1/books?q=lighthuose&limit=2").get_json()
    assert first["corrected_from"] == "lighthuose" and first["suggestion"] == "lighthouse"
    items, bodies = walk(api, "/api/v1/books?q=lighthuose", 2)
    assert len({i["id"] for i in items}) == len(items) == 5
    assert all(b["corrected_from"] == "lighthuose" for b in bodies)


@pytest.mark.parametrize("cursor", [
    "not-base64!!", "e30", cursor_of([1, 2]), cursor_of({"k": "a", "p": 2, "n": 2, "h": "x"}),
    cursor_of({"k": "b", "p": "2", "n": 2, "h": "x"}), cursor_of({"k": "b", "p": 2, "n": 500, "h": "x"}),
    cursor_of({"k": "b", "p": 1, "n": 2, "h": "x"}), cursor_of({"k": "b", "p": 2, "n": 2, "h": "x"}),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_a_bad_cursor_is_a_422(api, make_book, cursor):
    make_book("Something")
    error = assert_error(api.get(f"/api/v1/books?cursor={cursor}"), 422, "validation_failed")
    assert "cursor" in error["fields"]


def test_a_cursor_for_another_search_or_limit_is_refused(api, make_book):
    for n in range(3):
        make_book(f"Book {n}", genres=("Sea",))
    cursor = api.get("/api/v1/books?genre=sea&limit=2").get_json()["page"]["next_cursor"]
    assert api.get(f"/api/v1/books?genre=sea&cursor={cursor}").status_code == 200
    assert api.get(f"/api/v1/books?genre=sea&limit=2&cursor={cursor}").status_code == 200
    error = assert_error(api.get(f"/api/v1/books?cursor={cursor}"), 422, "validation_failed")
    assert "another search" in error["message"]
    error = assert_error(api.get(f"/api/v1/books?genre=sea&limit=3&cursor={cursor}"), 422, "validation_failed")
    assert "limit=2" in error["message"]


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("sort=cheapest", "sort"),
    ("language=xx", "language"), ("genre=no-such-genre", "genre"), ("min_price=-1", "min_price"),
    ("max_price=abc", "max_price"), ("min_price=10000001", "min_price"), ("author=0", "author"),
    ("author=99999999999", "author"), ("page=2", "page"), ("q=" + "x" * 201, "q"),
    ("min_price=5000&max_price=1000", "max_price"),
])
def test_bad_parameters_are_422_with_the_field(api, make_book, query, field):
    make_book("Something", genres=("Fiction",))
    error = assert_error(api.get(f"/api/v1/books?{query}"), 422, "validation_failed")
    assert field in error["fields"], error
    assert api.get(f"/api/v1/books?{query}").headers["Cache-Control"] == "no-store"


def test_listing_query_count_does_not_grow_with_the_page(app, api, make_book, count_queries):
    for n in range(25):
        make_book(f"Book {n}", authors=(f"Author {n}", f"Co Author {n % 3}"), genres=("Fiction", f"G{n % 4}"))
    counts = {}
    for limit in (5, 20):
        app.extensions["folio_redis"].flushdb()  # cold: nothing cached
        with count_queries() as statements:
            r = api.get(f"/api/v1/books?sort=title&limit={limit}&genre=fiction")
        assert r.status_code == 200 and len(r.get_json()["items"]) == limit
        assert all(len(i["authors"]) == 2 for i in r.get_json()["items"])
        counts[limit] = len(statements)
    assert counts[5] == counts[20] <= 5, counts
    with count_queries() as warm:  # the ids and counts come from the cache: only the books are read
        assert api.get("/api/v1/books?sort=title&limit=20&genre=fiction").status_code == 200
    assert len(warm) == 1, warm


# ------------------------------------------------------------------------------------------------------ detail

def test_book_detail(api, make_book):
    book = make_book("Deep Water", authors=("Ivo Marchetti",), genres=("Fiction", "Sea"), price_cents=2400,
                     description="A long swim.", language="de", published_on=date(2021, 5, 4))
    r = api.get(f"/api/v1/books/{book.id}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["title"] == "Deep Water" and body["description"] == "A long swim." and body["language"] == "de"
    assert body["published_on"] == "2021-05-04"
    assert body["genres"] == [{"slug": "fiction", "name": "Fiction"}, {"slug": "sea", "name": "Sea"}]
    assert body["price"] == {"cents": 2400, "currency": "USD"} and body["rent_per_week"]["cents"] == 480
    assert body["authors"] == [{"id": author_id("Ivo Marchetti"), "name": "Ivo Marchetti"}]
    assert body["cover_url"] == f"/books/{book.id}/cover.svg"


def test_no_rent_price_is_null(api, make_book):
    book = make_book("Buy Only")
    book.rental_week_cents = 0
    db.session.commit()
    assert api.get(f"/api/v1/books/{book.id}").get_json()["rent_per_week"] is None


@pytest.mark.parametrize(("on_hand", "state"), [(0, "out_of_stock"), (1, "low"), (3, "low"), (4, "in_stock")])
def test_stock_state_is_the_websites(app, api, client, make_book, on_hand, state):
    assert app.config["LOW_STOCK_THRESHOLD"] == 3
    book = make_book("Counted", on_hand=on_hand)
    assert api.get(f"/api/v1/books/{book.id}").get_json()["stock"] == {"state": state, "available": on_hand}
    listed = api.get("/api/v1/books").get_json()["items"][0]["stock"]
    assert listed == {"state": state, "available": on_hand}
    page = client.get(f"/books/{book.id}").data.decode()
    badge = {"out_of_stock": "Out of stock", "low": f"Only {on_hand} left", "in_stock": "In stock"}[state]
    assert badge in page


def test_reserved_copies_are_not_available(api, make_book):
    book = make_book("Popular", on_hand=5)
    stock.reserve([(book.id, 3)], reference="test-order")
    db.session.commit()
    assert api.get(f"/api/v1/books/{book.id}").get_json()["stock"] == {"state": "low", "available": 2}


def test_unknown_book_is_404(api):
    assert_error(api.get("/api/v1/books/999999"), 404, "not_found")
    assert_error(api.get("/api/v1/books/99999999999"), 404)


def test_archived_book_is_hidden(api, make_book):
    book = make_book("Gone Soon", genres=("Fiction",))
    kept = make_book("Staying", genres=("Fiction",))
    assert api.get(f"/api/v1/books/{book.id}").status_code == 200
    assert editing.archive_book(book, actor_id=None)
    db.session.commit()
    assert_error(api.get(f"/api/v1/books/{book.id}"), 404, "not_found")
    listed = api.get("/api/v1/books").get_json()
    assert [i["id"] for i in listed["items"]] == [kept.id] and listed["total"] == 1
    assert [b["id"] for b in api.get(f"/api/v1/authors/{author_id('Ann Author')}").get_json()["books"]] == [kept.id]


# ------------------------------------------------------------------------------------------------------ caching

def test_etag_round_trip_and_public_cache_control(api, make_book):
    book = make_book("Cached", price_cents=1000)
    for url in ("/api/v1/books?sort=title", f"/api/v1/books/{book.id}", "/api/v1/genres", "/api/v1/authors",
                f"/api/v1/authors/{author_id('Ann Author')}"):
        r = api.get(url)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "public, max-age=60", url
        etag = r.headers["ETag"]
        again = api.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "public, max-age=60"
        assert api.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_a_change_to_the_catalog_changes_the_etag(api, make_book):
    book = make_book("Priced", price_cents=1000)
    r = api.get(f"/api/v1/books/{book.id}")
    etag = r.headers["ETag"]
    book.price_cents = 1200
    db.session.commit()
    changed = api.get(f"/api/v1/books/{book.id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["price"]["cents"] == 1200
    assert changed.headers["ETag"] != etag
    stock.adjust(book.id, -4, "adjustment")  # a stock change too
    db.session.commit()
    after = api.get(f"/api/v1/books/{book.id}", headers={"If-None-Match": changed.headers["ETag"]})
    assert after.status_code == 200 and after.get_json()["stock"] == {"state": "low", "available": 1}


def test_etag_differs_per_query(api, make_book):
    make_book("One")
    assert api.get("/api/v1/books?sort=title").headers["ETag"] != api.get("/api/v1/books?sort=newest").headers["ETag"]


def test_304_costs_no_sql(api, make_book, count_queries):
    book = make_book("Quiet")
    etag = api.get(f"/api/v1/books/{book.id}").headers["ETag"]
    with count_queries() as statements:
        assert api.get(f"/api/v1/books/{book.id}", headers={"If-None-Match": etag}).status_code == 304
    assert statements == []


def test_signed_in_callers_get_the_same_public_answer(api, customer_api, make_book):
    book = make_book("Shared")
    mine = customer_api.get(f"/api/v1/books/{book.id}")
    theirs = api.get(f"/api/v1/books/{book.id}")
    assert mine.get_json() == theirs.get_json() and mine.headers["ETag"] == theirs.headers["ETag"]
    assert mine.headers["Cache-Control"] == "public, max-age=60"


def test_errors_are_not_stored(api):
    assert api.get("/api/v1/books/999999").headers["Cache-Control"] == "no-store"


# ------------------------------------------------------------------------------------------------------ authors, genres

def test_authors_search_and_walk(api, make_book):
    names = [f"Writer {c}" for c in "ABCDEFG"] + ["Someone Else"]
    for name in names:
        make_book(f"By {name}", authors=(name,))
    items, bodies = walk(api, "/api/v1/authors", 3)
    assert [a["name"] for a in items] == sorted(names)
    assert len(bodies) == 3
    found = api.get("/api/v1/authors?q=wRiTeR%20c").get_json()
    assert [a["name"] for a in found["items"]] == ["Writer C"]
    items, _ = walk(api, "/api/v1/authors?q=writer", 2)
    assert [a["name"] for a in items] == [f"Writer {c}" for c in "ABCDEFG"]
    assert api.get("/api/v1/authors?q=100%25").get_json()["items"] == []  # % is a character, not a wildcard


def test_authors_walk_with_long_names(api, make_book):
    names = [f"{c * 150} {n}" for n, c in enumerate("XYZ")] + ["\U0001f4da" * 158]
    for name in names:
        make_book(f"By {name[:20]}", authors=(name,))
    items, _ = walk(api, "/api/v1/authors", 1)
    assert sorted(a["name"] for a in items) == sorted(names)  # (the database's collation orders them)


def test_authors_bad_cursor_and_params(api, make_book):
    make_book("One", authors=("A",))
    make_book("Two", authors=("B",))
    cursor = api.get("/api/v1/authors?limit=1").get_json()["page"]["next_cursor"]
    assert [a["name"] for a in api.get(f"/api/v1/authors?cursor={cursor}").get_json()["items"]] == ["B"]
    assert_error(api.get(f"/api/v1/authors?q=a&cursor={cursor}"), 422, "validation_failed")
    assert_error(api.get(f"/api/v1/authors?limit=5&cursor={cursor}"), 422, "validation_failed")
    assert_error(api.get("/api/v1/authors?cursor=xyz"), 422, "validation_failed")
    assert_error(api.get(f"/api/v1/authors?cursor={cursor_of({'k': 'a', 'name': 5, 'id': 1, 'n': 1, 'h': 'x'})}"), 422)
    assert_error(api.get("/api/v1/authors?limit=1000"), 422, "validation_failed")
    assert_error(api.get("/api/v1/authors?sort=name"), 422, "validation_failed")


def test_author_detail_with_books(api, make_book):
    first = make_book("Early", authors=("Ivo Marchetti",), published_on=date(2001, 1, 1))
    second = make_book("Late", authors=("Ivo Marchetti", "Jane Roe"), published_on=date(2020, 1, 1))
    make_book("Not Theirs", authors=("Jane Roe",))
    r = api.get(f"/api/v1/authors/{author_id('Ivo Marchetti')}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["name"] == "Ivo Marchetti" and body["books_total"] == 2 and body["photo_url"] is None
    assert [b["id"] for b in body["books"]] == [second.id, first.id]
    assert body["books"][0]["stock"]["state"] == "in_stock"
    assert_error(api.get("/api/v1/authors/999999"), 404, "not_found")


def test_genres(api, make_book):
    make_book("One", genres=("Science Fiction", "Art"))
    body = api.get("/api/v1/genres").get_json()
    assert [(g["slug"], g["name"]) for g in body] == [("art", "Art"), ("science-fiction", "Science Fiction")]
    assert all(isinstance(g["id"], int) for g in body)


def test_no_token_needed_and_a_bad_token_is_ignored(api, make_book):
    book = make_book("Open")
    assert api.get(f"/api/v1/books/{book.id}").status_code == 200
    r = api.get(f"/api/v1/books/{book.id}", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 200


def test_documented_in_openapi(api):
    spec = api.get("/api/openapi.json").get_json()
    for path in ("/api/v1/books", "/api/v1/books/{book_id}", "/api/v1/authors", "/api/v1/authors/{author_id}",
                 "/api/v1/genres"):
        get = spec["paths"][path]["get"]
        assert "304" in get["responses"] and "200" in get["responses"] and get.get("summary"), path
    params = {p["name"] for p in spec["paths"]["/api/v1/books"]["get"]["parameters"]}
    assert {"q", "genre", "author", "min_price", "max_price", "in_stock", "language", "sort", "cursor",
            "limit"} <= params


def test_redis_down_answers_from_the_database_without_a_validator(app, api, make_book, monkeypatch):
    from tests.web.test_catalog_cache_faults import _DownRedis

    book = make_book("Down", genres=("Fiction",))
    monkeypatch.setitem(app.extensions, "folio_cache_redis", _DownRedis())
    for url in ("/api/v1/books?genre=fiction", f"/api/v1/books/{book.id}", "/api/v1/genres", "/api/v1/authors"):
        r = api.get(url)
        assert r.status_code == 200, (url, r.get_json())
        assert "ETag" not in r.headers and r.headers["Cache-Control"] == "public, max-age=60", url
    assert api.get("/api/v1/books?genre=fiction").get_json()["items"][0]["id"] == book.id
