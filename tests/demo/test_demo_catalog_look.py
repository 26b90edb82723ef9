"""The demo catalog looks like a shop's (issue 17): varied multi-paragraph blurbs, series numbered 1..n with one
genre, author and publisher each, both formats, plausible pages and dates; all deterministic for a seed."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from webapp.demo.books import GENRES, book_rows, series_of_block

GENRE_NAMES = dict(enumerate(GENRES, start=1))
AUTHORS = {i: f"Author {i}" for i in range(1, 101)}


def _rows(seed: int = 1, n: int = 600, indexes=None):
    return list(book_rows(indexes or range(n), seed, list(AUTHORS), AUTHORS, list(GENRE_NAMES), GENRE_NAMES))


def test_descriptions_vary_have_paragraphs_and_are_deterministic():
    rows = _rows()
    descriptions = [r["description"] for r in rows]
    assert len(set(descriptions)) == len(descriptions)  # no two read the same
    paragraphs = [d.count("\n\n") + 1 for d in descriptions]
    assert min(paragraphs) >= 2 and max(paragraphs) <= 4 and len(set(paragraphs)) >= 2
    openings = {d.split(".")[0] for d in descriptions}
    assert len(openings) > len(descriptions) * 0.8
    assert all("{" not in d and "}" not in d for d in descriptions)
    assert descriptions == [r["description"] for r in _rows()]
    assert descriptions[:50] != [r["description"] for r in _rows(seed=2, n=50)]
    # a book made alone is the same book
    assert _rows(indexes=[437])[0] == rows[437]


def test_series_are_numbered_in_order_and_share_genre_author_and_publisher():
    rows = _rows(n=1200)
    series = defaultdict(list)
    for r in rows:
        assert (r["series_name"] is None) == (r["series_number"] is None)
        if r["series_name"]:
            series[r["series_name"]].append(r)
    assert len(series) >= 10
    for name, books in series.items():
        assert [b["series_number"] for b in books] == list(range(1, len(books) + 1)), name
        assert len({b["_genres"][0] for b in books}) == 1 and len({tuple(b["_authors"]) for b in books}) == 1
        assert len({b["publisher"] for b in books}) == 1
        assert [b["published_on"] for b in books] == sorted(b["published_on"] for b in books)
        assert f"{name}" in books[-1]["description"]
        if name.endswith("Trilogy"):
            assert len(books) == 3
    assert series_of_block(1, 1) is None  # odd blocks never hold a series


def test_titles_formats_pages_and_dates_are_plausible():
    rows = _rows()
    assert len({r["title"] for r in rows}) > len(rows) * 0.7
    assert all("Lighthouse" not in r["title"] and "Almanac" not in r["title"] for r in rows)  # the e2e needle's
    formats = {r["format"] for r in rows}
    assert formats == {"paperback", "hardcover"}
    assert all(32 <= r["pages"] <= 640 for r in rows)
    assert all(date(1950, 1, 1) <= r["published_on"] <= date(2031, 12, 31) for r in rows)
    assert sum(r["published_on"].year >= 2012 for r in rows) > len(rows) / 2
