"""Authors: validation rules, bank details encrypted at rest, admin saves, the delete rule and each author's
own figures (sales of their books only; co-written books count in full for each author, as in the reports)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests import checkout_helpers as ch
from webapp.extensions import db
from webapp.models import AuditLog, Author, Inventory, Order, User, utcnow
from webapp.services.people import authors
from webapp.services.people.authors import AuthorError
from webapp.services.platform import crypto

GOOD_URLS = [
    "https://www.goodreads.com/author/show/123.Name",
    "https://goodreads.com/author/show/42",
    "HTTPS://WWW.GOODREADS.COM/author/show/7.Someone?ref=x",
    "",
]
BAD_URLS = [
    "http://www.goodreads.com/author/show/123.Name",  # http only
    "https://example.com/author/show/123",  # another host
    "javascript:alert(1)",
    "javascript://www.goodreads.com/%0Aalert(1)",
    "https://goodreads.com.evil.example/author/show/1",  # lookalike host
    "https://evilgoodreads.com/author/show/1",
    "https://www.goodreads.com@evil.example/author/show/1",  # user info trick
    "https://www.goodreads.com:8443/author/show/1",
    "//www.goodreads.com/author/show/1",
    "https://www.goodreads.com/author show/1",
    "https://www.goodreads.com\\@evil.example/",
    'https://www.goodreads.com/author/show/1?x="><script>alert(1)</script>',
    "data:text/html,<script>alert(1)</script>",
    "https://www.goodreads.com/" + "a" * 300,
]


@pytest.mark.parametrize("url", GOOD_URLS)
def test_goodreads_links_accepted(url):
    assert authors.goodreads_error(url) is None


@pytest.mark.parametrize("url", BAD_URLS)
def test_goodreads_links_refused(url):
    message = authors.goodreads_error(url)
    assert message and "goodreads.com" in message


def test_goodreads_link_is_stored_tidy():
    assert authors.clean_goodreads("HTTPS://WWW.GOODREADS.COM/author/show/7?x=1") == \
        "https://www.goodreads.com/author/show/7?x=1"
    assert authors.clean_goodreads("https://goodreads.com") == "https://goodreads.com/"


@pytest.mark.parametrize("number", ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "de89-3704-0044-0532-0130-00",
                                    "123456", "1234 5678 9012", "0" * 34, ""])
def test_bank_numbers_accepted(number):
    assert authors.bank_account_error(number) is None


@pytest.mark.parametrize("number, fragment", [
    ("GB82 WEST 1234 5698 7654 33", "IBAN"),  # bad check digits
    ("DE89 3704 0044 0532 0130", "IBAN"),  # wrong length for DE
    ("12345", "6 to 34 digits"),
    ("1" * 35, "6 to 34 digits"),
    ("12AB5678", "6 to 34 digits"),
    ("<script>", "6 to 34 digits"),
])
def test_bank_numbers_refused(number, fragment):
    assert fragment in authors.bank_account_error(number)


@pytest.fixture
def writer(app, auth):
    user = auth.user("anna_writes", role="author")
    author = Author(name="Anna Writes", slug="anna-writes", user_id=user.id)
    db.session.add(author)
    db.session.commit()
    return user, author


def test_bank_account_is_encrypted_at_rest_and_never_audited(app, writer):
    user, author = writer
    authors.update_profile(author, actor=user, bio="Hi", city="Leeds", goodreads_url="",
                           bank_account="GB82 WEST 1234 5698 7654 32", ip="127.0.0.1")
    db.session.commit()
    raw = db.session.execute(text("SELECT bank_account_encrypted, bank_account_last4 FROM authors WHERE id = :id"),
                             {"id": author.id}).one()
    assert raw[1] == "5432"
    assert "98765432" not in raw[0] and "WEST" not in raw[0] and "GB82" not in raw[0]
    assert crypto.decrypt(raw[0]) == "GB82WEST12345698765432"
    assert authors.bank_account_number(author) == "GB82WEST12345698765432"
    assert authors.masked_bank_account(author) == "•••• 5432"

    # empty keeps the number; the same number again changes nothing
    authors.update_profile(author, actor=user, bio="Hi", city="Leeds", goodreads_url="", bank_account="")
    authors.update_profile(author, actor=user, bio="Hi", city="Leeds", goodreads_url="",
                           bank_account="GB82WEST12345698765432")
    db.session.commit()
    assert authors.bank_account_number(author) == "GB82WEST12345698765432"

    authors.update_profile(author, actor=user, bio="Hi", city="Leeds", goodreads_url="", bank_account="00123456789")
    assert authors.remove_bank_account(author, actor=user) is True
    assert authors.remove_bank_account(author, actor=user) is False
    db.session.commit()
    assert author.bank_account_encrypted is None and author.bank_account_last4 is None
    assert authors.masked_bank_account(author) is None

    log = db.session.scalars(select(AuditLog).where(AuditLog.object_type == "author")).all()
    dumped = json.dumps([(e.action, e.before, e.after, e.note) for e in log])
    assert "changed" in dumped and "removed" in dumped
    for secret in ("5698", "GB82", "123456789", "5432"):
        assert secret not in dumped
    assert len([e for e in log if e.action == "author.profile_updated"]) == 2  # the unchanged saves left no entry


def test_profile_rules_refuse_everything_together_and_change_nothing(app, writer):
    user, author = writer
    with pytest.raises(AuthorError) as caught:
        authors.update_profile(author, actor=user, bio="x" * (authors.BIO_MAX + 1), city="Leeds",
                               goodreads_url="https://goodreads.com.evil.example/", bank_account="12")
    assert set(caught.value.errors) == {"bio", "goodreads_url", "bank_account"}
    db.session.rollback()
    assert author.bio is None and author.bank_account_encrypted is None


def test_admin_save_links_a_customer_who_becomes_an_author(app, auth):
    admin = auth.user("boss_a", role="admin")
    reader = auth.user("reader_r")
    author, _ = authors.save_author(None, actor=admin, name="  Rhea   Stone ", bio=None, city="York",
                                    goodreads_url="https://www.goodreads.com/author/show/9", user_login="READER_R")
    db.session.commit()
    assert author.name == "Rhea Stone" and author.slug == "rhea-stone" and author.user_id == reader.id
    assert db.session.get(User, reader.id).role == "author"
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"admin.author_created", "admin.user_role_changed"} <= actions

    twin, _ = authors.save_author(None, actor=admin, name="Rhea Stone", bio=None, city=None, goodreads_url=None,
                                  user_login="")
    db.session.commit()
    assert twin.slug == "rhea-stone-2"
    with pytest.raises(AuthorError) as caught:
        authors.save_author(twin, actor=admin, name="Rhea Stone", bio=None, city=None, goodreads_url=None,
                            user_login="reader_r@example.com")
    assert "already linked to Rhea Stone" in caught.value.errors["user_login"][0]
    db.session.rollback()
    with pytest.raises(AuthorError) as caught:
        authors.save_author(twin, actor=admin, name="", bio=None, city=None, goodreads_url="http://goodreads.com/",
                            user_login="nobody_here")
    assert set(caught.value.errors) == {"name", "goodreads_url", "user_login"}
    db.session.rollback()

    # an admin linked to an author keeps the admin role; unlinking changes no role
    authors.save_author(twin, actor=admin, name="Rhea Stone Two", bio=None, city=None, goodreads_url=None,
                        user_login="boss_a")
    db.session.commit()
    assert twin.slug == "rhea-stone-two" and db.session.get(User, admin.id).role == "admin"
    authors.save_author(author, actor=admin, name="Rhea Stone", bio=None, city="York", goodreads_url=None,
                        user_login="")
    db.session.commit()
    assert author.user_id is None and db.session.get(User, reader.id).role == "author"


def test_only_authors_without_books_can_be_deleted(app, auth, make_book):
    admin = auth.user("boss_d", role="admin")
    make_book("Kept", authors=("Has Books",))
    with_books = db.session.scalar(select(Author).where(Author.name == "Has Books"))
    with pytest.raises(AuthorError, match="cannot be deleted"):
        authors.delete_author(with_books, actor=admin)
    db.session.rollback()
    lonely = Author(name="No Books", slug="no-books")
    db.session.add(lonely)
    db.session.commit()
    authors.delete_author(lonely, actor=admin)
    db.session.commit()
    assert db.session.scalar(select(Author).where(Author.name == "No Books")) is None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "admin.author_deleted")).before["name"] == \
        "No Books"


# ---- figures ---------------------------------------------------------------------------------------------------

def _author(name: str) -> Author:
    return db.session.scalar(select(Author).where(Author.name == name))


@pytest.fixture
def sales(app, make_book, run_jobs):
    """Anna: "Alpha Tales"; Ben: "Beta Stories"; both: "Shared Song". Paid, refunded, unpaid and old orders."""
    alpha = make_book("Alpha Tales", authors=("Anna A",), price_cents=1500, on_hand=20)
    beta = make_book("Beta Stories", authors=("Ben B",), price_cents=2000, on_hand=20)
    shared = make_book("Shared Song", authors=("Anna A", "Ben B"), price_cents=1001, on_hand=20)
    make_book("Quiet Book", authors=("Anna A",), on_hand=4)  # no sales: still listed with zeros

    one = ch.start(ch.shopper("buyer_one"), [(alpha, 2, "buy", 7), (beta, 1, "buy", 7), (shared, 1, "buy", 7)])
    ch.pay(one)
    two = ch.start(ch.shopper("buyer_two"), [(alpha, 1, "rent", 3)])
    ch.pay(two)
    six = ch.start(ch.shopper("buyer_six"), [(beta, 1, "rent", 2)])
    ch.pay(six)
    unpaid = ch.start(ch.shopper("buyer_three"), [(alpha, 3, "buy", 7), (beta, 3, "buy", 7)])
    refunded = ch.start(ch.shopper("buyer_four"), [(alpha, 4, "buy", 7)])
    ch.pay(refunded)
    old = ch.start(ch.shopper("buyer_five"), [(beta, 1, "buy", 7), (shared, 2, "buy", 7)])
    ch.pay(old)
    run_jobs()  # the gateway's signed events reach the webhook: the orders are paid
    run_jobs()
    db.session.expire_all()
    assert {db.session.get(Order, o.id).status for o in (one, two, six, refunded, old)} == {"paid"}
    db.session.get(Order, refunded.id).status = "refunded"
    db.session.get(Order, old.id).paid_at = utcnow() - timedelta(days=60)  # in 12 months, not in 30 days
    db.session.commit()
    assert db.session.get(Order, unpaid.id).status == "pending_payment"
    line = {(ln.order_id, ln.book_id, ln.mode): ln.line_cents
            for o in (one, two, six, old) for ln in db.session.get(Order, o.id).lines}
    return {"alpha": alpha, "beta": beta, "shared": shared, "one": one, "two": two, "six": six, "old": old,
            "line": line}


def test_each_author_sees_only_their_own_books(sales, count_queries):
    line, one, two, old = sales["line"], sales["one"].id, sales["two"].id, sales["old"].id
    alpha, beta, shared = sales["alpha"].id, sales["beta"].id, sales["shared"].id
    anna, ben = _author("Anna A"), _author("Ben B")

    with count_queries() as statements:
        mine = authors.figures(anna, "12m")
    assert len(statements) == 3  # aggregates only, whatever the number of books or orders

    anna_revenue = (line[(one, alpha, "buy")] + line[(two, alpha, "rent")]
                    + line[(one, shared, "buy")] + line[(old, shared, "buy")])
    assert (mine.total_sold, mine.total_rented) == (2 + 1 + 2, 1)
    assert mine.total_revenue_cents == anna_revenue
    by_title = {b.title: b for b in mine.books}
    assert set(by_title) == {"Alpha Tales", "Shared Song", "Quiet Book"}
    assert (by_title["Alpha Tales"].sold, by_title["Alpha Tales"].rented) == (2, 1)
    assert by_title["Alpha Tales"].revenue_cents == line[(one, alpha, "buy")] + line[(two, alpha, "rent")]
    assert by_title["Shared Song"].co_authors == 1 and by_title["Shared Song"].sold == 3
    assert by_title["Shared Song"].revenue_cents == line[(one, shared, "buy")] + line[(old, shared, "buy")]
    assert (by_title["Quiet Book"].sold, by_title["Quiet Book"].revenue_cents, by_title["Quiet Book"].available) == \
        (0, 0, 4)
    # sold, rented and reserved (unpaid order) copies are not available; the hand-made "refund" kept its 4
    assert by_title["Alpha Tales"].available == 20 - 2 - 1 - 3 - 4 == db.session.get(Inventory, alpha).available
    assert len(mine.labels) == 12 and sum(mine.sold) == mine.total_sold and sum(mine.rented) == 1
    assert mine.sold[-1] == 3 and mine.revenue_cents[-1] == anna_revenue - line[(old, shared, "buy")]

    theirs = authors.figures(ben, "12m")
    assert {b.title for b in theirs.books} == {"Beta Stories", "Shared Song"}
    assert (theirs.total_sold, theirs.total_rented) == (1 + 1 + 1 + 2, 1)
    ben_revenue = (line[(one, beta, "buy")] + line[(sales["six"].id, beta, "rent")] + line[(old, beta, "buy")]
                   + line[(one, shared, "buy")] + line[(old, shared, "buy")])
    assert theirs.total_revenue_cents == ben_revenue


def test_the_30_day_view_is_daily_and_leaves_older_orders_out(sales):
    line, one, two = sales["line"], sales["one"].id, sales["two"].id
    recent = authors.figures(_author("Anna A"), "30d")
    assert recent.period == "30d" and len(recent.labels) == 30
    assert (recent.total_sold, recent.total_rented) == (3, 1)
    assert recent.total_revenue_cents == (line[(one, sales["alpha"].id, "buy")] + line[(two, sales["alpha"].id, "rent")]
                                          + line[(one, sales["shared"].id, "buy")])
    assert recent.sold[-1] == 3 and sum(recent.sold[:-1]) == 0
    assert authors.figures(_author("Anna A"), "nonsense").period == "12m"


def test_an_author_without_books_has_empty_figures(app):
    lonely = Author(name="Lonely", slug="lonely")
    db.session.add(lonely)
    db.session.commit()
    view = authors.figures(lonely)
    assert view.books == [] and view.total_revenue_cents == 0 and view.sold == [0] * 12
