"""The HTTP side of folio-cli: Folio's JSON API (/api/v1) over `requests`, and nothing else of Folio.

Every failure becomes a `CliError` carrying what to tell the user (never a traceback): an API error in
Folio's one shape ({"error": {"code", "message", "fields"}}), a server that cannot be reached, an answer that
is not the API's. A request refused because the access token expired is retried once after refreshing the
tokens with the refresh token (the new pair is saved at once: the old refresh token is used up)."""
from __future__ import annotations

import platform
from typing import Any
from urllib.parse import quote, urljoin

import requests

from . import __version__
from .credentials import Credentials

API = "/api/v1"
DEFAULT_URL = "http://127.0.0.1:5000"
SIGN_IN_AGAIN = "Run `folio-cli login` to sign in again."


class CliError(Exception):
    """What to print on stderr and the exit code; `body` is the API's error body (or one in its shape)."""

    def __init__(self, message: str, *, code: str = "error", fields: dict[str, list[str]] | None = None,
                 status: int | None = None, hint: str | None = None, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = fields or {}
        self.status = status
        self.hint = hint
        self.exit_code = exit_code

    @property
    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class NotSignedIn(CliError):
    def __init__(self, base_url: str):
        super().__init__(f"Not signed in to Folio at {base_url}.", code="not_signed_in",
                         hint="Run `folio-cli login` first.")


def path(*parts: object) -> str:
    """An API path from parts, each quoted (an order number or id from the command line stays one segment)."""
    return API + "".join("/" + quote(str(p), safe="") for p in parts)


def _fields(raw: object) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, list[str]] = {}
    for name, messages in raw.items():
        if isinstance(messages, list):
            out[str(name)] = [str(m) for m in messages]
        elif messages is not None:
            out[str(name)] = [str(messages)]
    return out


class Client:
    """One Folio server: `call` sends a request and returns the decoded JSON body (None for an empty one)."""

    def __init__(self, base_url: str, credentials: Credentials, *, timeout: float = 30.0,
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": f"folio-cli/{__version__} ({platform.system() or 'unknown system'})"})

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def absolute(self, url: str) -> str:
        """A URL the API gave (maybe relative to the server, as the payment page's) made absolute."""
        return urljoin(self.base_url + "/", url)

    # ---- sending ----

    def _send(self, method: str, api_path: str, *, json: Any = None, params: dict[str, Any] | None = None,
              token: str | None = None, headers: dict[str, str] | None = None) -> requests.Response:
        headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        query = {k: v for k, v in (params or {}).items() if v is not None} or None
        try:
            return self.session.request(method, self.base_url + api_path, json=json, params=query,
                                        headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            raise CliError(f"Folio at {self.base_url} did not answer within {self.timeout:g} s.",
                           code="timeout") from None
        except requests.RequestException as exc:
            raise CliError(f"Cannot reach Folio at {self.base_url} ({type(exc).__name__}).",
                           code="unreachable") from None

    def _decode(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            if response.ok:
                return None
            raise CliError(f"Folio at {self.base_url} answered HTTP {response.status_code} with no details.",
                           code="http_error", status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.ok and body is not None:
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            what = "not JSON" if body is None else "not an API answer"
            raise CliError(f"Folio at {self.base_url} answered HTTP {response.status_code} ({what}): is this "
                           f"the address of a Folio server with the API?", code="http_error",
                           status=response.status_code)
        code = str(error.get("code") or "error")
        message = str(error.get("message") or f"HTTP {response.status_code}")
        hint = None
        if response.status_code == 401 and code not in ("invalid_credentials", "totp_required", "invalid_totp"):
            hint = SIGN_IN_AGAIN
        if response.status_code == 429 and response.headers.get("Retry-After") and "second" not in message:
            message += f" (retry after {response.headers['Retry-After']} s)"
        raise CliError(message, code=code, fields=_fields(error.get("fields")), status=response.status_code,
                       hint=hint)

    def public(self, method: str, api_path: str, **kwargs: Any) -> Any:
        """A request without a token (catalog reads, signing in, refreshing)."""
        return self._decode(self._send(method, api_path, **kwargs))

    def call(self, method: str, api_path: str, **kwargs: Any) -> Any:
        """A request as the signed-in user; refreshes an expired access token once and tries again."""
        entry = self.credentials.load()
        if entry is None:
            raise NotSignedIn(self.base_url)
        response = self._send(method, api_path, token=entry["access_token"], **kwargs)
        if response.status_code == 401 and _error_code(response) == "token_expired":
            entry = self.refresh(entry)
            response = self._send(method, api_path, token=entry["access_token"], **kwargs)
        try:
            return self._decode(response)
        except CliError as exc:
            if exc.status == 401 and exc.code in ("token_revoked", "token_reused"):
                self.credentials.clear()  # the sign-in has ended on the server: forget its tokens here too
            raise

    def refresh(self, entry: dict[str, Any]) -> dict[str, Any]:
        """New tokens for the saved ones (under the credentials' lock: another folio-cli may have just done
        it, and a refresh token presented twice ends the sign-in); saved before they are used."""
        with self.credentials.locked():
            latest = self.credentials.load()
            if latest is not None and latest.get("refresh_token") != entry.get("refresh_token"):
                return latest  # refreshed by another command meanwhile
            refresh_token = entry.get("refresh_token")
            if not isinstance(refresh_token, str) or not refresh_token:
                self.credentials.clear()
                raise CliError("Your access token has expired and there is no refresh token.",
                               code="token_expired", status=401, hint=SIGN_IN_AGAIN)
            try:
                tokens = self.public("POST", path("auth", "refresh"), json={"refresh_token": refresh_token})
            except CliError as exc:
                if exc.status == 401:
                    self.credentials.clear()
                raise
            updated = {**entry, **token_entry(tokens)}
            self.credentials.save(updated)
            return updated


def token_entry(tokens: Any) -> dict[str, Any]:
    """What the credentials file keeps from a token answer (/auth/token or /auth/refresh)."""
    if not isinstance(tokens, dict) or not isinstance(tokens.get("access_token"), str):
        raise CliError("The sign-in answer carried no access token.", code="bad_answer")
    return {"access_token": tokens["access_token"], "refresh_token": tokens.get("refresh_token"),
            "session_id": tokens.get("session_id")}


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else None
