"""Hostile input never answers 5xx: every rule in the URL map, as anonymous, customer, author and admin, with
every allowed method (and a wrong one), its URL arguments and its form/query fields filled from a fixed table of
hostile values. POSTs carry a valid CSRF token so that the handlers really run.

Each rule gets its full walk from the role it is for (admin pages from the admin, /account from the customer...)
and a door check from the others: hostile URL arguments; every field hostile at once; one field hostile at a
time while the others hold plausible values (so the handler gets past its other checks and meets the hostile
one); every field sent twice with different types; a wrong method.

Deterministic (a fixed table, a seeded random for the few choices) and bounded: about 2,400 requests, some 20 s
on SQLite and on PostgreSQL. FOLIO_FUZZ=full walks the whole table everywhere (about 8,000 requests, two to three
minutes). It prints one line at the end: how many requests were sent and how many answered 5xx (must be
0); each 5xx is listed with its role, method, URL, payload and status.
"""
from __future__ import annotations

import inspect
import io
import os
import random
import re
import time
from urllib.parse import quote

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import func, select
from wtforms import Form
from wtforms.fields import BooleanField, DateField, DecimalField, IntegerField, RadioField, SelectField
from wtforms.fields.core import UnboundField

from tests import checkout_helpers as ch
from tests.conftest import ADMIN_TOTP
from webapp.extensions import db, limiter
from webapp.models import AuditLog, Author, Book, Genre, Order, User
from webapp.services.people import accounts

FULL = os.environ.get("FOLIO_FUZZ") == "full"
LONG = "x" * 10_000
SINK = "😀👍🏽 漢字 العربية \u202eevil\u202d {{7*7}} {% raw %} ' OR 1=1 -- <script>alert(1)</script> ../../etc/passwd"
# The table. The sets below are drawn from it by place and kind of field.
PAYLOADS = [
    "", " ", "   ", "\t\r\n", LONG, "é" * 3000, SINK,
    "Ünïcödé 漢字 العربية", "\u202eevil\u202dtxt", "😀👍🏽🇫🇷", "\u0000", "a\u0000b", "%00", "\ufeff\u200b",
    "-1", "0", "1.5", "1e309", "-1e309", "0x1F", "1_000", "٣", "²",
    str(2**31), str(2**63 - 1), str(2**63), str(2**64), str(-2**63 - 1), "9" * 40, "-" + "9" * 40,
    "NaN", "sNaN", "-sNaN", "Infinity", "-Infinity", "inf", "nan(123)",
    "{{7*7}}", "{% for x in range(9) %}x{% endfor %}", "' OR 1=1 --", "\"; DROP TABLE users; --",
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "//evil.example/x", "javascript:alert(1)",
    "<script>alert(1)</script>", "true", "null", "[]", "{}", "2024-02-30", "9999-12-31", "0000-00-00",
    "-2147483649", "a" * 255 + "@" + "b" * 255 + ".com", "@", "x@y", "\\", "%", "_", "*",
]
# Every field of an endpoint at once.
ALL_FIELDS_PAYLOADS = PAYLOADS if FULL else ["   ", LONG, SINK, "\u0000", str(2**31), str(2**64), "sNaN"]
# In a URL: ints at and past what a database integer holds, and what a path segment can carry.
URL_NUMBERS = ["0", str(2**63 - 1), str(2**63), "9" * 40]
URL_PAYLOADS = ["", " ", "   ", "\u0000", "a\u0000b", "%00", LONG, SINK, "-1", str(2**64), "NaN", "{{7*7}}",
                "' OR 1=1 --", "../../etc/passwd", "..", "\\"]
if not FULL:
    URL_NUMBERS, URL_PAYLOADS = URL_NUMBERS[1:3], ["   ", "\u0000", "%00", LONG, SINK, str(2**64), ".."]
# One field at a time, by kind of field: every number payload in every number field; the text payloads are
# shared out over the text fields (each gets TEXT_PER_FIELD of them, in turn), all of them with FOLIO_FUZZ=full.
NUMBER_PAYLOADS = ["", "-1", "0", str(2**31), str(2**63), str(2**64), "-" + "9" * 40, "1e309", "NaN", "sNaN",
                   "Infinity", "-Infinity", "1.5", "abc", "²"]
TEXT_PAYLOADS = ["", "   ", LONG, SINK, str(2**64), "sNaN", "-1", "\ufeff\u200b"]
TEXT_PER_FIELD = len(TEXT_PAYLOADS) if FULL else 2
WRONG_METHODS = ("PUT", "DELETE", "PATCH")
PLAUSIBLE_PASSWORD = "purple elephant quantum 93"  # strong, and nobody's password here

# Names a view reads straight from request.args / request.form (not through a form class).
LOOSE_NAMES = ("page", "view", "next", "token", "refund_to", "back", "task", "state", "buy_now", "login",
               "delivery_method")

