"""Commands about you: signing in and out, your account, your addresses and your holds."""
from __future__ import annotations

import argparse
import contextlib
import getpass
from typing import Any

from .client import CliError, path, token_entry
from .context import Context
from .output import get, items_of, money, when, words

CLIENT_NAME = "folio-cli"


def login(ctx: Context, args: argparse.Namespace) -> int:
    """POST /auth/token; asks for the authenticator code when the server answers totp_required."""
    name = args.login or ctx.ask("Username or email: ", "username")
    if args.password_stdin:
        password = ctx.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass("Password: ", stream=ctx.out.stderr)
        except EOFError:
            password = ""
    if not name or not password:
        raise CliError("Give a username (or email) and a password.", code="usage", exit_code=2)
    body: dict[str, Any] = {"login": name, "password": password, "client_name": CLIENT_NAME}
    if args.totp:
        body["totp"] = args.totp
    try:
        tokens = ctx.client.public("POST", path("auth", "token"), json=body)
    except CliError as exc:
        if exc.code != "totp_required" or args.totp:
            raise
        body["totp"] = ctx.ask("Authenticator code: ", "authenticator code")
        tokens = ctx.client.public("POST", path("auth", "token"), json=body)
    previous = ctx.client.credentials.load()
    ctx.client.credentials.save({**token_entry(tokens), "login": name})
    if previous is not None:  # a sign-in this one replaces: end it on the server, best effort
        with contextlib.suppress(CliError):
            ctx.client.public("POST", path("auth", "logout"), token=previous.get("access_token"))
    if ctx.out.json_mode:  # the tokens stay in the credentials file
        ctx.out.raw({key: tokens.get(key) for key in ("token_type", "expires_in", "session_id")})
        return 0
    seconds = tokens.get("expires_in")
    lasts = f"; access token valid {seconds // 60} min, renewed automatically" if isinstance(seconds, int) else ""
    ctx.out.line(f"Signed in to {ctx.client.base_url} as {name} (session {tokens.get('session_id', '-')}{lasts}).")
    return 0


def logout(ctx: Context, args: argparse.Namespace) -> int:
    """POST /auth/logout, then forget the tokens (forgotten even when the server cannot be told)."""
    if ctx.client.credentials.load() is None:
        ctx.note(f"Not signed in to {ctx.client.base_url}.")
        return 0
    try:
        ctx.client.call("POST", path("auth", "logout"))
    except CliError as exc:
        if exc.status != 401:  # 401: that sign-in had already ended
            ctx.client.credentials.clear()
            raise CliError(f"Signed out here, but the server could not be told: {exc.message}",
                           code=exc.code, fields=exc.fields, status=exc.status) from None
    ctx.client.credentials.clear()
    ctx.note("Signed out.")
    return 0


def me(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.call("GET", path("me"))
    if ctx.out.json_mode:
        ctx.out.raw(body)
        return 0
    email = get(body, "email", default="-")
    if get(body, "email_verified") is False:
        email += " (not verified)"
    ctx.out.fields([
        ("Username", get(body, "username")),
        ("Full name", get(body, "full_name")),
        ("Email", email),
        ("Role", get(body, "role")),
        ("Two-factor", "on" if get(body, "two_factor") else "off"),
        ("Plan", get(body, "plan")),
        ("Wallet", money(get(body, "wallet"))),
        ("Member since", when(get(body, "created_at"))),
    ])
    return 0


def address_line(address: Any) -> str:
    parts = [get(address, k) for k in ("full_name", "line1", "line2", "city", "region", "postcode", "country")]
    return ", ".join(str(p) for p in parts if p) or "-"


def addresses(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.call("GET", path("me", "addresses"))
    if ctx.out.json_mode:
        ctx.out.raw(body)
        return 0
    rows = items_of(body)
    if not rows:
        ctx.out.line("No saved addresses (checkout and buy-now take a new one: see --help).")
        return 0
    ctx.out.table(["ID", "Address"], [[get(a, "id"), address_line(a)] for a in rows], right=[0])
    return 0


def _hold_rows(holds: list[Any]) -> list[list[Any]]:
    return [[get(h, "id"), get(h, "book_id"), get(h, "title"), words(get(h, "status")), get(h, "position"),
             when(get(h, "created_at")), when(get(h, "ready_until"))] for h in holds]


def holds(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.call("GET", path("holds"))
    if ctx.out.json_mode:
        ctx.out.raw(body)
        return 0
    rows = items_of(body)
    if not rows:
        ctx.out.line("No holds. Place one on an out-of-stock book with: folio-cli hold BOOK_ID")
        return 0
    ctx.out.table(["Hold", "Book", "Title", "Status", "Position", "Placed", "Ready until"], _hold_rows(rows),
                  right=[0, 1, 4])
    return 0


def hold(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.call("POST", path("holds"), json={"book_id": args.book_id})
    if ctx.out.json_mode:
        ctx.out.raw(body)
        return 0
    title = get(body, "title", default=f"book {args.book_id}")
    position = get(body, "position")
    place = f"; you are number {position} in the queue" if position is not None else ""
    ctx.out.line(f"Hold {get(body, 'id', default='-')} placed on {title}{place}.")
    return 0


def unhold(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.call("DELETE", path("holds", args.hold_id))
    if ctx.out.json_mode:
        ctx.out.raw(body)
        return 0
    ctx.out.line(f"Hold {args.hold_id} cancelled.")
    return 0
