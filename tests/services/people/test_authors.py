"""Authors: validation rules, bank details encrypted at rest, admin saves and the delete rule. Each author's own
figures are tested in tests/services/insight/test_author_figures.py."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import AuditLog, Author, User
from webapp.services.people import author_admin, authors
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
    author, _ = author_admin.save_author(None, actor=admin, name="  Rhea   Stone ", bio=None, city="York",
                                    goodreads_url="https://www.goodreads.com/author/show/9", user_login="READER_R")
    db.session.commit()
    assert author.name == "Rhea Stone" and author.slug == "rhea-stone" and author.user_id == reader.id
    assert db.session.get(User, reader.id).role == "author"
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"admin.author_created", "admin.user_role_changed"} <= actions

    twin, _ = author_admin.save_author(None, actor=admin, name="Rhea Stone", bio=None, city=None, goodreads_url=None,
                                  user_login="")
    db.session.commit()
    assert twin.slug == "rhea-stone-2"
    with pytest.raises(AuthorError) as caught:
        author_admin.save_author(twin, actor=admin, name="Rhea Stone", bio=None, city=None, goodreads_url=None,
                            user_login="reader_r@example.com")
    assert "already linked to Rhea Stone" in caught.value.errors["user_login"][0]
    db.session.rollback()
    with pytest.raises(AuthorError) as caught:
        author_admin.save_author(twin, actor=admin, name="", bio=None, city=None, goodreads_url="http://goodreads.com/",
                            user_login="nobody_here")
    assert set(caught.value.errors) == {"name", "goodreads_url", "user_login"}
    db.session.rollback()

    # an admin linked to an author keeps the admin role; unlinking changes no role
    author_admin.save_author(twin, actor=admin, name="Rhea Stone Two", bio=None, city=None, goodreads_url=None,
                        user_login="boss_a")
    db.session.commit()
    assert twin.slug == "rhea-stone-two" and db.session.get(User, admin.id).role == "admin"
    author_admin.save_author(author, actor=admin, name="Rhea Stone", bio=None, city="York", goodreads_url=None,
                        user_login="")
    db.session.commit()
    assert author.user_id is None and db.session.get(User, reader.id).role == "author"


def test_only_authors_without_books_can_be_deleted(app, auth, make_book):
    admin = auth.user("boss_d", role="admin")
    make_book("Kept", authors=("Has Books",))
    with_books = db.session.scalar(select(Author).where(Author.name == "Has Books"))
    with pytest.raises(AuthorError, match="cannot be deleted"):
        author_admin.delete_author(with_books, actor=admin)
    db.session.rollback()
    lonely = Author(name="No Books", slug="no-books")
    db.session.add(lonely)
    db.session.commit()
    author_admin.delete_author(lonely, actor=admin)
    db.session.commit()
    assert db.session.scalar(select(Author).where(Author.name == "No Books")) is None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "admin.author_deleted")).before["name"] == \
        "No Books"
