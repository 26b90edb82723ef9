"""Fingerprinted static files: URLs carry the content hash, and only a matching hash earns the year-long,
immutable Cache-Control (a stale or missing v gets a short one)."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import url_for

STATIC = Path(__file__).resolve().parents[2] / "webapp" / "static"


def _hash(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def test_pages_link_static_files_with_their_content_hash(client):
    html = client.get("/genres").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app\.css[^"]*)"', html).group(1)
    assert css == f"/static/css/app.css?v={_hash('css/app.css')}"
    for name in ("vendor/pico/pico.min.css", "favicon.svg"):
        assert f"/static/{name}?v={_hash(name)}" in html


def test_matching_version_is_cached_for_a_year_and_immutable(client):
    with client.get(f"/static/css/app.css?v={_hash('css/app.css')}") as response:
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.get_data() == (STATIC / "css" / "app.css").read_bytes()


def test_stale_or_missing_version_is_cached_briefly(client):
    for url in ("/static/css/app.css", "/static/css/app.css?v=0123456789ab"):
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "public, max-age=300", url


def test_unknown_files_get_no_version_and_stay_404(app, client):
    with app.test_request_context():
        assert url_for("static", filename="nope.css") == "/static/nope.css"
        assert url_for("static", filename="../config.py").startswith("/static/../config.py")
        assert "v=" not in url_for("static", filename="../config.py")
    assert client.get("/static/nope.css?v=x").status_code == 404


def test_a_changed_file_gets_a_new_url(app, tmp_path, monkeypatch):
    """The hash follows the content (a new process after a deploy sees the new file)."""
    from webapp import static_files

    app2_static = tmp_path / "static"
    app2_static.mkdir()
    (app2_static / "x.css").write_text("a{}")
    from flask import Flask

    first = Flask("one", static_folder=str(app2_static))
    static_files.install(first)
    with first.test_request_context():
        old = url_for("static", filename="x.css")
    (app2_static / "x.css").write_text("b{}")
    second = Flask("two", static_folder=str(app2_static))
    static_files.install(second)
    with second.test_request_context():
        new = url_for("static", filename="x.css")
    assert old != new and old.startswith("/static/x.css?v=") and new.startswith("/static/x.css?v=")
