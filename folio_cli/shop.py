"""Commands about shopping: the catalog (no sign-in needed), the cart, buy now, checkout and orders."""
from __future__ import annotations

import argparse
import secrets
from typing import Any

from .account import address_line
from .client import CliError, path
from .context import Context
from .output import clip, get, items_of, money, text, when, words

ADDRESS_FIELDS = ("full_name", "line1", "line2", "city", "region", "postcode", "country")
STOCK_WORDS = {"in_stock": "in stock", "low": "only {n} left", "out_of_stock": "out of stock"}


def _json(ctx: Context, body: Any) -> bool:
    if ctx.out.json_mode:
        ctx.out.raw(body)
    return ctx.out.json_mode


def stock(book: Any) -> str:
    state = get(book, "stock", "state")
    available = get(book, "stock", "available")
    shown = STOCK_WORDS.get(str(state), words(state))
    return shown.format(n=available if available is not None else "a few")


def authors(book: Any) -> str:
    names = [get(a, "name") for a in (get(book, "authors") or []) if get(a, "name")]
    return ", ".join(str(n) for n in names) or "-"


# ---- the catalog ----

def search(ctx: Context, args: argparse.Namespace) -> int:
    query = " ".join(args.query).strip() or None
    params = {"q": query, "genre": args.genre, "sort": args.sort, "limit": args.limit, "cursor": args.cursor}
    body = ctx.client.public("GET", path("books"), params=params)
    if _json(ctx, body):
        return 0
    books = items_of(body)
    corrected, suggestion = get(body, "corrected_from"), get(body, "suggestion")
    if corrected and suggestion:
        ctx.out.line(f"Nothing matched \"{corrected}\": showing results for \"{suggestion}\".")
        ctx.out.line()
    if not books:
        ctx.out.line("No books match." if query or args.genre else "No books.")
        if suggestion and not corrected:
            ctx.out.line(f"Did you mean \"{suggestion}\"?")
        return 0
    ctx.out.table(["ID", "Title", "Authors", "Price", "Stock"],
                  [[get(b, "id"), clip(text(get(b, "title")), 48), clip(authors(b), 32), money(get(b, "price")),
                    stock(b)] for b in books], right=[0, 3])
    total = get(body, "total")
    ctx.out.line()
    more = "more than " if get(body, "total_capped") else ""
    ctx.out.line(f"{len(books)} shown" + (f" of {more}{total} found." if isinstance(total, int) else "."))
    if suggestion and not corrected:
        ctx.out.line(f"Did you mean \"{suggestion}\"?")
    following = get(body, "page", "next_cursor")
    if following:
        ctx.out.line(f"Next page: add --cursor {following}")
    return 0


