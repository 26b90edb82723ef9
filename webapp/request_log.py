"""Logging: JSON lines in production, readable text in development, and a request id on every line.

Production writes one JSON object per line on stderr (time, level, logger, message, request_id, plus a request's
method, path, status, duration_ms and user_id), which journald, Docker or a log shipper take as they are; the text
form is for a developer's terminal. LOG_FORMAT ("json" / "text") chooses, LOG_LEVEL sets the level.

The request id comes from nginx's X-Request-ID when it looks like one (services.platform.request_ids), else is
made here; it is answered in the X-Request-ID response header, so a customer's report ("error ... id 3f2a...")
finds the server's lines, and it rides along into the jobs the request enqueued.
"""
from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

from .services.platform import request_ids

log = logging.getLogger(__name__)
_MARK = "folio_handler"


class TextFormatter(logging.Formatter):
    """The development format, with the request id at the end of the line when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802  (logging's name)
        # A request's path (and so a message) may hold a decoded %0a: escaped, so it cannot forge a second line.
        line = super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")
        request_id = getattr(record, "request_id", None)
        return f"{line} [{request_id}]" if request_id else line


def formatter(kind: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT `kind`: "json" (python-json-logger; fields given to `extra=` are added as
    they are) or "text"."""
    if kind == "json":
        return JsonFormatter("{message}{levelname}{name}{request_id}", style="{", timestamp="time",
                             rename_fields={"levelname": "level", "name": "logger"})
    if kind == "text":
        return TextFormatter()
    raise ValueError(f"LOG_FORMAT must be 'json' or 'text', not {kind!r}")


def configure(app: Flask) -> None:
    """Set up the root logger once per process: a stderr handler with the configured format. When something
    else configured logging first (pytest's capture, gunicorn's --log-config), its handlers are left alone, as
    logging.basicConfig would; the request id is on every record either way."""
    request_ids.install_record_factory()
    kind = app.config.get("LOG_FORMAT") or "text"
    chosen = formatter(kind)  # an unknown LOG_FORMAT stops the start, here
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _MARK, False)), None)
    if handler is None:
        if root.handlers:
            return
        handler = logging.StreamHandler()  # stderr
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    handler.setFormatter(chosen)
    root.setLevel(app.config.get("LOG_LEVEL") or "INFO")


def install(app: Flask) -> None:
    """The request id and the one log line per request. Call early in create_app: the id is bound before every
    other before_request hook runs (it is put first), and the line is written after every other after_request
    hook (Flask runs those in reverse order of registration), so it logs the status that is sent. Error pages
    (404, 500) pass through the same after_request hooks."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)
    app.teardown_request(_end)


def _begin() -> None:
    g.request_id_token = request_ids.bind(request_ids.accept(request.headers.get(request_ids.HEADER)))
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    request_id = request_ids.current()
    if request_id is None:  # _begin did not run (a hook before it answered): still one id per request
        request_id = request_ids.new()
        g.request_id_token = request_ids.bind(request_id)
    response.headers[request_ids.HEADER] = request_id
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    path = _logged_path()
    log.info("%s %s %s %s ms", request.method, path, response.status_code, duration_ms,
             extra={"method": request.method, "path": path, "status": response.status_code,
                    "duration_ms": duration_ms, "user_id": _user_id()})
    return response


def _logged_path() -> str:
    """The path without the query string, and with a secret that a route takes in the path (a password reset
    link's token) replaced: logs are read by more people, and kept longer, than the secret may be."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if "token" in name and isinstance(value, str) and value:
            path = path.replace(value, "[redacted]")
    return path


def _user_id() -> int | None:
    """The signed-in user's row id (never get_id(), which holds the session's login token), when this request
    has already loaded the user (Flask-Login keeps it in g._login_user), else None. Loading it here would read
    the session on public, cacheable pages (Flask then adds `Vary: Cookie`, which defeats shared caches) and cost
    a query on pages built to need none. Never raises: the line about a failed request must still be written."""
    user = g.get("_login_user")
    try:
        return int(user.id) if user is not None and user.is_authenticated else None
    except Exception:  # logging must not turn an answer into an error (an expired row, a dead connection)
        return None


def _end(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        try:
            request_ids.unbind(token)
        except ValueError:  # bound in another context (cannot happen with sync workers): just clear it
            request_ids.bind(None)
