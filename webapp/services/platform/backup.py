"""Backups of the database and the uploaded images, and restoring one (`flask --app wsgi backup` / `restore`).

A backup is ONE plain tar file, so that it is copied, rotated and restored as a unit (a database without its
covers, or covers without the rows naming them, is a broken shop):

    manifest.json        what is inside: format, dialect, when, the schema revision, the pg_dump version
    database.dump        PostgreSQL: `pg_dump --format=custom` (compressed by pg_dump), or
    database.sqlite3     SQLite: a copy made with SQLite's online backup API
    uploads/<kind>/...   every file under UPLOAD_DIR (JPEGs: already compressed, so the tar is not)

PostgreSQL is dumped and restored by its own tools, which know every object the migrations create (the pg_trgm
extension, indexes, sequences). Their connection comes from the SQLAlchemy URL through PG* environment
variables: the password never appears on a command line, where `ps` shows it to every user of the machine.
SQLite's backup API copies a consistent snapshot while the shop runs, both ways.

The file is written as "<name>.partial" and renamed when complete (so a crash never leaves something that looks
like a backup), with mode 0600: it holds password hashes and encrypted secrets.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import URL

from ...extensions import db
from ...models.types import utcnow
from . import cache

FORMAT = 1
PREFIX = "folio-backup-"
SUFFIX = ".tar"
_UPLOAD_MEMBER = re.compile(r"uploads/[A-Za-z0-9_-]+/[A-Za-z0-9._-]+")
# libpq settings a SQLAlchemy URL may carry as query parameters, and the environment variables libpq reads.
_PG_QUERY_ENV = {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
                 "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT",
                 "application_name": "PGAPPNAME", "options": "PGOPTIONS", "target_session_attrs": "PGTARGETSESSIONATTRS"}
_PG_CONNECTION_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGDATABASE",
                      "PGSERVICE", "PGSERVICEFILE", *_PG_QUERY_ENV.values())


class BackupError(Exception):
    """The backup or restore could not be done; the message says why, for the operator."""


@dataclass(frozen=True)
class Written:
    """A backup on disk."""

    path: Path
    size: int
    dialect: str
    database_bytes: int
    upload_files: int


@dataclass(frozen=True)
class Restored:
    """What a restore put back."""

    path: Path
    dialect: str
    created_at: str
    revision: str | None
    upload_files: int
    cache_cleared: bool  # False: Redis could not be reached, cached pages may show the replaced data


def default_path(directory: Path, now: datetime | None = None) -> Path:
    """BACKUP_DIR/folio-backup-<UTC time>.tar: names that sort by age (prune relies on it)."""
    return directory / f"{PREFIX}{(now or utcnow()).strftime('%Y%m%dT%H%M%SZ')}{SUFFIX}"


def backup(output: Path | None = None) -> Written:
    """Write a backup to `output`: a path ending in ".tar" is the file, anything else a directory (made if
    missing) to write folio-backup-<UTC time>.tar in; default BACKUP_DIR. Raises BackupError."""
    target = Path(output) if output is not None else Path(current_app.config["BACKUP_DIR"])
    if target.suffix != SUFFIX or target.is_dir():
        target = default_path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    url = db.engine.url
    partial = target.with_name(target.name + ".partial")
    with tempfile.TemporaryDirectory(prefix=".folio-backup-", dir=target.parent) as scratch:
        manifest: dict[str, Any] = {"format": FORMAT, "dialect": url.get_backend_name(),
                                    "created_at": utcnow().isoformat(), "revision": _revision()}
        if manifest["dialect"] == "postgresql":
            dump = Path(scratch) / "database.dump"
            manifest["pg_dump_major"] = _dump_postgres(url, dump)
        elif manifest["dialect"] == "sqlite":
            dump = Path(scratch) / "database.sqlite3"
            _copy_sqlite(_sqlite_path(url), dump)
        else:
            raise BackupError(f"backups know PostgreSQL and SQLite, not {manifest['dialect']}")
        uploads = _upload_files()
        manifest.update(database=dump.name, upload_files=len(uploads))
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as fh, tarfile.open(fileobj=fh, mode="w") as tar:
                _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
                tar.add(dump, arcname=dump.name)
                for path, name in uploads:
                    tar.add(path, arcname=name, recursive=False)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        database_bytes = dump.stat().st_size
    return Written(target, target.stat().st_size, manifest["dialect"], database_bytes, len(uploads))


def restore(archive: Path) -> Restored:
    """Replace the database and the uploaded images with those in `archive`. Everything is read and checked
    before anything is replaced; the database is restored in one transaction (PostgreSQL) or one backup-API copy
    (SQLite), then UPLOAD_DIR is swapped for the backup's in two renames. Stop the web and worker processes
    first: their open transactions would block (PostgreSQL) or race (SQLite) the restore. Raises BackupError."""
    archive = Path(archive)
    url = db.engine.url
    dialect = url.get_backend_name()
    root = Path(current_app.config["UPLOAD_DIR"])
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".folio-restore-", dir=root.parent) as scratch:
        manifest, dump, staged, count = _unpack(archive, Path(scratch))
        if manifest.get("format") != FORMAT or manifest.get("dialect") != dialect:
            raise BackupError(f"{archive} is a {manifest.get('dialect')} backup (format {manifest.get('format')}); "
                              f"this shop runs on {dialect}")
        db.session.remove()
        db.engine.dispose()  # no pooled connection of ours holds a lock or a stale page cache
        if dialect == "postgresql":
            _restore_postgres(url, dump, int(manifest.get("pg_dump_major") or 0))
        else:
            _restore_sqlite(dump, _sqlite_path(url))
        _swap_dir(staged, root)
    return Restored(archive, dialect, str(manifest.get("created_at")), manifest.get("revision"), count,
                    forget_cached_pages())


def forget_cached_pages() -> bool:
    """Make every cached catalog entry unreachable (a new cache epoch); True when Redis took it. Why after a
    restore: the cache's versions are bumped by session events, and a restore replaces the database under them,
    so pages cached since the backup (newer prices, stock, books since removed) would be served for up to their
    TTLs (an hour) on the restored shop."""
    before = cache.get(cache.EPOCH_KEY)
    cache.bump((), catalog=True, epoch=True)
    after = cache.get(cache.EPOCH_KEY)
    return after is not None and after != before


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups (by their names' time) in `directory`; returns what went."""
    found = sorted(p for p in Path(directory).glob(f"{PREFIX}*{SUFFIX}") if p.is_file())
    doomed = found[:-keep] if keep > 0 else found
    for path in doomed:
        path.unlink()
    return doomed