def book(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.public("GET", path("books", args.book_id))
    if _json(ctx, body):
        return 0
    genres = [get(g, "name") or get(g, "slug") for g in (get(body, "genres") or [])]
    rent = get(body, "rent_per_week")
    ctx.out.line(text(get(body, "title")))
    ctx.out.line(f"by {authors(body)}")
    ctx.out.line()
    ctx.out.fields([
        ("Book ID", get(body, "id")),
        ("Price", money(get(body, "price"))),
        ("Rent", f"{money(rent)} a week" if rent else "not for rent"),
        ("Stock", stock(body)),
        ("ISBN-13", get(body, "isbn13")),
        ("Language", get(body, "language")),
        ("Published", get(body, "published_on")),
        ("Genres", [g for g in genres if g]),
    ] + ([("Pages", get(body, "pages"))] if get(body, "pages") else []))
    if get(body, "description"):
        ctx.out.line()
        ctx.out.paragraph(get(body, "description"))
    return 0


# ---- the cart ----

def _line_mode(line: Any) -> str:
    if get(line, "mode") == "rent":
        days = get(line, "days")
        return f"rent {days} days" if days else "rent"
    return text(get(line, "mode"))


def _tax(body: Any) -> list[tuple[str, str]]:
    """A "Tax" line where the shop charges tax (none shown when it is zero or not sent)."""
    return [("Tax", money(get(body, "tax")))] if get(body, "tax", "cents") else []


def show_cart(ctx: Context, cart: Any) -> None:
    lines = get(cart, "lines") or []
    if not lines:
        ctx.out.line("Your cart is empty.")
    else:
        ctx.out.table(["Book", "Title", "Mode", "Qty", "Each", "Total"],
                      [[get(x, "book_id"), clip(text(get(x, "title")), 48), _line_mode(x), get(x, "quantity"),
                        money(get(x, "unit_price")), money(get(x, "total"))] for x in lines], right=[0, 3, 4, 5])
        ctx.out.line()
        code = get(cart, "code")
        ctx.out.fields([("Subtotal", money(get(cart, "subtotal"))),
                        (f"Discount ({code})" if code else "Discount", money(get(cart, "discount"))),
                        ("Shipping", money(get(cart, "shipping"))), *_tax(cart), ("Total", money(get(cart, "total")))])
    for problem in get(cart, "problems") or []:
        ctx.out.line(f"! {problem}")


def cart_show(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.call("GET", path("cart"))
    if not _json(ctx, body):
        show_cart(ctx, body)
    return 0


def cart_add(ctx: Context, args: argparse.Namespace) -> int:
    if args.days and not args.rent:
        raise CliError("--days is for rentals: add --rent.", code="usage", exit_code=2)
    item: dict[str, Any] = {"book_id": args.book_id, "mode": "rent" if args.rent else "buy"}
    if args.qty:
        item["quantity"] = args.qty
    if args.days:
        item["days"] = args.days
    body = ctx.client.call("POST", path("cart", "items"), json=item)
    if not _json(ctx, body):
        ctx.out.line(f"Added book {args.book_id} ({'to rent' if args.rent else 'to buy'}).")
        ctx.out.line()
        show_cart(ctx, body)
    return 0


def cart_remove(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.call("DELETE", path("cart", "items", args.book_id, "rent" if args.rent else "buy"))
    if not _json(ctx, body):
        ctx.out.line(f"Removed book {args.book_id} from the cart.")
        ctx.out.line()
        show_cart(ctx, body)
    return 0


def cart_code(ctx: Context, args: argparse.Namespace) -> int:
    if args.remove == bool(args.code):
        raise CliError("Give a discount CODE, or --remove.", code="usage", exit_code=2)
    if args.remove:
        body = ctx.client.call("DELETE", path("cart", "code"))
    else:
        body = ctx.client.call("PUT", path("cart", "code"), json={"code": args.code})
    if not _json(ctx, body):
        show_cart(ctx, body)
    return 0


# ---- ordering ----

def _shipping(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """address_id, or a new address from the options, or the one saved address when there is exactly one."""
    given = {name: getattr(args, name) for name in ADDRESS_FIELDS if getattr(args, name) is not None}
    if args.address_id is not None:
        if given:
            raise CliError("Give --address-id or a new address, not both.", code="usage", exit_code=2)
        return {"address_id": args.address_id}
    if given:
        return {"address": given}
    saved = items_of(ctx.client.call("GET", path("me", "addresses")))
    if len(saved) == 1 and isinstance(get(saved[0], "id"), int):
        ctx.note(f"Shipping to your saved address: {address_line(saved[0])}")
        return {"address_id": saved[0]["id"]}
    if not saved:
        raise CliError("Where should it go? Give an address: --full-name --line1 --city --postcode --country "
                       "(and --line2, --region if needed).", code="usage", exit_code=2)
    raise CliError("You have several saved addresses: choose one with --address-id (see `folio-cli addresses`).",
                   code="usage", exit_code=2)


def _place(ctx: Context, api_path: str, body: dict[str, Any]) -> Any:
    """POST a checkout or a buy now with an Idempotency-Key; when the answer is lost (no reply in time, the
    connection dropped), ask once more with the same key: the server answers the order the first one made
    rather than making a second."""
    headers = {"Idempotency-Key": "folio-cli-" + secrets.token_urlsafe(24)}
    try:
        return ctx.client.call("POST", api_path, json=body, headers=headers)
    except CliError as exc:
        if exc.code not in ("timeout", "unreachable"):
            raise
        ctx.out.error(f"{exc.message} Asking again (the same request: no second order).")
        return ctx.client.call("POST", api_path, json=body, headers=headers)


def _started(ctx: Context, body: Any) -> int:
    """The answer of checkout and buy-now: {order, payment_url}."""
    if _json(ctx, body):
        return 0
    order = get(body, "order", default={})
    number = get(order, "number", default="-")
    ctx.out.line(f"Order {number}: {words(get(order, 'status'))}, total {money(get(order, 'total'))}.")
    url = get(body, "payment_url") if isinstance(body, dict) and "payment_url" in body else get(order, "payment_url")
    if url:
        ctx.out.line(f"Pay at: {ctx.client.absolute(str(url))}")
    else:
        ctx.out.line("Nothing to pay by card.")
    ctx.out.line(f"Follow it with: folio-cli order {number}")
    return 0


def buy_now(ctx: Context, args: argparse.Namespace) -> int:
    if args.days and not args.rent:
        raise CliError("--days is for rentals: add --rent.", code="usage", exit_code=2)
    body: dict[str, Any] = {"book_id": args.book_id, "mode": "rent" if args.rent else "buy"}
    if args.qty:
        body["quantity"] = args.qty
    if args.days:
        body["days"] = args.days
    if args.use_wallet:
        body["use_wallet"] = True
    body.update(_shipping(ctx, args))
    return _started(ctx, _place(ctx, path("buy-now"), body))


def checkout(ctx: Context, args: argparse.Namespace) -> int:
    body: dict[str, Any] = _shipping(ctx, args)
    if args.use_wallet:
        body["use_wallet"] = True
    return _started(ctx, _place(ctx, path("checkout"), body))


def orders(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.call("GET", path("orders"), params={"limit": args.limit, "cursor": args.cursor})
    if _json(ctx, body):
        return 0
    rows = items_of(body)
    if not rows:
        ctx.out.line("No orders yet.")
        return 0
    ctx.out.table(["Number", "Placed", "Status", "Total"],
                  [[get(o, "number"), when(get(o, "created_at")), words(get(o, "status")), money(get(o, "total"))]
                   for o in rows], right=[3])
    following = get(body, "page", "next_cursor")
    if following:
        ctx.out.line()
        ctx.out.line(f"Next page: add --cursor {following}")
    return 0


def show_order(ctx: Context, order: Any) -> None:
    number = get(order, "number", default="-")
    status = get(order, "status")
    ctx.out.fields([("Order", number), ("Status", words(status)), ("Placed", when(get(order, "created_at")))])
    lines = get(order, "lines") or []
    if lines:
        ctx.out.line()
        ctx.out.table(["Book", "Title", "Mode", "Qty", "Total"],
                      [[get(x, "book_id"), clip(text(get(x, "title")), 48), _line_mode(x), get(x, "quantity"),
                        money(get(x, "total") or get(x, "unit_price"))] for x in lines], right=[0, 3, 4])
    ctx.out.line()
    ctx.out.fields([("Subtotal", money(get(order, "subtotal"))), ("Discount", money(get(order, "discount"))),
                    ("Shipping", money(get(order, "shipping"))), *_tax(order), ("Total", money(get(order, "total"))),
                    ("Ship to", address_line(get(order, "shipping_address")))])
    timeline = get(order, "timeline") or []
    if timeline:
        ctx.out.line()
        ctx.out.table(["When", "Status", "Note"],
                      [[when(get(e, "at")), words(get(e, "status")), get(e, "note")] for e in timeline])
    if status == "pending_payment" and get(order, "payment_url"):
        ctx.out.line()
        ctx.out.line(f"Pay at: {ctx.client.absolute(str(get(order, 'payment_url')))}")
    if get(order, "can_cancel"):
        ctx.out.line()
        ctx.out.line(f"Cancel it with: folio-cli cancel {number}")


def order(ctx: Context, args: argparse.Namespace) -> int:
    body = ctx.client.call("GET", path("orders", args.number))
    if not _json(ctx, body):
        show_order(ctx, body)
    return 0


def cancel(ctx: Context, args: argparse.Namespace) -> int:
    refund = {"refund_to": "wallet"} if args.to_wallet else None  # the API's default: back to the card
    body = ctx.client.call("POST", path("orders", args.number, "cancel"), json=refund)
    if not _json(ctx, body):
        ctx.out.line(f"Order {get(body, 'number', default=args.number)} is now {words(get(body, 'status'))}.")
        ctx.out.line()
        show_order(ctx, body)
    return 0
