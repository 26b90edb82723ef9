"""Issue 14 review (h5): operations that change the catalog behind the session's back must still show on the
next page (the catalog cache is versioned by session events; a restore replaces the database wholesale)."""
from __future__ import annotations

from sqlalchemy import text

from webapp.services.platform import backup, cache


def test_a_restore_is_on_the_next_page(app, db, client, make_book, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    book = make_book("Restored Price", price_cents=1500)
    book_id = book.id
    db.session.commit()
    db.session.remove()
    written = backup.backup(tmp_path / "before.tar")
    book = db.session.get(type(book), book_id)
    book.price_cents = 2345
    db.session.commit()
    db.session.remove()
    for url in (f"/books/{book_id}", "/books"):  # cached at the new price
        assert "23.45" in client.get(url).get_data(as_text=True)
    restored = backup.restore(written.path)
    assert restored.cache_cleared
    for url in (f"/books/{book_id}", "/books"):
        page = client.get(url).get_data(as_text=True)
        assert "15.00" in page and "23.45" not in page, url


def test_cache_clear_command(app, db, client, runner, make_book):
    book = make_book("Hand Edited", price_cents=1500)
    book_id = book.id
    db.session.remove()
    assert "15.00" in client.get(f"/books/{book_id}").get_data(as_text=True)
    db.session.execute(text("UPDATE books SET price_cents = 999 WHERE id = :i"), {"i": book_id})
    db.session.commit()
    # the change above bumps (text DML is seen); the command must work on its own too
    before = cache.get(cache.EPOCH_KEY)
    result = runner.invoke(args=["cache-clear"])
    assert result.exit_code == 0 and "cleared" in result.output
    assert cache.get(cache.EPOCH_KEY) != before
    assert "9.99" in client.get(f"/books/{book_id}").get_data(as_text=True)
