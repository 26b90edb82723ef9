"""folio-cli's plumbing against a stub API: signing in (with TOTP), the credentials file, refreshing an expired
access token once, and how failures are reported (the API's message and fields on stderr, exit 1; a usage
error exits 2; never a traceback)."""
from __future__ import annotations

import ast
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from folio_cli.client import Client
from folio_cli.credentials import Credentials

from .conftest import error, signed_in

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"access_token": "acc-1", "refresh_token": "ref-1", "token_type": "Bearer", "expires_in": 900,
          "session_id": 7}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- signing in and out ----

def test_login_reads_the_password_from_stdin_and_saves_the_tokens_privately(fake_api, run_cli, config_file):
    fake_api.on("POST", "/api/v1/auth/token", (200, TOKENS))
    result = run_cli("login", "ann", "--password-stdin", stdin="s3cret pass\n")
    assert result.code == 0, result.err
    assert f"Signed in to {fake_api.url} as ann (session 7; access token valid 15 min" in result.out
    assert [s.body for s in fake_api.calls("POST", "/api/v1/auth/token")] == [
        {"login": "ann", "password": "s3cret pass", "client_name": "folio-cli"}]
    saved = json.loads(config_file.read_text())
    assert saved == {"servers": {fake_api.url: {"access_token": "acc-1", "refresh_token": "ref-1",
                                                "session_id": 7, "login": "ann"}}}
    assert _mode(config_file) == 0o600
    assert _mode(config_file.parent) == 0o700


def test_login_prompts_for_the_authenticator_code_when_the_api_asks_for_it(fake_api, run_cli, config_file):
    def token(seen):
        if "totp" not in seen.body:
            return 401, error("totp_required", "This account has two-factor sign-in.",
                              {"totp": ["Enter the code from your authenticator app."]})
        return (200, TOKENS) if seen.body["totp"] == "123456" else (401, error("invalid_totp", "That code is not right."))

    fake_api.on("POST", "/api/v1/auth/token", token)
    result = run_cli("login", "boss", "--password-stdin", stdin="pw\n123456\n")
    assert result.code == 0, result.err
    assert "Authenticator code: " in result.err
    assert [s.body.get("totp") for s in fake_api.calls("POST", "/api/v1/auth/token")] == [None, "123456"]
    assert Credentials(fake_api.url, config_file).load()["access_token"] == "acc-1"

    fake_api.seen.clear()
    result = run_cli("login", "boss", "--password-stdin", "--totp", "999999", stdin="pw\n")
    assert result.code == 1
    assert result.err.startswith("Error: That code is not right.")
    assert len(fake_api.calls("POST", "/api/v1/auth/token")) == 1  # --totp given: no prompt, no second try


def test_login_without_a_code_on_a_closed_stdin_is_a_usage_error(fake_api, run_cli, config_file):
    fake_api.on("POST", "/api/v1/auth/token", (401, error("totp_required", "Two-factor sign-in.")))
    result = run_cli("login", "boss", "--password-stdin", stdin="pw\n")
    assert result.code == 2
    assert "No authenticator code given" in result.err
    assert not config_file.exists()


def test_a_wrong_password_prints_the_api_message_and_saves_nothing(fake_api, run_cli, config_file):
    fake_api.on("POST", "/api/v1/auth/token", (401, error("invalid_credentials", "That username/email and "
                                                                                  "password do not match.")))
    result = run_cli("login", "ann", "--password-stdin", stdin="nope\n")
    assert (result.code, result.out) == (1, "")
    assert result.err == "Error: That username/email and password do not match.\n"
    assert not config_file.exists()


def test_login_prompts_with_getpass_when_no_stdin_flag(fake_api, run_cli, monkeypatch):
    asked = []
    monkeypatch.setattr("getpass.getpass", lambda prompt, stream=None: asked.append(prompt) or "typed")
    fake_api.on("POST", "/api/v1/auth/token", (200, TOKENS))
    assert run_cli("login", "ann").code == 0
    assert asked == ["Password: "]
    assert fake_api.calls("POST", "/api/v1/auth/token")[0].body["password"] == "typed"


def test_login_json_prints_no_token(fake_api, run_cli):
    fake_api.on("POST", "/api/v1/auth/token", (200, TOKENS))
    result = run_cli("--json", "login", "ann", "--password-stdin", stdin="pw\n")
    assert result.json() == {"token_type": "Bearer", "expires_in": 900, "session_id": 7}
    assert "acc-1" not in result.out and "ref-1" not in result.out


