"""The scale-out topology under a sale: deploy/topology.sh starts nginx in front of two gunicorn instances,
the queue-split RQ workers and the scheduler on the test database; 200 buyers (each its own cookie jar and
its own client address, as real shoppers) race for 10 copies through nginx, paying on the offline gateway; one
gunicorn instance is killed with SIGKILL (master and workers) while checkouts are in flight.

Afterwards, once the workers have drained the queues: nginx kept serving, exactly 10 copies sold, the stock
ledger adds up to the stock row, every paid gateway session belongs to exactly one paid order (or was
refunded), no payment without an order, no order paid twice. A buyer whose request died with the killed
instance retries it once, as a shopper would.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter

import psutil
import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import func, select

from tests.conftest import PASSWORD, using_postgres
from tests.ops.servers import ROOT, folio_env, free_port

pytestmark = pytest.mark.topology
needs_stack = [
    pytest.mark.skipif(not using_postgres() or not os.environ.get("TEST_REDIS_URL"),
                       reason="the topology runs on PostgreSQL + Redis (TEST_DATABASE_URL, TEST_REDIS_URL); "
                              "deploy/topology.sh refuses SQLite"),
    pytest.mark.skipif(not os.path.exists(os.environ.get("NGINX", "/usr/sbin/nginx")),
                       reason="no nginx (apt-get install nginx)"),
]

BUYERS = 200
COPIES = 10
KILL_AFTER_CHECKOUTS = 25  # the instance dies once this many checkout forms were sent
RETRYABLE = {502, 503, 504}
ADDRESS = {"address_id": "new", "full_name": "Ann Reader", "line1": "1 Main St", "city": "Springfield",
           "postcode": "12345", "country": "us"}
CARD = {"card_number": "4242424242424242", "exp_month": "12", "exp_year": "2099", "cvc": "123", "name": "Ann Reader"}


class SourceAddress(HTTPAdapter):
    """Connections from one loopback address (127.0.1.x): each buyer is its own visitor to nginx, and so to
    the rate limits, which count per address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


class Buyer:
    """One shopper: a requests Session (its cookie jar), signs in, adds the book, checks out, pays."""

    def __init__(self, base: str, index: int, book_id: int, events: dict) -> None:
        self.base, self.index, self.book_id, self.events = base, index, book_id, events
        self.http = requests.Session()
        self.http.mount("http://", SourceAddress(f"127.0.1.{index + 1}"))
        self.retried = False
        self.log: list[str] = []

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        """One request; a 502/503/504 or a dropped connection (the killed instance) is retried once."""
        url = path if path.startswith("http") else self.base + path
        for attempt in (1, 2):
            try:
                response = self.http.request(method, url, allow_redirects=False, timeout=60, **kwargs)
                if response.status_code not in RETRYABLE:
                    self.log.append(f"{method} {path} {response.status_code}")
                    return response
                problem = f"HTTP {response.status_code}"
            except requests.ConnectionError as exc:
                problem = f"{type(exc).__name__}"
            self.log.append(f"{method} {path} died: {problem}")
            if attempt == 2 or self.retried:
                raise AssertionError(f"buyer {self.index}: {method} {path} failed twice: {self.log}")
            self.retried = True
        raise AssertionError("unreachable")

    def _csrf(self, path: str = "/cart") -> str:
        html = self._send("GET", path).text
        return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)

    def buy(self) -> str:
        """'paid', 'sold out' (with where it was seen), or raises."""
        token = self._csrf("/login")
        r = self._send("POST", "/login", data={"login": f"buyer{self.index}", "password": PASSWORD,
                                               "csrf_token": token})
        assert r.status_code == 303, (r.status_code, r.text[:300])
        token = self._csrf()
        r = self._send("POST", "/cart/add", data={"book_id": self.book_id, "mode": "buy", "quantity": 1,
                                                  "csrf_token": token})
        assert r.status_code == 303, (r.status_code, r.text[:300])
        page = self._send("GET", "/checkout")
        if page.status_code != 200:  # the cart page: sold out already
            return "sold out at checkout page"
        form_token = re.search(r'name="token"[^>]*value="([^"]*)"', page.text).group(1)
        csrf = re.search(r'"X-CSRFToken": "([^"]+)"', page.text).group(1)
        with self.events["lock"]:
            self.events["checkouts"] += 1
            if self.events["checkouts"] == KILL_AFTER_CHECKOUTS:
                self.events["kill"].set()
        r = self._send("POST", "/checkout", data={**ADDRESS, "token": form_token, "csrf_token": csrf})
        assert r.status_code in (302, 303), (r.status_code, r.text[:300])
        pay_url = r.headers["Location"]
        if "/pay/test/" not in pay_url:  # back to the cart, which says the book sold out meanwhile
            assert pay_url.endswith("/cart"), pay_url
            return "sold out at checkout"
        r = self._send("POST", pay_url, data={**CARD, "csrf_token": csrf})
        assert r.status_code == 303 and "/checkout/success/" in r.headers["Location"], (r.status_code, r.text[:300])
        success = self._send("GET", r.headers["Location"])
        assert success.status_code == 200, success.status_code
        return "paid"


