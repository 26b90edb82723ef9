from datetime import date

from sqlalchemy import text

from webapp.models import Author, Book
from webapp.services.catalog import browse, search, vocabulary
from webapp.services.catalog.search import BookQuery


def titles(result):
    return [b.title for b in result.books]


def test_author_surname_lists_that_authors_books_first(app, make_book):
    make_book("Winterbourne Gardens", authors=("Cleo Hart",), description="Nothing about the author.")
    make_book("A Quiet Orchard", authors=("Petra Winterbourne",))
    make_book("The Salt Road", authors=("Petra Winterbourne", "Ivo Lund"))
    make_book("Unrelated", authors=("Jon Moss",), description="A review once compared it to Winterbourne.")
    result = search.search_books(BookQuery(q="winterbourne"))
    assert result.total == 4
    # Title match ranks highest, then the author's books, then the passing description mention.
    assert titles(result)[0] == "Winterbourne Gardens"
    assert set(titles(result)[1:3]) == {"A Quiet Orchard", "The Salt Road"}
    assert titles(result)[3] == "Unrelated"


def test_surname_beats_description_mentions(app, make_book):
    for i in range(3):
        make_book(f"Essay {i}", authors=("Jo Brandt",), description="Mentions Okonkwo in passing.")
    make_book("The River Book", authors=("Ada Okonkwo",))
    result = search.search_books(BookQuery(q="Okonkwo"))
    assert titles(result)[0] == "The River Book"


def test_last_word_matches_as_a_prefix(app, make_book):
    make_book("The Cartographer's Daughter")
    make_book("Cartoons for Adults")
    assert titles(search.search_books(BookQuery(q="cartog"))) == ["The Cartographer's Daughter"]
    assert len(search.search_books(BookQuery(q="cart")).books) == 2


def test_typo_shows_corrected_results_with_did_you_mean(app, make_book):
    make_book("The Lantern Keeper")
    vocabulary.rebuild_terms()
    result = search.search_books(BookQuery(q="lantren"))
    assert result.corrected_from == "lantren"
    assert result.suggestion == "lantern"
    assert titles(result) == ["The Lantern Keeper"]


def test_nothing_close_gives_an_empty_result_without_suggestion(app, make_book):
    make_book("The Lantern Keeper")
    vocabulary.rebuild_terms()
    result = search.search_books(BookQuery(q="zzqxv"))
    assert result.total == 0 and result.books == [] and result.suggestion is None


def test_filters_combine(app, make_book):
    make_book("Alpha", genres=("Fantasy",), price_cents=1000, on_hand=0, language="en")
    make_book("Beta", genres=("Fantasy",), price_cents=2000, on_hand=3, language="en")
    make_book("Gamma", genres=("Fantasy",), price_cents=2500, on_hand=3, language="fr")
    make_book("Delta", genres=("Crime",), price_cents=2000, on_hand=3, language="en")
    q = BookQuery(genre="fantasy", in_stock=True, min_price_cents=1500, max_price_cents=3000, language="en")
    assert titles(search.search_books(q)) == ["Beta"]
    assert titles(search.search_books(BookQuery(genre="fantasy", sort="price_desc"))) == ["Gamma", "Beta", "Alpha"]
    assert search.search_books(BookQuery(genre="no-such-genre")).total == 0


def test_in_stock_means_on_hand_minus_reserved(app, db, make_book):
    book = make_book("Reserved Out", on_hand=2)
    db.session.execute(text("UPDATE inventory SET reserved = 2 WHERE book_id = :id"), {"id": book.id})
    db.session.commit()
    assert search.search_books(BookQuery(in_stock=True)).total == 0
    assert search.search_books(BookQuery()).total == 1


def test_sorts(app, make_book):
    make_book("Banana", price_cents=500, published_on=date(2001, 1, 1), units_sold=5)
    make_book("apple", price_cents=900, published_on=date(2020, 1, 1), units_sold=50)
    make_book("Cherry", price_cents=700, published_on=date(2010, 1, 1), units_sold=0)
    assert titles(search.search_books(BookQuery(sort="price_asc"))) == ["Banana", "Cherry", "apple"]
    assert titles(search.search_books(BookQuery(sort="newest"))) == ["apple", "Cherry", "Banana"]
    assert titles(search.search_books(BookQuery(sort="bestselling"))) == ["apple", "Banana", "Cherry"]
    assert titles(search.search_books(BookQuery(sort="bogus"))) == ["apple", "Cherry", "Banana"]  # falls back to newest


def test_pages_are_bounded_and_clamped(app, make_book):
    for i in range(5):
        make_book(f"Book {i}")
    result = search.search_books(BookQuery(per_page=2, page=99))
    assert result.pages == 3 and result.page == 3 and len(result.books) == 1
    assert search.search_books(BookQuery(per_page=2, page=0)).page == 1


def test_inactive_books_are_hidden(app, make_book):
    make_book("Archived Title", active=False)
    assert search.search_books(BookQuery(q="archived")).total == 0


def test_markup_and_quotes_in_queries_never_error(app, make_book):
    make_book("Plain")
    for q in ['<script>alert(1)</script>', '"unbalanced', "o'brien", "a & b | !c", "(((", "*", "::", "\\", "%_", "ñandú"]:
        result = search.search_books(BookQuery(q=q))
        assert result.total >= 0


def test_database_keeps_author_names_and_index_current(app, db, make_book):
    """Renaming an author updates books.author_names (trigger) and the search index."""
    book = make_book("Quiet Harbour", authors=("Nell Oldname",))
    author = db.session.query(Author).filter_by(name="Nell Oldname").one()
    author.name = "Nell Newname"
    db.session.commit()
    assert db.session.get(Book, book.id).author_names == "Nell Newname"
    assert titles(search.search_books(BookQuery(q="newname"))) == ["Quiet Harbour"]
    assert search.search_books(BookQuery(q="oldname")).books == []


def test_title_change_is_searchable_at_once(app, db, make_book):
    book = make_book("Old Title")
    book = db.session.get(Book, book.id)
    book.title = "Brand New Heading"
    db.session.commit()
    assert titles(search.search_books(BookQuery(q="heading"))) == ["Brand New Heading"]


def test_related_books_prefer_same_author_then_genre(app, db, make_book):
    main = make_book("Main", authors=("Ana Rel",), genres=("Poetry",))
    make_book("Same Author", authors=("Ana Rel",), genres=("Crime",))
    make_book("Same Genre", authors=("Bo Other",), genres=("Poetry",), units_sold=9)
    make_book("Neither", authors=("Cy Else",), genres=("Crime",))
    book = browse.book_detail(main.id)
    assert [b.title for b in browse.books_by_ids(browse.related_ids(book.id, [a.id for a in book.authors], [g.id for g in book.genres]))] == ["Same Author", "Same Genre"]
