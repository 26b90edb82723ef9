"""folio-cli's tests: a stub of the JSON API on a real socket (werkzeug in a thread) for the unit tests, and
`run_cli` to call folio-cli's `main` in-process with its own credentials file."""
from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclass
class Seen:
    method: str
    path: str
    args: dict[str, str]
    token: str | None
    body: Any
    raw_uri: str = ""
    idempotency_key: str | None = None


@dataclass
class FakeApi:
    """Routes answer canned replies or call a function of the request; everything else is a 404 in the API's
    error shape. `seen` lists every request, in order. `tokens` are the access tokens it accepts."""

    url: str = ""
    routes: dict[tuple[str, str], Callable[[Seen], Reply] | Reply] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    tokens: set[str] = field(default_factory=lambda: {"acc-1"})

    def on(self, method: str, path: str, reply: Callable[[Seen], Reply] | Reply) -> None:
        self.routes[(method, path)] = reply

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]

    def __call__(self, environ, start_response):
        request = Request(environ)
        auth = request.headers.get("Authorization", "")
        seen = Seen(request.method, request.path, dict(request.args), auth[7:] if auth.startswith("Bearer ") else None,
                    request.get_json(silent=True), environ.get("RAW_URI", ""), request.headers.get("Idempotency-Key"))
        self.seen.append(seen)
        reply = self.routes.get((request.method, request.path))
        if reply is None:
            reply = (404, error("not_found", "That was not found."))
        elif callable(reply):
            reply = reply(seen)
        status, body, *rest = reply
        headers = rest[0] if rest else {}
        if isinstance(body, str | bytes):
            response = Response(body, status=status, headers=headers, content_type="text/html")
        elif body is None:
            response = Response(status=status, headers=headers)
        else:
            response = Response(json.dumps(body), status=status, headers=headers, content_type="application/json")
        return response(environ, start_response)


def error(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def money(cents: int) -> dict[str, Any]:
    return {"cents": cents, "currency": "USD"}


def signed_in(api: FakeApi, handler: Callable[[Seen], Reply] | Reply) -> Callable[[Seen], Reply]:
    """A route that wants one of the fake's access tokens, as token_required does."""
    def route(seen: Seen) -> Reply:
        if seen.token is None:
            return 401, error("unauthorized", "Sign in first.")
        if seen.token not in api.tokens:
            return 401, error("token_expired", "The access token has expired; use the refresh token.")
        return handler(seen) if callable(handler) else handler
    return route


@pytest.fixture
def fake_api():
    api = FakeApi()
    server = make_server("127.0.0.1", 0, api, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="folio-cli-fake-api", daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = tmp_path / "folio-cli" / "credentials.json"
    monkeypatch.setenv("FOLIO_CLI_CONFIG", str(path))
    monkeypatch.delenv("FOLIO_URL", raising=False)
    return path


@pytest.fixture
def run_cli(fake_api, config_file):
    """run_cli("orders", "--json", stdin="...") -> Result; --url is the fake API unless given."""
    from folio_cli.__main__ import main

    def run(*argv: str, stdin: str = "", url: str | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        try:
            code = main(["--url", url or fake_api.url, *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        return Result(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def credentials(fake_api, config_file):
    """Save tokens for the fake API as `login` would: credentials("acc-1", "ref-1")."""
    from folio_cli.credentials import Credentials

    def save(access: str = "acc-1", refresh: str | None = "ref-1") -> Credentials:
        creds = Credentials(fake_api.url)
        creds.save({"access_token": access, "refresh_token": refresh, "session_id": 7, "login": "ann"})
        return creds

    return save
