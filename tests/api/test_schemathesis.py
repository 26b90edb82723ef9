"""schemathesis against the API's own description: every operation of /api/openapi.json, whatever areas exist,
fuzzed in-process (WSGI) as a signed-in customer and as a signed-in admin, with valid and invalid data.

Every response must: not be a 5xx, have a documented status code, the documented content type, headers (Retry-After
on 429 ...) and a body that matches the documented schema. Examples are bounded per operation and derandomized
(the same cases on every run); FOLIO_API_FUZZ_EXAMPLES raises or lowers the bound (default 15).

Generated ids mostly name nothing (404, documented); the seeded objects (books, the customer's address and order,
the users) are also sent as path parameters, by the path segment before the parameter ("/books/{id}" -> a book),
so the routes get past their lookups too. Operations that end the caller's sign-in (logout, revoke ...) are fine:
the caller signs in again through the API before the next case."""
from __future__ import annotations

import os
import re
import time
from collections import Counter

import pyotp
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_TOTP, PASSWORD

# What it checks is the protocol (documented statuses, content types, headers, body schemas), the same on either
# database; PostgreSQL is the stricter one for hostile values (NUL bytes, integer overflow). CI runs it once, on
# the PostgreSQL leg; hostile input on SQLite stays covered by tests/web/test_fuzz.py and test_api_hostile.py.
pytestmark = pytest.mark.backend_neutral

EXAMPLES = int(os.environ.get("FOLIO_API_FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
RAISED_LIMITS = {"API_RATE_LIMIT_PER_ADDRESS": "100000 per minute", "API_RATE_LIMIT_PER_TOKEN": "100000 per minute",
                 "API_SIGN_IN_LIMIT": "100000 per minute"}


def fresh_context(app):
    """The app as a WSGI callable whose every request has its own app context (as in production, and as the
    suite's test client does): the test holds one open, which Flask would otherwise share with the requests."""
    def wsgi(environ, start_response):
        environ.setdefault("REMOTE_ADDR", "127.0.0.1")  # werkzeug's Client sends none: the limits key on it
        with app.app_context():
            return app(environ, start_response)
    return wsgi


class Caller:
    """A signed-in API caller (tokens from POST /api/v1/auth/token) who signs in again when a case ended the
    sign-in (logout, logout-everywhere, ending its session, staff revoking its tokens...)."""

    def __init__(self, app, username: str, totp_secret: str | None = None):
        self.client = app.test_client()
        self.username, self.totp_secret = username, totp_secret
        self.token = ""
        self.sign_ins = 0
        self.sign_in()

    def sign_in(self) -> None:
        from webapp.extensions import db, limiter
        from webapp.models import User

        user = db.session.scalar(db.select(User).filter_by(username=self.username))
        user.is_active_account = True  # a case may have deactivated or demoted the caller (admin PATCH /admin/users/{id})
        user.role = "admin" if self.totp_secret else "customer"
        user.totp_last_step = None  # the same 30 s code may sign in again
        db.session.commit()
        db.session.remove()
        limiter.reset()  # the sign-in's own per-account limit (10 per 15 minutes) is not the point here
        body = {"login": self.username, "password": PASSWORD, "client_name": "schemathesis"}
        if self.totp_secret:
            body["totp"] = pyotp.TOTP(self.totp_secret).now()
        r = self.client.post("/api/v1/auth/token", json=body)
        assert r.status_code == 200, r.get_data(as_text=True)
        self.token = r.get_json()["access_token"]
        self.sign_ins += 1

    def still_signed_in(self) -> bool:
        from webapp.extensions import db
        from webapp.services.people import api_tokens

        try:
            api_tokens.authenticate(self.token)
            return True
        except api_tokens.TokenError:
            return False
        finally:
            db.session.remove()  # no read transaction left open (SQLite would lock the next request out)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def fuzz_app(app):
    saved = {key: app.config[key] for key in RAISED_LIMITS}
    app.config.update(RAISED_LIMITS)
    yield app
    app.config.update(saved)


@pytest.fixture
def seeded(fuzz_app, auth, make_book):
    """Real objects for the operations to meet: books, authors and a genre; a customer with an address, a pending
    order and a hold (on a book with no copies); another reader's paid order with a rental; an admin."""
    from tests import checkout_helpers
    from webapp.extensions import db
    from webapp.models import Author, Genre, Rental
    from webapp.services.circulation import holds
    from webapp.services.people import accounts

    books = [make_book(f"Fuzz Book {n}", authors=(f"Fuzz Author {n}",), on_hand=n * 2) for n in range(3)]
    customer = auth.user("reader1")
    auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
    address = accounts.save_address(customer, {"full_name": "Ann Reader", "line1": "1 Main Street",
                                               "city": "Springfield", "postcode": "12345", "country": "US"})
    db.session.commit()
    pending = checkout_helpers.start(customer, [(books[1], 1, "buy", None)])
    other = auth.user("reader2")  # the free plan holds one book at once: the rental is another reader's
    paid = checkout_helpers.start(other, [(books[2], 1, "rent", 3)])
    checkout_helpers.settle(paid)
    hold = holds.place(customer, books[0])
    db.session.commit()
    known = {
        "books": books[1].id, "authors": db.session.scalar(db.select(Author.id).limit(1)),
        "genres": db.session.scalar(db.select(Genre.slug).limit(1)), "orders": pending.number,
        "addresses": address.id, "users": customer.id, "items": books[1].id, "holds": hold.id,
        "rentals": db.session.scalar(db.select(Rental.id).filter_by(user_id=other.id)),
    }
    assert all(value is not None for value in known.values()), known
    db.session.remove()
    return {"known": known, "fields": {"book_id": known["books"], "address_id": known["addresses"]}}


def _known_path_parameters(path: str, names: list[str], known: dict) -> dict | None:
    """Seeded values for an operation's path parameters, by the segment before each ("/orders/{number}" -> the
    order's number); "mode" is "buy". None when one of them has no seeded value."""
    values = {}
    for name in names:
        if name == "mode":
            values[name] = "buy"
            continue
        match = re.search(r"/([a-z_-]+)/\{" + re.escape(name) + r"\}", path)
        segment = match.group(1) if match else ""
        if segment not in known or known[segment] is None:
            return None
        values[name] = known[segment]
    return values


def _with_known_fields(fields: dict):
    """A valid case whose body names the seeded objects where it has a field of that name (book_id...)."""
    def patch(case):
        if isinstance(case.body, dict):
            case.body = {key: fields.get(key, value) if isinstance(value, int) else value
                         for key, value in case.body.items()}
        return case
    return patch


def _strategy(operation, seeds: dict):
    known = seeds["known"]
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    names = [p.name for p in operation.path_parameters]
    fixed = _known_path_parameters(operation.path, names, known) if names else None
    if fixed:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
    if list(operation.body):
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, **({"path_parameters": fixed} if fixed else {}))
                          .map(_with_known_fields(seeds["fields"])))
    if names or list(operation.query) or list(operation.body):
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(strategies)