PLAUSIBLE = {  # by field name: a value that passes that field's own checks
    "quantity": "1", "days": "7", "mode": "buy", "new_mode": "", "code": "123456", "amount": "10",
    "tier": "plus", "pay_with": "wallet", "email": "someone.new@example.com", "username": "new_reader",
    "password": PLAUSIBLE_PASSWORD, "confirm": PLAUSIBLE_PASSWORD, "current_password": PLAUSIBLE_PASSWORD,
    "login": "nobody", "country": "US", "postcode": "12345", "full_name": "Ann Reader", "line1": "1 Main St",
    "city": "Springfield", "phone": "555 1234", "price": "12.50", "stock": "3", "expected_stock": "3",
    "delta": "1", "reason": "restock", "kind": "percent", "value": "10", "role": "customer", "period": "12m",
    "date_from": "2024-01-01", "date_to": "2024-12-31", "page": "1", "q": "book", "isbn": "9780306406157",
    "title": "A Title", "name": "A Name", "language": "en", "sort": "", "genre": "", "card_number": "4242424242424242",
    "exp_month": "12", "exp_year": "2099", "cvc": "123", "goodreads_url": "", "bank_account": "", "note": "x",
    "token": "", "use_wallet": "", "authors": "Fuzz Author", "genres": "Fuzz Genre", "rental_week_price": "2.99",
    "cost_price": "", "low_stock_threshold": "", "pages": "200", "published_on": "2020-01-01", "publisher": "Pub",
    "subtitle": "", "description": "About it.", "user_login": "", "remove_photo": "", "remove_cover": "",
    "reference": "bank transfer 1", "tracking": "", "cancel_reason": "fuzz", "refund_reason": "fuzz",
    "min_subtotal": "", "starts_at": "", "ends_at": "", "max_uses": "", "max_uses_per_user": "", "limit": "25",
    "expected_on_hand": "", "delivery_method": "post",
}
# Buttons that end or remove what the other requests name: walked last.
DESTRUCTIVE = ("/delete", "/deactivate", "/archive", "/cancel", "/refund", "/role", "/return", "/resolve",
               "/force-password-reset", "sign-out", "/end", "/cart/remove")


# ---- discovering fields ---------------------------------------------------------------------------------------

def _form_fields(cls) -> dict[str, UnboundField]:
    fields = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, UnboundField):
                fields[name] = value
    return fields


def _source(view, depth: int = 3) -> str:
    """The view's source and that of the helpers of its own module it calls (a listing helper builds the form)."""
    try:
        source = inspect.getsource(view)
    except (OSError, TypeError):
        return ""
    if depth:
        for name in set(re.findall(r"\b(_?[a-z]\w*)\(", source)):
            helper = view.__globals__.get(name)
            if inspect.isfunction(helper) and helper is not view and helper.__module__ == view.__module__:
                source += _source(helper, depth - 1)
    return source


def _fields_for(view, method: str) -> dict[str, UnboundField | None]:
    """The fields a view reads for a method: the form classes its source names (Flask-WTF forms read the body of
    a POST, plain wtforms forms the query string of a GET), plus names it reads from the request itself."""
    view = inspect.unwrap(view)
    source = _source(view)
    found: dict[str, UnboundField | None] = {}
    for name in set(re.findall(r"\b([A-Z]\w*Form)\b", source)):
        cls = view.__globals__.get(name)
        if isinstance(cls, type) and issubclass(cls, Form) and issubclass(cls, FlaskForm) == (method != "GET"):
            found.update(_form_fields(cls))
    where = "args" if method == "GET" else "form"
    for name in LOOSE_NAMES:
        if re.search(rf"""request\.({where}|values)\.get\(\s*["']{name}["']""", source):
            found.setdefault(name, None)
    if method == "GET" and "request.args.get(kind" in source:  # admin.book_suggest reads the field its URL names
        found.update(authors=None, genres=None)
    found.pop("csrf_token", None)
    return found


def _plausible(name: str, unbound: UnboundField | None, ids: dict):
    if name in PLAUSIBLE:
        return PLAUSIBLE[name]
    if name in ids:
        return str(ids[name])
    cls = unbound.field_class if unbound is not None else None
    if cls is None:
        return "1"
    if issubclass(cls, FileField):
        return None  # no upload: the hostile turns send a bad one
    if issubclass(cls, BooleanField):
        return "y"
    if issubclass(cls, IntegerField | DecimalField):
        return "1"
    if issubclass(cls, DateField):
        return "2024-01-01"
    if issubclass(cls, SelectField | RadioField):
        choices = unbound.kwargs.get("choices") or []
        for choice in choices:
            value = choice[0] if isinstance(choice, tuple | list) else getattr(choice, "value", None)
            if value:
                return str(value)
        return ""
    return "text"