def _topology(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "deploy" / "topology.sh"), *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its (re)parent to reap it."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for_queues(redis_connection, seconds: float = 30) -> None:
    """Until the RQ workers have taken and finished every job (mail, payments outbox)."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        busy = sum(Queue(name, connection=redis_connection).count
                   + len(StartedJobRegistry(name, connection=redis_connection)) for name in ("default", "email"))
        if busy == 0:
            return
        time.sleep(0.5)
    raise AssertionError("the workers did not drain the queues")


@needs_stack[0]
@needs_stack[1]
def test_two_hundred_buyers_ten_copies_one_instance_killed(app, db, make_book, tmp_path):
    from webapp.models import GatewaySession, Inventory, Order, OrderLine, StockMovement
    from webapp.models.orders import OrderStatus
    from webapp.services.people import accounts

    book = make_book("The Last Ten", on_hand=COPIES, price_cents=1500)
    for i in range(BUYERS):
        accounts.create_user(f"buyer{i}", f"buyer{i}@example.com", PASSWORD, verified=True, check_strength=False)
    db.session.commit()
    book_id = book.id

    port, app_ports = free_port(), [free_port(), free_port()]
    run = tmp_path / "topology"
    env = folio_env(app, app.config["REDIS_URL"], TOPOLOGY_PORT=str(port),
                    TOPOLOGY_APP_PORTS=" ".join(map(str, app_ports)), TOPOLOGY_DIR=str(run),
                    FOLIO_WEB_WORKERS="2", FOLIO_ACCESS_LOG="",
                    # cheap password hashes, as the accounts above were made with (no rehash at sign-in)
                    ARGON2_TIME_COST="1", ARGON2_MEMORY_COST="8192", ARGON2_PARALLELISM="1")
    env.pop("SECRET_KEY")  # topology.sh makes one and gives both instances the same
    started = _topology(env, "start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "web2: running" in _topology(env, "status").stdout
        base = f"http://127.0.0.1:{port}"
        web1 = int((run / "web1.pid").read_text())

        events = {"lock": threading.Lock(), "checkouts": 0, "kill": threading.Event()}
        outcomes: Counter = Counter()
        failures: list[str] = []
        retried: list[int] = []
        lock = threading.Lock()

        def shop(i: int) -> None:
            buyer = Buyer(base, i, book_id, events)
            try:
                outcome = buyer.buy()
            except Exception as exc:  # every failure is reported below
                outcome = "failed"
                with lock:
                    failures.append(f"buyer {i}: {type(exc).__name__}: {exc} {buyer.log[-6:]}")
            with lock:
                outcomes[outcome] += 1
                if buyer.retried:
                    retried.append(i)

        def killer() -> None:
            if events["kill"].wait(timeout=120):
                os.killpg(web1, signal.SIGKILL)  # the master and its workers, at once

        started_at = time.monotonic()
        kill_thread = threading.Thread(target=killer)
        kill_thread.start()
        threads = [threading.Thread(target=shop, args=(i,)) for i in range(BUYERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=150)
        events["kill"].set()
        kill_thread.join()
        elapsed = time.monotonic() - started_at

        assert not _running(web1), "the killed instance is still running"
        assert requests.get(base + "/healthz", timeout=5).status_code == 200  # nginx still serves
        _wait_for_queues(app.extensions["folio_redis"])
    finally:
        stopped = _topology(env, "stop")
    summary = f"{dict(outcomes)} in {elapsed:.1f} s; {len(retried)} buyers retried once; failures: {failures[:5]}"
    print(summary)
    assert stopped.returncode == 0, stopped.stderr
    assert not failures, summary
    assert outcomes["paid"] == COPIES, summary

    db.session.expire_all()
    sold = db.session.scalar(select(func.coalesce(func.sum(OrderLine.quantity), 0)).join(Order)
                             .where(OrderLine.book_id == book_id,
                                    Order.status.in_([OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED])))
    assert sold == COPIES, summary
    stock = db.session.get(Inventory, book_id)
    on_hand_moves, reserved_moves = db.session.execute(
        select(func.sum(StockMovement.on_hand_delta), func.sum(StockMovement.reserved_delta))
        .where(StockMovement.book_id == book_id)).one()
    assert (stock.on_hand, stock.reserved) == (on_hand_moves, reserved_moves), "the ledger disagrees with stock"
    assert stock.on_hand + sold == COPIES and stock.reserved == 0, (stock.on_hand, stock.reserved, sold)

    charged = list(db.session.scalars(select(GatewaySession).where(GatewaySession.payment_intent_id.is_not(None))))
    assert all(s.order_id is not None for s in charged), "a payment without an order"
    per_order = Counter(s.order_id for s in charged)
    for session in charged:
        order = db.session.get(Order, session.order_id)
        refunded = session.amount_refunded >= session.amount_total
        assert refunded or (order.status == OrderStatus.PAID and per_order[order.id] == 1), \
            (order.number, order.status, per_order[order.id], session.amount_refunded)
    paid_orders = db.session.scalars(select(Order).where(Order.status == OrderStatus.PAID)).all()
    assert len(paid_orders) == COPIES and all(per_order[o.id] == 1 for o in paid_orders), "an order paid twice"


@needs_stack[0]
@needs_stack[1]
def test_nginx_serves_static_files_compressed_with_long_cache_for_fingerprints(app, tmp_path):
    """Static files come from nginx itself (gzip on, a year for ?v= URLs) even with every app server down."""
    port, app_ports = free_port(), [free_port(), free_port()]
    env = folio_env(app, app.config["REDIS_URL"], TOPOLOGY_PORT=str(port), TOPOLOGY_DIR=str(tmp_path / "t"),
                    TOPOLOGY_APP_PORTS=" ".join(map(str, app_ports)), FOLIO_WEB_WORKERS="1")
    started = _topology(env, "start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        base = f"http://127.0.0.1:{port}"
        page = requests.get(base + "/genres", timeout=10)
        css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]+)"', page.text).group(1)
        for name in ("web1", "web2"):
            os.killpg(int((tmp_path / "t" / f"{name}.pid").read_text()), signal.SIGKILL)
        r = requests.get(base + css, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        bare = requests.get(base + "/static/css/app.css", timeout=10)
        assert bare.headers["Cache-Control"] == "public, max-age=300"
    finally:
        _topology(env, "stop")


@pytest.mark.skipif(shutil.which("curl") is None, reason="topology.sh uses curl")
def test_topology_refuses_sqlite(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "REDIS_URL": "redis://127.0.0.1:1/0",
           "TOPOLOGY_DIR": str(tmp_path)}
    result = _topology(env, "start")
    assert result.returncode == 2 and "must be PostgreSQL" in result.stderr
