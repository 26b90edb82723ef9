"""The built-in text of the shop's own pages (services.platform.site_pages), shown until staff save their own.

Written as Markdown with {placeholders} filled from the configuration when a page is shown (`facts`), so the
figures a customer reads (shipping, rental postage, late fees, the return address) are the ones checkout and
the rental rules use, and change with the settings instead of drifting from them.
"""
from __future__ import annotations

from flask import current_app

from .money import money

# slug -> (title, Markdown). The order is the footer's and the admin list's.
DEFAULTS: dict[str, tuple[str, str]] = {
    "about": ("About us", """\
{shop_name} is an independent bookshop. We sell new books and we rent them out too, so you can read more and
spend less: keep the ones you love, send back the ones you were only curious about.

## What we do

- **Buy** any book in the catalogue and we post it to you, or collect it from the shop.
- **Rent** a book by the day, up to the length your plan allows; we post it and you post it back.
- **Hold** a book that is out of stock: we set a copy aside for you when one comes back.

## Where to find us

{shop_address}

Questions, ideas or a book you can't find? [Write to us]({contact_path}).
"""),
    "contact": ("Contact us", """\
We read every message and usually answer within one working day.

For a question about an order, please give the order number (it starts with "FO-" and is on your receipt).

**The shop:** {shop_address}
"""),
    "shipping-returns": ("Shipping & returns", """\
## Shipping

- Orders are posted for a flat **{shipping}**, and ship **free** when the books you buy come to
  **{free_over}** or more (after discounts).
- An order of rentals only costs **{rental_shipping}** to post to you.
- Collecting an order in store is always free: choose "Collect in store" at checkout and bring your order
  number.

We email you when your order ships.

## Returning a book you bought

Changed your mind? Send an unread book back within 30 days of delivery and we refund it in full; if it
arrived damaged or it is the wrong book, we pay the postage. [Tell us first]({contact_path}) so we can
look out for it.

## Returning a rental

A rental's loan starts when the book reaches you (delivered, or collected in store) and is due back on the
date shown in your account. Send it back to:

{return_address}

{return_instructions}

The "I've sent it back" button is on each rental in your account's rentals page.

Books take a few days in the post: once you tell us you have sent it, late fees stop. If it has not reached
us {transit_days} days later we will get in touch. A late rental costs **{late_fee} a day** (never more than
the book's price); a rental {lost_after} days overdue counts as lost and the book's price is charged, less the
fees already paid. If it turns up after all, we refund the difference.
"""),
    "privacy": ("Privacy", """\
We keep only what we need to run the shop, and we never sell it.

## What we keep and why

- **Your account:** your name, email address and password (stored as a one-way hash), so you can sign in.
- **Your orders, rentals and holds:** to send your books, take them back and answer questions about them.
- **Addresses** you save: to post your orders. Stored encrypted.
- **Payments** are handled by our payment provider: we never see or store your card number.
- **Messages** you send through the contact form: to answer them.

## Emails

We email you about your orders, rentals, holds and account. We don't send newsletters you didn't ask for.

## Cookies

One cookie keeps you signed in and your cart; it is needed for the shop to work. We use no advertising or
tracking cookies.

## Your choices

You can change your details or close your account from your account page at any time; closing it removes
your personal data, except what the law requires us to keep with past orders (for accounting).
[Contact us]({contact_path}) with any question about your data.
"""),
    "terms": ("Terms of sale", """\
These terms apply to orders placed with {shop_name} ({shop_address}).

1. **Prices** are shown in {currency} and include everything but shipping, which is shown before you pay.
2. **Your order** is confirmed when your payment is received; we email you a receipt.
3. **Cancelling:** you can cancel an order from your orders page until it ships, and we refund it in full.
4. **Rentals** stay ours: please look after them and send them back by the due date (see
   [Shipping & returns]({shipping_path}) for the fees). A lost or damaged book is charged at its price.
5. **Plans** renew every {plan_days} days until you cancel them; cancelling keeps the plan until the end of
   the period you paid for.
6. **Refunds** go back the way you paid: to your card, or to your wallet for what your wallet paid.

If something goes wrong, [tell us]({contact_path}): we will put it right.
"""),
    "faq": ("Frequently asked questions", """\
### How does renting work?

Choose "Rent" and the number of days on a book's page. We post it (an order of rentals costs
{rental_shipping} to post) and your loan starts when it arrives. Send it back by the due date: see
[Shipping & returns]({shipping_path}).

### How much is shipping?

{shipping} per order, free when the books you buy come to {free_over} or more. Collecting in store is free.

### Can I cancel an order?

Yes, from your orders page until it ships. We refund the full amount.

### A book is out of stock. Can I get it later?

Yes: place a hold on its page and we set a copy aside for you as soon as one comes back.

### What if I return a rental late?

It costs {late_fee} a day, never more than the book's price. Tell us as soon as you have posted it: the fees
stop that day.

### I have another question.

[Write to us]({contact_path}): we answer within one working day.
"""),
}


def _markdown_lines(text: str) -> str:
    """Multi-line text (an address) as Markdown lines that stay lines (a backslash before each break)."""
    return "\\\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


def facts() -> dict[str, str]:
    """The values the default texts name, from the configuration (pricing's shipping rule, the rental rules)."""
    config = current_app.config
    address = config["SHOP_ADDRESS"]
    place = " ".join(part for part in (address.get("postcode"), address.get("city")) if part)
    shop_address = ", ".join(str(part) for part in (address.get("full_name"), address.get("line1"),
                                                    address.get("line2"), place, address.get("country")) if part)
    return {
        "shop_name": config["SHOP_NAME"],
        "shop_address": shop_address,
        "currency": str(config.get("CURRENCY") or "usd").upper(),
        "shipping": money(config["SHIPPING_FLAT_CENTS"]),
        "free_over": money(config["FREE_SHIPPING_THRESHOLD_CENTS"]),
        "rental_shipping": money(config["RENTAL_SHIPPING_CENTS"]),
        "late_fee": money(config["LATE_FEE_PER_DAY_CENTS"]),
        "lost_after": str(config["RENTAL_LOST_AFTER_DAYS"]),
        "transit_days": str(config["RENTAL_RETURN_TRANSIT_DAYS"]),
        "return_address": _markdown_lines(config["RETURN_ADDRESS"]),
        "return_instructions": config["RETURN_INSTRUCTIONS"].strip(),
        "plan_days": str(config["SUBSCRIPTION_PERIOD_DAYS"]),
        "contact_path": "/contact",
        "shipping_path": "/shipping-returns",
    }