# ---- PostgreSQL ----

def _pg_env(url: URL) -> dict[str, str]:
    """This process's environment with the URL's connection settings as libpq variables (inherited PG*
    connection variables removed: the URL alone says where to connect)."""
    env = {k: v for k, v in os.environ.items() if k not in _PG_CONNECTION_ENV}
    for setting, name in ((url.host, "PGHOST"), (url.port, "PGPORT"), (url.username, "PGUSER"),
                          (url.password, "PGPASSWORD"), (url.database, "PGDATABASE")):
        if setting not in (None, ""):
            env[name] = str(setting)
    for key, value in url.query.items():
        if key in _PG_QUERY_ENV:
            env[_PG_QUERY_ENV[key]] = value if isinstance(value, str) else value[-1]
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} was not found on PATH: install the PostgreSQL client tools of the server's "
                          "version or newer (Debian: apt-get install postgresql-client-<major>)")
    return found


def _major(tool: str) -> int:
    """The major version of pg_dump / pg_restore ("pg_dump (PostgreSQL) 15.20 (Debian ...)" -> 15)."""
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"\)\s*(\d+)", out) or re.search(r"(\d+)\.\d+", out)
    if found is None:
        raise BackupError(f"could not read the version of {tool}: {out.strip()!r}")
    return int(found.group(1))


def _server_major() -> int:
    number: str = db.session.execute(text("SHOW server_version_num")).scalar_one()
    db.session.rollback()
    return int(number) // 10000


