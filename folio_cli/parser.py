"""folio-cli's command line (argparse). Global options (--url, --json, --timeout) may come before or after the
command: `folio-cli --json orders` and `folio-cli orders --json` are the same."""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from . import account, shop
from .client import DEFAULT_URL

Handler = Callable[..., int]

DESCRIPTION = """\
A terminal client for Folio's JSON API: search the catalog, buy and rent books, follow and cancel orders,
manage holds. It talks to the server only over HTTP (/api/v1).

The server is --url, else $FOLIO_URL, else http://127.0.0.1:5000. Tokens are kept in
~/.config/folio-cli/credentials.json (mode 0600; $FOLIO_CLI_CONFIG to use another file).
Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 a usage error."""


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be 1 or more")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < number <= 3600:
        raise argparse.ArgumentTypeError(f"{value!r} must be more than 0 and at most 3600")
    return number


def _globals(suppress: bool) -> argparse.ArgumentParser:
    """The global options; in the commands' parsers their defaults are suppressed so that a value given before
    the command is not overwritten by the default after it."""
    p = argparse.ArgumentParser(add_help=False)

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    p.add_argument("--url", default=default(os.environ.get("FOLIO_URL") or DEFAULT_URL),
                   help=f"the Folio server (default: $FOLIO_URL or {DEFAULT_URL})")
    p.add_argument("--json", action="store_true", default=default(False),
                   help="print the API's JSON bodies as they come (for scripts)")
    p.add_argument("--timeout", type=_seconds, default=default(30.0), help="seconds to wait for an answer (30)")
    return p


def _address_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("shipping address", "a saved address by id (see `addresses`), or a new one; "
                                                     "with neither, your only saved address is used")
    group.add_argument("--address-id", type=_positive, metavar="ID")
    group.add_argument("--full-name", metavar="NAME")
    group.add_argument("--line1", metavar="TEXT")
    group.add_argument("--line2", metavar="TEXT")
    group.add_argument("--city", metavar="TEXT")
    group.add_argument("--region", metavar="TEXT")
    group.add_argument("--postcode", metavar="TEXT")
    group.add_argument("--country", metavar="CODE", help="two-letter country code, e.g. US")
    p.add_argument("--use-wallet", action="store_true", help="pay what your wallet covers from it")


def build() -> argparse.ArgumentParser:
    common = _globals(suppress=True)
    parser = argparse.ArgumentParser(prog="folio-cli", description=DESCRIPTION, parents=[_globals(False)],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Handler, help_text: str, aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_text, description=help_text, parents=[common],
                                aliases=list(aliases))
        p.set_defaults(handler=handler)
        return p

    p = command("login", account.login, "sign in (the password is asked for, or read from stdin)")
    p.add_argument("login", nargs="?", metavar="USERNAME_OR_EMAIL")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.add_argument("--totp", metavar="CODE", help="the authenticator code (asked for when the account needs one)")
    command("logout", account.logout, "sign out: this sign-in's tokens stop working at once")
    command("whoami", account.me, "your account details", aliases=("me",))
    command("addresses", account.addresses, "your saved shipping addresses")

    p = command("search", shop.search, "search the catalog")
    p.add_argument("query", nargs="*", metavar="QUERY", help="words to look for (none: every book)")
    p.add_argument("--genre", metavar="SLUG")
    p.add_argument("--sort", metavar="ORDER", help="relevance, newest, bestselling, title, price_asc or price_desc")
    p.add_argument("--limit", type=_positive, metavar="N")
    p.add_argument("--cursor", metavar="CURSOR", help="the next page's cursor, as a previous search printed it")
    p = command("book", shop.book, "one book's details")
    p.add_argument("book_id", type=_positive, metavar="ID")

    p = command("cart", shop.cart_show, "show your cart (or: cart add / cart remove / cart code)")
    actions = p.add_subparsers(dest="cart_action", metavar="ACTION")
    a = actions.add_parser("show", help="show the cart", parents=[common])
    a.set_defaults(handler=shop.cart_show)
    a = actions.add_parser("add", help="add a book to buy (or --rent)", parents=[common])
    a.set_defaults(handler=shop.cart_add)
    a.add_argument("book_id", type=_positive, metavar="ID")
    a.add_argument("--rent", action="store_true", help="rent it instead of buying it")
    a.add_argument("--days", type=_positive, metavar="N", help="rental days")
    a.add_argument("--qty", type=_positive, metavar="N", help="how many copies")
    a = actions.add_parser("remove", help="take a book out of the cart", parents=[common])
    a.set_defaults(handler=shop.cart_remove)
    a.add_argument("book_id", type=_positive, metavar="ID")
    a.add_argument("--rent", action="store_true", help="the rental line (default: the line to buy)")
    a = actions.add_parser("code", help="apply a discount code (or --remove it)", parents=[common])
    a.set_defaults(handler=shop.cart_code)
    a.add_argument("code", nargs="?", metavar="CODE")
    a.add_argument("--remove", action="store_true", help="take the code off")

    p = command("buy-now", shop.buy_now, "buy (or rent) one book straight away; prints the payment URL")
    p.add_argument("book_id", type=_positive, metavar="ID")
    p.add_argument("--qty", type=_positive, metavar="N")
    p.add_argument("--rent", action="store_true", help="rent it instead of buying it")
    p.add_argument("--days", type=_positive, metavar="N", help="rental days")
    _address_options(p)
    p = command("checkout", shop.checkout, "order what is in the cart; prints the payment URL")
    _address_options(p)

    p = command("orders", shop.orders, "your orders, newest first")
    p.add_argument("--limit", type=_positive, metavar="N")
    p.add_argument("--cursor", metavar="CURSOR")
    p = command("order", shop.order, "one order: lines, totals, address, timeline")
    p.add_argument("number", metavar="NUMBER")
    p = command("cancel", shop.cancel, "cancel an order before it ships (stock goes back, payment refunded)")
    p.add_argument("number", metavar="NUMBER")
    p.add_argument("--to-wallet", action="store_true", help="refund a paid order to your wallet at once "
                                                            "(default: back to the card)")

    command("holds", account.holds, "your holds and your place in each queue")
    p = command("hold", account.hold, "place a hold on an out-of-stock book")
    p.add_argument("book_id", type=_positive, metavar="BOOK_ID")
    p = command("unhold", account.unhold, "cancel a hold")
    p.add_argument("hold_id", type=_positive, metavar="HOLD_ID")
    return parser
