"""Backups: a seeded database and its uploads survive backup -> loss -> restore, on SQLite and (with
TEST_DATABASE_URL) PostgreSQL; the CLI refuses to restore without --yes; pg tools get no password on argv."""
from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests.checkout_helpers import shopper, start
from tests.conftest import _empty_tables, using_postgres
from webapp.models import Book, Order, User
from webapp.services.platform import backup, uploads


@pytest.fixture
def upload_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(folder))
    return folder


def _cover() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 450), (20, 90, 160)).save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def _seed(db, make_book):
    books = [make_book(f"Backed Up {n}", price_cents=1000 + n) for n in range(3)]
    books[0].cover_path = uploads.save_image(_cover(), "covers")
    user = shopper("keeper")
    order = start(user, [(books[1], 2, "buy", None)])
    db.session.commit()
    return books, user, order


def _counts(db) -> tuple[int, int, int]:
    return tuple(db.session.scalar(select(func.count()).select_from(model)) for model in (Book, User, Order))


def test_round_trip_of_a_seeded_database_and_its_uploads(app, db, runner, make_book, upload_dir, tmp_path):
    books, user, order = _seed(db, make_book)
    order_number, order_total, user_id = order.number, order.total_cents, user.id
    newest_book_id = max(b.id for b in books)
    cover = uploads.path_for(books[0].cover_path)
    cover_bytes = cover.read_bytes()
    before = _counts(db)
    db.session.remove()

    result = runner.invoke(args=["backup", "--output", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    path = Path(re.search(r"Backup written: (\S+) ", result.output).group(1))
    assert path.parent == tmp_path / "backups" and path.name.startswith("folio-backup-") and path.suffix == ".tar"
    assert path.stat().st_mode & 0o077 == 0  # owner only: it holds password hashes
    assert "2 uploaded file(s)" in result.output  # the cover's full and thumb sizes
    with tarfile.open(path) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["dialect"] == ("postgresql" if using_postgres() else "sqlite") and manifest["revision"]
    assert manifest["database"] in names and sum(n.startswith("uploads/covers/") for n in names) == 2

    # the disaster: every row gone, a row that was not in the backup added, the images deleted
    _empty_tables(db)
    make_book("Written After The Backup")
    cover.unlink()
    assert _counts(db) == (1, 0, 0)
    db.session.remove()

    refused = runner.invoke(args=["restore", str(path)])
    assert refused.exit_code == 2 and "--yes" in refused.output
    assert _counts(db) == (1, 0, 0)  # nothing was touched
    db.session.remove()

    restored = runner.invoke(args=["restore", str(path), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "2 uploaded file(s)" in restored.output
    assert _counts(db) == before
    titles = set(db.session.scalars(select(Book.title)))
    assert titles == {"Backed Up 0", "Backed Up 1", "Backed Up 2"}
    back = db.session.scalars(select(Order).where(Order.number == order_number)).one()
    assert back.total_cents == order_total and back.user_id == user_id
    assert db.session.get(User, user_id).username == "keeper"
    assert cover.read_bytes() == cover_bytes
    db.session.remove()
    # the shop still works on the restored database: a new book gets a fresh id
    assert make_book("After The Restore").id > newest_book_id


def test_keep_prunes_older_backups(app, runner, upload_dir, tmp_path):
    folder = tmp_path / "nightly"
    folder.mkdir()
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        (folder / f"folio-backup-{stamp}.tar").write_bytes(b"old")
    (folder / "notes.txt").write_text("not a backup")
    result = runner.invoke(args=["backup", "--output", str(folder), "--keep", "2"])
    assert result.exit_code == 0, result.output
    left = sorted(p.name for p in folder.iterdir())
    assert left[0] == "folio-backup-20260103T000000Z.tar" and left[1].startswith("folio-backup-2")
    assert left[2] == "notes.txt" and len(left) == 3


def _tar(path: Path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return path


def test_restore_refuses_what_is_not_a_backup_of_this_kind(app, db, upload_dir, tmp_path):
    with pytest.raises(backup.BackupError, match="not a Folio backup"):
        backup.restore(_tar(tmp_path / "x.tar", {"hello.txt": b"hi"}))
    with pytest.raises(backup.BackupError, match="cannot be read"):
        (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
        backup.restore(tmp_path / "junk.tar")
    other = "sqlite" if using_postgres() else "postgresql"
    manifest = json.dumps({"format": 1, "dialect": other, "database": "database.dump"}).encode()
    with pytest.raises(backup.BackupError, match=f"is a {other} backup"):
        backup.restore(_tar(tmp_path / "other.tar", {"manifest.json": manifest, "database.dump": b"x"}))


def test_restore_takes_only_expected_regular_files(app, db, make_book, upload_dir, tmp_path):
    make_book("Kept")
    db.session.remove()
    written = backup.backup(tmp_path / "good.tar")
    with tarfile.open(written.path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    members["../escaped.txt"] = b"evil"
    members["uploads/covers/../../escaped2.txt"] = b"evil"
    members["/tmp/absolute.txt"] = b"evil"
    evil = _tar(tmp_path / "evil.tar", members, links=("uploads/covers/link.jpg",))
    restored = backup.restore(evil)
    assert restored.upload_files == 0
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "escaped2.txt").exists()
    assert not Path("/tmp/absolute.txt").exists() and not (upload_dir / "covers" / "link.jpg").exists()
    assert db.session.scalars(select(Book.title)).all() == ["Kept"]


def test_postgres_tools_get_the_password_by_environment_never_argv(app, monkeypatch, tmp_path):
    url = make_url("postgresql+psycopg://shop:s3cr%40t@db.example:5433/folio?sslmode=require")
    calls = []

    def fake_run(argv, **kwargs):
        calls.append((argv, kwargs.get("env")))
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setenv("PGPASSWORD", "inherited-and-wrong")
    monkeypatch.setattr(backup.subprocess, "run", fake_run)
    monkeypatch.setattr(backup, "_tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(backup, "_major", lambda tool: 16)
    monkeypatch.setattr(backup, "_server_major", lambda: 16)
    assert backup._dump_postgres(url, tmp_path / "d.dump") == 16
    backup._restore_postgres(url, tmp_path / "d.dump", 16)
    assert [argv[0] for argv, _ in calls] == ["/usr/bin/pg_dump", "/usr/bin/pg_restore"]
    for argv, env in calls:
        assert not any("s3cr" in part for part in argv)
        assert env["PGPASSWORD"] == "s3cr@t" and env["PGHOST"] == "db.example" and env["PGPORT"] == "5433"
        assert env["PGUSER"] == "shop" and env["PGDATABASE"] == "folio" and env["PGSSLMODE"] == "require"
    assert "--format=custom" in calls[0][0]
    assert {"--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname=folio"} <= set(calls[1][0])


def test_an_old_or_missing_pg_dump_is_a_clear_error(app, monkeypatch, tmp_path):
    url = make_url("postgresql+psycopg://shop@127.0.0.1/folio")
    monkeypatch.setattr(backup, "_tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(backup, "_major", lambda tool: 13)
    monkeypatch.setattr(backup, "_server_major", lambda: 16)
    with pytest.raises(backup.BackupError, match="pg_dump is version 13 but the server is PostgreSQL 16"):
        backup._dump_postgres(url, tmp_path / "d.dump")
    with pytest.raises(backup.BackupError, match="made by pg_dump 15; this pg_restore is version 13"):
        backup._restore_postgres(url, tmp_path / "d.dump", 15)
    monkeypatch.undo()  # the real _tool, with no pg_dump anywhere on PATH
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    with pytest.raises(backup.BackupError, match="pg_dump was not found on PATH"):
        backup._tool("pg_dump")


def test_the_installed_pg_dump_version_is_read():
    """On PostgreSQL the backups need pg_dump: its absence there is a failure, not a skip."""
    if not backup.shutil.which("pg_dump"):
        assert not using_postgres(), "the suite runs on PostgreSQL but pg_dump is missing"
        pytest.skip("no pg_dump on this machine (SQLite suite: backups use SQLite's own API)")
    assert backup._major(backup.shutil.which("pg_dump")) >= 10
