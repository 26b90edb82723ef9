"""Fingerprinted static files: every `url_for("static", ...)` gets `?v=<hash of the file's content>`, so a
browser (and nginx, which serves /static/ itself in production) may keep a file for a year: a changed file has
a new URL. A request whose v matches the file's current hash gets the long, immutable Cache-Control; any other
(no v, an old v) a short one, so a stale URL never pins a stale file for long.

Hashes are computed once per file per process (a deploy restarts the processes); no template names a hash.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.security import safe_join

LONG = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"


def install(app: Flask) -> None:
    """Add the v parameter to static URLs and the matching Cache-Control to static answers."""
    hashes: dict[str, str | None] = {}

    def fingerprint(filename: str) -> str | None:
        """The first 12 hex digits of the file's SHA-256 (None: no such file), remembered per filename."""
        if filename not in hashes:
            path = safe_join(app.static_folder or "", filename)
            hashes[filename] = (hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
                                if path and Path(path).is_file() else None)
        return hashes[filename]

    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values and isinstance(values.get("filename"), str):
            version = fingerprint(values["filename"])
            if version:
                values["v"] = version

    def cache_static(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code in (200, 304):
            filename = (request.view_args or {}).get("filename")
            current = fingerprint(filename) if isinstance(filename, str) else None
            matches = current is not None and request.args.get("v") == current
            response.headers["Cache-Control"] = LONG if matches else SHORT
        return response

    app.url_defaults(add_version)
    app.after_request(cache_static)
