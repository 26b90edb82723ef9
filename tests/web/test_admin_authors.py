"""Admin authors: list and search (htmx and plain), create and edit with validation, linking an account,
the delete rule, masked bank details, audit."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import AuditLog, Author, User
from webapp.services.people import authors as author_service
from webapp.services.platform import uploads


def post(admin_client, auth, url, data=None, **kwargs):
    data = dict(data or {})
    data["csrf_token"] = auth.csrf(admin_client)
    return admin_client.post(url, data=data, **kwargs)


def form(**changes):
    data = {"name": "", "bio": "", "city": "", "goodreads_url": "", "user_login": ""}
    data.update(changes)
    return data


def _author(name: str) -> Author | None:
    db.session.expire_all()
    return db.session.scalar(select(Author).where(Author.name == name))


@pytest.mark.parametrize("role", ["customer", "author"])
def test_only_admins_reach_the_authors_screens(app, auth, role):
    auth.user("someone", role=role)
    client = app.test_client()
    auth.login("someone", client=client)
    assert client.get("/admin/authors").status_code == 403
    assert client.get("/admin/authors/new").status_code == 403
    assert app.test_client().get("/admin/authors").status_code == 302  # signed out: to sign in


def test_list_searches_and_paginates_with_and_without_htmx(admin_client, auth, make_book):
    make_book("Glass Orchard", authors=("Rhea Stone",))
    for i in range(27):
        db.session.add(Author(name=f"Bulk Writer {i:02d}", slug=f"bulk-writer-{i:02d}", city="Oslo" if i == 3 else None))
    db.session.commit()
    body = admin_client.get("/admin/authors").get_data(as_text=True)
    assert "<html" in body and "28 authors" in body and 'id="authors-table"' in body

    body = admin_client.get("/admin/authors?q=rhea").get_data(as_text=True)
    assert "Rhea Stone" in body and "Bulk Writer" not in body
    row = re.search(r'<tr data-testid="author-row">(.*?)</tr>', body, re.S).group(1)
    assert "<td>1</td>" in row  # one book

    r = admin_client.get("/admin/authors?q=oslo", headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert "<html" not in body and "Bulk Writer 03" in body and "1 author" in body
    assert "HX-Request" in r.headers["Vary"]

    page1 = admin_client.get("/admin/authors?q=bulk").get_data(as_text=True)
    page2 = admin_client.get("/admin/authors?q=bulk&page=2").get_data(as_text=True)
    names1 = set(re.findall(r">(Bulk Writer \d\d)<", page1))
    names2 = set(re.findall(r">(Bulk Writer \d\d)<", page2))
    assert len(names1) == 25 and len(names2) == 2 and not names1 & names2
    assert 'hx-get="/admin/authors?q=bulk&amp;page=2"' in page1 and 'href="/admin/authors?q=bulk&amp;page=2"' in page1
    assert admin_client.get("/admin/authors?page=-3&q=%1b").status_code == 200
    assert admin_client.get("/admin/authors?q=%00").status_code == 400


@pytest.mark.parametrize("changes, field, message", [
    ({"name": ""}, "name", "Enter the author"),
    ({"name": "x" * 161}, "name", "160"),
    ({"goodreads_url": "http://www.goodreads.com/author/show/1"}, "goodreads_url", "https://"),
    ({"goodreads_url": "https://goodreads.com.evil.example/"}, "goodreads_url", "goodreads.com"),
    ({"goodreads_url": "javascript:alert(1)"}, "goodreads_url", "https://"),
    ({"user_login": "no_such_person"}, "user_login", "No account has that username or email"),
    ({"bio": "b" * 2001}, "bio", "2000"),
])
def test_create_refuses_invalid_input_and_saves_nothing(admin_client, auth, changes, field, message):
    data = form(name="Valid Name")
    data.update(changes)
    r = post(admin_client, auth, "/admin/authors/new", data)
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and message in body
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', body)
    assert re.search(rf'id="{field}"[^>]*autofocus|autofocus[^>]*id="{field}"', body)  # focus on the first error
    assert db.session.scalar(select(func.count()).select_from(Author)) == 0


def test_create_links_a_customer_who_becomes_an_author_and_everything_is_audited(admin_client, auth):
    reader = auth.user("future_writer")
    r = post(admin_client, auth, "/admin/authors/new", form(
        name="Mara Quill", bio="Poet.", city="Cork", goodreads_url="https://www.goodreads.com/author/show/5.Mara",
        user_login="FUTURE_WRITER@example.com", photo=(_png(), "mara.png")), content_type="multipart/form-data")
    assert r.status_code == 303
    author = _author("Mara Quill")
    assert r.headers["Location"].endswith(f"/admin/authors/{author.id}/edit")
    assert (author.slug, author.city, author.user_id) == ("mara-quill", "Cork", reader.id)
    assert author.photo_path and author.photo_path.startswith("authors/")
    assert db.session.get(User, reader.id).role == "author"
    actions = [e.action for e in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions[-2:] == ["admin.author_created", "admin.user_role_changed"]
    with admin_client.application.test_request_context():
        uploads.delete(author.photo_path)

    # the new author's account now reaches /author
    writer = admin_client.application.test_client()
    auth.login("future_writer", client=writer)
    assert "Mara Quill" in writer.get("/author").get_data(as_text=True)


def test_edit_renames_with_a_new_slug_refuses_bad_photos_and_masks_bank_details(admin_client, auth):
    author = Author(name="Old Name", slug="old-name")
    db.session.add(author)
    db.session.commit()
    writer = auth.user("bank_writer", role="author")
    author.user_id = writer.id
    author_service.update_profile(author, actor=writer, bio=None, city=None, goodreads_url=None,
                                  bank_account="DE89 3704 0044 0532 0130 00")
    db.session.commit()

    body = admin_client.get(f"/admin/authors/{author.id}/edit").get_data(as_text=True)
    assert "•••• 3000" in body and "532013000" not in body and "DE89" not in body
    assert 'value="bank_writer"' in body  # the linked account is shown by username

    r = post(admin_client, auth, f"/admin/authors/{author.id}/edit",
             form(name="Old Name", user_login="bank_writer", photo=(io.BytesIO(b"GIF89a nonsense"), "x.gif")),
             content_type="multipart/form-data")
    assert r.status_code == 200 and "not an image we can read" in r.get_data(as_text=True)

    r = post(admin_client, auth, f"/admin/authors/{author.id}/edit",
             form(name="New <Name>", city="Riga", user_login="bank_writer"))
    assert r.status_code == 303
    author = _author("New <Name>")
    assert author.slug == "new-name" and author.city == "Riga" and author.bank_account_last4 == "3000"
    body = admin_client.get(f"/admin/authors/{author.id}/edit").get_data(as_text=True)
    assert "New &lt;Name&gt;" in body and "New <Name>" not in body
    assert "admin.author_updated" in body  # the history on the page
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "admin.author_updated"))
    assert entry.before["name"] == "Old Name" and entry.after["slug"] == "new-name"
    assert admin_client.get("/admin/authors/999999/edit").status_code == 404


def test_delete_only_when_the_author_has_no_books(admin_client, auth, make_book):
    make_book("Kept Book", authors=("Busy Author",))
    busy = _author("Busy Author")
    r = post(admin_client, auth, f"/admin/authors/{busy.id}/delete")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/admin/authors/{busy.id}/edit")
    assert "has books in the catalog" in admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert _author("Busy Author") is not None

    idle = Author(name="Idle Author", slug="idle-author")
    db.session.add(idle)
    db.session.commit()
    idle_id = idle.id
    assert admin_client.post(f"/admin/authors/{idle_id}/delete").status_code == 400  # CSRF
    r = post(admin_client, auth, f"/admin/authors/{idle_id}/delete")
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/authors")
    assert _author("Idle Author") is None
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "admin.author_deleted")) is not None
    assert post(admin_client, auth, f"/admin/authors/{idle_id}/delete").status_code == 404


def _png() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 120), (200, 200, 20)).save(buffer, "PNG")
    buffer.seek(0)
    return buffer