def fuzz(app, caller: Caller, seeds: dict) -> tuple[int, Counter, list[str]]:
    """Every operation, EXAMPLES cases each; returns (operations, statuses per operation, failures)."""
    wsgi = fresh_context(app)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi)
    failures: list[str] = []
    operations = 0
    statuses: Counter = Counter()

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                  report_multiple_bugs=False)
        @given(case=_strategy(operation, seeds))
        def run(case):
            response = case.call(headers=caller.headers)
            statuses[(case.operation.label, response.status_code)] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=caller.headers)
            finally:
                if not caller.still_signed_in():
                    caller.sign_in()

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # each operation that failed, all reported at the end
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    return operations, statuses, failures


def _assert_clean(app, caller, seeds, role):
    started = time.monotonic()
    operations, statuses, failures = fuzz(app, caller, seeds)
    elapsed = time.monotonic() - started
    cases = sum(statuses.values())
    by_status = Counter()
    for (_, status), count in statuses.items():
        by_status[status] += count
    succeeded = {label for (label, status) in statuses if status < 300}
    never = sorted({label for label, _ in statuses} - succeeded)
    print(f"\nschemathesis as {role}: {operations} operations, {cases} cases, {caller.sign_ins} sign-ins, "
          f"{elapsed:.1f} s; statuses {dict(sorted(by_status.items()))}; never 2xx: {', '.join(never) or 'none'}")
    assert operations >= 6  # at least the auth routes: the document was read and walked
    assert cases >= operations
    assert by_status[500] == 0
    assert not failures, f"{len(failures)} operation(s) failed as {role}:\n\n" + "\n\n".join(failures)


def test_every_operation_as_a_customer(fuzz_app, seeded):
    _assert_clean(fuzz_app, Caller(fuzz_app, "reader1"), seeded, "customer")


def test_every_operation_as_an_admin(fuzz_app, seeded):
    _assert_clean(fuzz_app, Caller(fuzz_app, "boss", ADMIN_TOTP), seeded, "admin")
