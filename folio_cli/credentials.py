"""Where folio-cli keeps its tokens: one JSON file, readable by its owner only (mode 0600, in a 0700 folder).

The file holds one entry per Folio address, so signing in to a second shop (or a test server) does not sign
you out of the first:

    {"servers": {"http://127.0.0.1:5000": {"login": "reader", "access_token": "...", "refresh_token": "...",
                                           "session_id": 12}}}

The path is FOLIO_CLI_CONFIG when set, else $XDG_CONFIG_HOME/folio-cli/credentials.json (~/.config/...).
Writes go to a private temporary file that replaces the old one, so a crash never leaves half a file."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: no advisory locks; refreshing still works, unguarded)
    fcntl = None  # type: ignore[assignment]


def default_path() -> Path:
    explicit = os.environ.get("FOLIO_CLI_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "folio-cli" / "credentials.json"


class Credentials:
    """The tokens for one Folio address, read from and written to the credentials file."""

    def __init__(self, base_url: str, path: Path | None = None):
        self.base_url = base_url
        self.path = path or default_path()

    def _read_all(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable or corrupt: as if signed out (the next login writes a good one)
        return data if isinstance(data, dict) else {}

    def load(self) -> dict[str, Any] | None:
        """This address's entry: login, access_token, refresh_token, session_id; None when signed out."""
        servers = self._read_all().get("servers")
        entry = servers.get(self.base_url) if isinstance(servers, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("access_token"), str):
            return None
        return entry

    def save(self, entry: dict[str, Any]) -> None:
        data = self._read_all()
        found = data.get("servers")
        servers: dict[str, Any] = found if isinstance(found, dict) else {}
        servers[self.base_url] = entry
        data["servers"] = servers
        self._write(data)

    def clear(self) -> bool:
        """Forget this address's tokens; True when there were some."""
        data = self._read_all()
        servers = data.get("servers")
        if not isinstance(servers, dict) or self.base_url not in servers:
            return False
        del servers[self.base_url]
        self._write(data)
        return True

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".credentials-", suffix=".tmp", dir=self.path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the credentials' lock: two folio-cli commands refreshing at once would present the same refresh
        token twice, and the server then ends the whole sign-in (refresh tokens are used once)."""
        if fcntl is None:  # pragma: no cover
            yield
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