def _dump_postgres(url: URL, dump: Path) -> int:
    """pg_dump the database to `dump`; returns pg_dump's major version (for the restore's check)."""
    tool = _tool("pg_dump")
    major, server = _major(tool), _server_major()
    if major < server:
        raise BackupError(f"pg_dump is version {major} but the server is PostgreSQL {server}: pg_dump refuses to "
                          f"dump a newer server; install postgresql-client-{server}")
    _run([tool, "--format=custom", "--no-password", f"--file={dump}"], url)
    return major


def _restore_postgres(url: URL, dump: Path, dump_major: int) -> None:
    tool = _tool("pg_restore")
    major = _major(tool)
    if major < dump_major:
        raise BackupError(f"the backup was made by pg_dump {dump_major}; this pg_restore is version {major} and "
                          f"cannot read it: install postgresql-client-{dump_major} or newer")
    # --clean --if-exists: drop what the backup holds, then create it as it was; --single-transaction: all or
    # nothing; --no-owner: the objects belong to the user restoring, whoever owned them where it was made.
    _run([tool, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--no-password",
          f"--dbname={url.database}", str(dump)], url)


def _run(argv: list[str], url: URL) -> None:
    done = subprocess.run(argv, env=_pg_env(url), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(argv[0]).name} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


# ---- SQLite ----

def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file::memory:"):
        raise BackupError("an in-memory SQLite database has nothing to back up or restore into")
    return Path(url.database)


def _copy_sqlite(source: Path, destination: Path) -> None:
    """SQLite's online backup: a consistent copy even while other connections write."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)


def _restore_sqlite(dump: Path, database: Path) -> None:
    with closing(sqlite3.connect(dump)) as check:
        verdict = check.execute("PRAGMA quick_check").fetchone()
    if not verdict or verdict[0] != "ok":
        raise BackupError(f"the backup's SQLite database is damaged: {verdict}")
    database.parent.mkdir(parents=True, exist_ok=True)
    _copy_sqlite(dump, database)


# ---- the archive and the uploads ----

def _revision() -> str | None:
    """The Alembic revision the database is at (None before the first migration)."""
    try:
        value = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # no alembic_version table: a database never migrated
        value = None
    db.session.rollback()
    return str(value) if value is not None else None


def _upload_files() -> list[tuple[Path, str]]:
    root = Path(current_app.config["UPLOAD_DIR"])
    if not root.is_dir():
        return []
    return [(path, "uploads/" + path.relative_to(root).as_posix())
            for path in sorted(root.rglob("*")) if path.is_file() and not path.is_symlink()]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(utcnow().timestamp())
    tar.addfile(info, io.BytesIO(data))


def _unpack(archive: Path, scratch: Path) -> tuple[dict[str, Any], Path, Path, int]:
    """Read the archive into `scratch`: (manifest, the database file, the staged uploads folder, upload count).
    Only regular files with expected names are taken (a tar can name ../../etc/passwd or hold links)."""
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    staged = scratch / "uploads"
    staged.mkdir()
    manifest: dict[str, Any] | None = None
    dump: Path | None = None
    count = 0
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                name = PurePosixPath(member.name).as_posix()
                source = tar.extractfile(member) if member.isfile() else None
                if source is None:
                    continue
                if name == "manifest.json":
                    manifest = json.loads(source.read().decode())
                elif name in ("database.dump", "database.sqlite3"):
                    dump = scratch / name
                    with open(dump, "wb") as fh:
                        shutil.copyfileobj(source, fh)
                elif _UPLOAD_MEMBER.fullmatch(name):
                    path = scratch / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with open(path, "wb") as fh:
                        shutil.copyfileobj(source, fh)
                    count += 1
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise BackupError(f"{archive} cannot be read as a Folio backup: {exc}") from None
    if manifest is None or dump is None or manifest.get("database") != dump.name:
        raise BackupError(f"{archive} is not a Folio backup (no manifest.json or no database in it)")
    return manifest, dump, staged, count


def _swap_dir(staged: Path, root: Path) -> None:
    """Put `staged` where `root` is: two renames on one file system, then the old folder is deleted."""
    old = staged.with_name("uploads-replaced")
    if root.exists():
        os.replace(root, old)
    os.replace(staged, root)
    shutil.rmtree(old, ignore_errors=True)