def test_signing_in_again_ends_the_previous_sign_in(fake_api, run_cli, credentials, config_file):
    credentials("acc-old", "ref-old")
    fake_api.on("POST", "/api/v1/auth/token", (200, TOKENS))
    fake_api.on("POST", "/api/v1/auth/logout", (204, None))
    assert run_cli("login", "ann", "--password-stdin", stdin="pw\n").code == 0
    assert [s.token for s in fake_api.calls("POST", "/api/v1/auth/logout")] == ["acc-old"]
    assert Credentials(fake_api.url, config_file).load()["access_token"] == "acc-1"


def test_logout_ends_the_sign_in_and_forgets_the_tokens(fake_api, run_cli, credentials, config_file):
    credentials()
    fake_api.on("POST", "/api/v1/auth/logout", signed_in(fake_api, (204, None)))
    result = run_cli("logout")
    assert (result.code, result.out) == (0, "Signed out.\n")
    assert [s.token for s in fake_api.calls("POST", "/api/v1/auth/logout")] == ["acc-1"]
    assert json.loads(config_file.read_text()) == {"servers": {}}
    assert run_cli("logout").out == f"Not signed in to {fake_api.url}.\n"


def test_credentials_are_kept_per_server(tmp_path):
    path = tmp_path / "c.json"
    one, two = Credentials("http://a.test", path), Credentials("http://b.test", path)
    one.save({"access_token": "a"})
    two.save({"access_token": "b"})
    assert (one.load(), two.load()) == ({"access_token": "a"}, {"access_token": "b"})
    assert one.clear() and one.load() is None and two.load() == {"access_token": "b"}
    path.write_text("{not json")
    assert two.load() is None  # a damaged file reads as signed out, not a crash


# ---- refreshing ----

def test_an_expired_access_token_is_refreshed_once_saved_and_the_request_retried(fake_api, run_cli, credentials,
                                                                                 config_file):
    credentials("acc-old", "ref-1")
    fake_api.on("GET", "/api/v1/me", signed_in(fake_api, (200, {"username": "ann"})))

    def refresh(seen):
        assert seen.body == {"refresh_token": "ref-1"}
        fake_api.tokens.add("acc-2")
        return 200, {**TOKENS, "access_token": "acc-2", "refresh_token": "ref-2", "session_id": 7}

    fake_api.on("POST", "/api/v1/auth/refresh", refresh)
    result = run_cli("--json", "me")
    assert result.code == 0, result.err
    assert result.json() == {"username": "ann"}
    assert [(s.path, s.token) for s in fake_api.seen] == [
        ("/api/v1/me", "acc-old"), ("/api/v1/auth/refresh", None), ("/api/v1/me", "acc-2")]
    saved = Credentials(fake_api.url, config_file).load()
    assert (saved["access_token"], saved["refresh_token"], saved["login"]) == ("acc-2", "ref-2", "ann")
    assert _mode(config_file) == 0o600


def test_a_refresh_that_still_expires_is_not_retried_again(fake_api, run_cli, credentials):
    credentials("acc-old", "ref-1")
    fake_api.on("GET", "/api/v1/orders", signed_in(fake_api, (200, {"items": []})))
    fake_api.on("POST", "/api/v1/auth/refresh", (200, {**TOKENS, "access_token": "acc-stale"}))
    result = run_cli("orders")
    assert result.code == 1
    assert "Error: The access token has expired" in result.err
    assert len(fake_api.calls("POST", "/api/v1/auth/refresh")) == 1
    assert len(fake_api.calls("GET", "/api/v1/orders")) == 2


def test_a_refused_refresh_forgets_the_tokens(fake_api, run_cli, credentials, config_file):
    credentials("acc-old", "ref-1")
    fake_api.on("GET", "/api/v1/cart", signed_in(fake_api, (200, {"lines": []})))
    fake_api.on("POST", "/api/v1/auth/refresh", (401, error("token_reused", "That refresh token was already used, "
                                                                            "so every token it belongs to has been revoked.")))
    result = run_cli("cart")
    assert result.code == 1
    assert result.err.splitlines() == ["Error: That refresh token was already used, so every token it belongs to "
                                       "has been revoked.", "Run `folio-cli login` to sign in again."]
    assert Credentials(fake_api.url, config_file).load() is None


def test_a_refresh_done_meanwhile_by_another_command_is_used_not_repeated(fake_api, credentials, config_file):
    creds = credentials("acc-2", "ref-2")  # what another folio-cli just saved
    with Client(fake_api.url, creds) as client:
        entry = client.refresh({"access_token": "acc-old", "refresh_token": "ref-1"})
    assert entry["access_token"] == "acc-2"
    assert fake_api.seen == []  # ref-1 is not presented again (that would end the sign-in)