def _hostile(value: str, unbound: UnboundField | None):
    if unbound is not None and issubclass(unbound.field_class, FileField):
        return (io.BytesIO(value.encode("utf-8", "surrogatepass")), (value[:200] or "x") + ".png")
    return value


# ---- the world the requests run in ----------------------------------------------------------------------------

def _world(app, auth, make_book):
    book = make_book("Fuzz Book", authors=("Fuzz Author",), genres=("Fuzz Genre",), on_hand=50)
    make_book("Second Fuzz Book", authors=("Other Author",), genres=("Fuzz Genre",), on_hand=0)
    customer = auth.user("fuzz_customer")
    accounts.save_address(customer, {"full_name": "Ann Reader", "line1": "1 Main St", "city": "Springfield",
                                     "postcode": "12345", "country": "US"})
    author_user = auth.user("fuzz_author", role="author")
    author = db.session.scalar(select(Author).where(Author.name == "Fuzz Author"))
    author.user_id = author_user.id
    auth.user("fuzz_admin", role="admin", totp_secret=ADMIN_TOTP)
    victim = auth.user("fuzz_victim")
    db.session.commit()
    order = ch.start(customer, [(book, 1, "buy", 0)])
    genre = db.session.scalar(select(Genre).where(Genre.name == "Fuzz Genre"))
    ids = {
        "book_id": book.id, "author_id": author.id, "user_id": victim.id, "address_id": customer.addresses[0].id,
        "number": order.number, "session_id": order.payment_session_id, "slug": genre.slug, "field": "email",
        "kind": "authors", "name": "cover.png", "token": "not-a-token", "reference": "CH-1",
    }
    return ids


def _sign_in(app, auth, role):
    client = app.test_client()
    if role == "anonymous":
        return client
    username = {"customer": "fuzz_customer", "author": "fuzz_author", "admin": "fuzz_admin"}[role]
    user = db.session.scalar(select(User).where(User.username == username))
    user.totp_last_step = None  # signing in again within the same 30 s: let the current TOTP code in again
    db.session.commit()
    response = auth.login(username, client=client, totp_secret=ADMIN_TOTP if role == "admin" else None)
    assert response.status_code == 303, (role, response.status_code)
    return client


def _signed_in(client) -> bool:
    return client.get("/account").status_code == 200


# ---- the walk -------------------------------------------------------------------------------------------------

def _url(rule, values: dict) -> str:
    def fill(match):
        return quote(str(values[match.group(1)]), safe="")
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", fill, rule.rule)


def _owner(endpoint: str) -> str:
    """The role an endpoint is for: it gets the full walk; the other roles a door check."""
    area = endpoint.split(".")[0]
    if area in ("admin", "author"):
        return area
    if area in ("account", "orders", "checkout", "cart", "pay") or endpoint in ("auth.verify", "auth.resend_code"):
        return "customer"
    return "anonymous"


def _is_number_field(unbound) -> bool:
    return unbound is not None and issubclass(unbound.field_class, IntegerField | DecimalField)


class _Turns:
    """Hands out the text payloads in turn, so that across the fields every one of them is tried."""

    def __init__(self):
        self.next = 0

    def take(self, n: int) -> list[str]:
        picked = [TEXT_PAYLOADS[(self.next + i) % len(TEXT_PAYLOADS)] for i in range(n)]
        self.next += n
        return picked


def _requests(rule, role: str, view, ids: dict, rng: random.Random, turns: _Turns):
    """(method, url, field values, note) for one rule and one role."""
    good_url = _url(rule, {name: ids.get(name, "1") for name in rule.arguments})
    int_args = {name for name, conv in rule._converters.items() if type(conv).__name__.endswith("IntConverter")}
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    if role != _owner(rule.endpoint):  # the door: one request per method, hostile somewhere
        for method in methods if FULL else [rng.choice(methods)]:
            fields = _fields_for(view, method)
            payload = rng.choice(PAYLOADS)
            url = _url(rule, {name: payload for name in rule.arguments}) if rule.arguments else good_url
            yield method, url, {name: _hostile(payload, unbound) for name, unbound in fields.items()}, \
                f"door, everything={payload[:40]!r}"
        return
    for method in methods:
        fields = _fields_for(view, method)
        plausible = {name: _plausible(name, unbound, ids) for name, unbound in fields.items()}
        if rule.arguments:
            for payload in URL_NUMBERS if rule.arguments <= int_args else URL_PAYLOADS:
                yield method, _url(rule, {name: payload for name in rule.arguments}), plausible, \
                    f"url args={payload[:40]!r}"
        if not fields:
            yield method, good_url, {}, "no fields"
            continue
        for payload in ALL_FIELDS_PAYLOADS:
            yield method, good_url, {name: _hostile(payload, unbound) for name, unbound in fields.items()}, \
                f"all fields={payload[:40]!r}"
        for name, unbound in fields.items():
            payloads = NUMBER_PAYLOADS if _is_number_field(unbound) else turns.take(TEXT_PER_FIELD)
            for payload in payloads:
                yield method, good_url, plausible | {name: _hostile(payload, unbound)}, f"{name}={payload[:40]!r}"
        yield method, good_url, {name: ["1", "abc"] for name, unbound in fields.items()
                                 if unbound is None or not issubclass(unbound.field_class, FileField)}, \
            "every field twice, a number and a word"
    for method in methods:
        # names url_for keeps for itself (a page building its own links from request.args must not pass them on)
        yield method, good_url, {name: "x" for name in URL_FOR_NAMES | set(rule.arguments)}, "url_for's names"
        if method != "GET":
            yield method, good_url, {JSON_BODY: rng.choice(JSON_BODIES)}, "a JSON body"
    yield rng.choice(WRONG_METHODS), good_url, {}, "wrong method"


URL_FOR_NAMES = {"endpoint", "_external", "_method", "_anchor", "_scheme", "values"}
JSON_BODY = "__json__"
JSON_BODIES = ["1", '"x"', "[1, 2]", '{"a": 1e999}', '{"login": 5, "password": [1]}', '{"book_id": 1e999}', "{"]


# Put the world in the state a rule needs for its handler to run (not only its door).
SETUP = {
    "checkout.index": lambda client, ids, token: client.post(
        "/cart/add", data={"book_id": ids["book_id"], "mode": "buy", "quantity": 1, "csrf_token": token}),
}


def test_no_hostile_input_answers_5xx(app, auth, make_book, capsys):
    rng = random.Random(1212)
    turns = _Turns()
    started = time.perf_counter()
    ids = _world(app, auth, make_book)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    rules.sort(key=lambda r: (any(word in r.rule for word in DESTRUCTIVE), r.rule))
    sent = 0
    failures: list[str] = []

    for role in ("anonymous", "customer", "author", "admin"):
        client = _sign_in(app, auth, role)
        token = auth.csrf(client)
        for rule in rules:
            if rule.rule == "/logout" and role != "anonymous":
                continue  # would sign the fuzzing client out; the anonymous walk covers it
            limiter.reset()  # the limits would answer 429 before the handler runs
            if role == _owner(rule.endpoint) and rule.endpoint in SETUP:
                SETUP[rule.endpoint](client, ids, token)
            for method, url, values, note in _requests(rule, role, app.view_functions[rule.endpoint], ids, rng, turns):
                data = {k: ((io.BytesIO(v[0].getvalue()), v[1]) if isinstance(v, tuple) else v)
                        for k, v in values.items() if v is not None}
                headers = rng.choice([{}, {}, {"HX-Request": "true"}, {"Accept": "application/json"}])
                sent += 1
                try:
                    if JSON_BODY in values:
                        response = client.open(url, method=method, data=values[JSON_BODY],
                                               content_type="application/json", headers=headers | {"X-CSRFToken": token})
                    elif method == "GET":
                        response = client.get(url, query_string=data, headers=headers)
                    else:
                        files = any(isinstance(v, tuple) for v in data.values())
                        response = client.open(url, method=method, data=data | {"csrf_token": token}, headers=headers,
                                               content_type="multipart/form-data" if files else None)
                    response.get_data()  # a streamed body (CSV export) runs now
                    response.close()
                    status = response.status_code
                except Exception as exc:  # what no handler caught is a 500 all the same
                    status = f"raised {type(exc).__name__}: {str(exc)[:200]}"
                if not isinstance(status, int) or status >= 500:
                    failures.append(f"{role} {method} {url[:120]} [{note}] -> {status}")
            if role != "anonymous" and not _signed_in(client):
                client = _sign_in(app, auth, role)  # a button signed this client out: carry on signed in
                token = auth.csrf(client)

    # The webhook needs no special case: without a signature it answers 400.
    assert app.test_client().post("/webhooks/stripe", data=b"{}").status_code == 400
    # The plausible values got the handlers past their doors: checkouts started orders, admins created an author,
    # a book and a discount code.
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Order.id))) > 1
    assert db.session.scalar(select(func.count(Author.id)).where(Author.name == "A Name")) >= 1
    assert db.session.scalar(select(func.count(Book.id)).where(Book.title == "A Title")) == 1
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "discount.created")) >= 1

    with capsys.disabled():
        for failure in failures:
            print("5xx:", failure)
        print(f"\nfuzz{' (full)' if FULL else ''}: {sent} requests sent, {len(failures)} answered 5xx, "
              f"in {time.perf_counter() - started:.1f} s")
    assert not failures, f"{len(failures)} of {sent} requests answered 5xx (listed above)"