def test_a_revoked_sign_in_forgets_the_tokens(fake_api, run_cli, credentials, config_file):
    credentials()
    fake_api.on("GET", "/api/v1/holds", (401, error("token_revoked", "This sign-in has ended. Please sign in again.")))
    result = run_cli("holds")
    assert result.code == 1
    assert "Error: This sign-in has ended." in result.err and "folio-cli login" in result.err
    assert Credentials(fake_api.url, config_file).load() is None


# ---- failures ----

def test_not_signed_in(fake_api, run_cli):
    result = run_cli("orders")
    assert result.code == 1
    assert result.err == f"Error: Not signed in to Folio at {fake_api.url}.\nRun `folio-cli login` first.\n"
    assert fake_api.seen == []


def test_validation_errors_print_every_field_message(fake_api, run_cli, credentials):
    credentials()
    fake_api.on("POST", "/api/v1/buy-now", signed_in(fake_api, (422, error(
        "validation_failed", "Some of the values sent are not valid.",
        {"address.city": ["Missing data for required field."], "": ["Check the address."]}))))
    result = run_cli("buy-now", "5", "--full-name", "Ann", "--line1", "1 Main St", "--postcode", "1", "--country", "US")
    assert result.code == 1
    assert result.err.splitlines() == ["Error: Some of the values sent are not valid.",
                                       "  address.city: Missing data for required field.", "  Check the address."]
    assert result.out == ""


def test_json_mode_prints_the_error_body_on_stderr(fake_api, run_cli, credentials):
    credentials()
    body = error("order_state", "An order that is shipped cannot be cancelled.")
    fake_api.on("POST", "/api/v1/orders/FO-AAAA-BBBB-CCCC/cancel", signed_in(fake_api, (409, body)))
    result = run_cli("cancel", "FO-AAAA-BBBB-CCCC", "--json")
    assert (result.code, result.out) == (1, "")
    assert json.loads(result.err) == body


def test_too_many_requests_says_when_to_retry(fake_api, run_cli):
    fake_api.on("GET", "/api/v1/books", (429, error("rate_limited", "Too many requests."), {"Retry-After": "12"}))
    result = run_cli("search", "x")
    assert (result.code, result.err) == (1, "Error: Too many requests. (retry after 12 s)\n")


def test_an_answer_that_is_not_the_api_is_reported_plainly(fake_api, run_cli):
    fake_api.on("GET", "/api/v1/books/3", (502, "<html>Bad gateway</html>"))
    result = run_cli("book", "3")
    assert result.code == 1
    assert result.err.startswith(f"Error: Folio at {fake_api.url} answered HTTP 502 (not JSON)")


def test_usage_errors_exit_2(fake_api, run_cli, credentials):
    credentials()
    assert run_cli("book", "abc").code == 2
    assert run_cli("cart", "add", "0").code == 2
    assert run_cli("cart", "add", "3", "--days", "7").code == 2  # days without --rent
    assert run_cli("buy-now", "3", "--address-id", "1", "--line1", "x").code == 2
    assert run_cli("cart", "code").code == 2
    assert run_cli("orders", url="ftp://x").code == 2
    assert run_cli("frobnicate").code == 2
    assert run_cli("orders", "--timeout", "0").code == 2
    assert fake_api.seen == []


def test_a_server_that_is_down_gives_one_line_and_no_traceback(config_file):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    done = subprocess.run([sys.executable, "-m", "folio_cli", "--url", url, "search", "dune"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == f"Error: Cannot reach Folio at {url} (ConnectionError).\n"
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "folio_cli", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    assert "usage: folio-cli" in done.stdout and "buy-now" in done.stdout


def test_folio_cli_imports_nothing_of_the_shop():
    """Only the HTTP API: no webapp, jobs or config import anywhere in the package."""
    found = []
    for source in (ROOT / "folio_cli").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [n for n in names if n.split(".")[0] in ("webapp", "jobs", "config", "flask", "sqlalchemy")]
    assert found == []


@pytest.mark.parametrize("argv", [["--json", "orders"], ["orders", "--json"]])
def test_global_options_go_before_or_after_the_command(fake_api, run_cli, credentials, argv):
    credentials()
    fake_api.on("GET", "/api/v1/orders", signed_in(fake_api, (200, {"items": [], "page": {"next_cursor": None}})))
    assert run_cli(*argv).json() == {"items": [], "page": {"next_cursor": None}}
