"""Sign-in limits behind a proxy and with Redis down (issue 12, findings 4 and 5)."""
import os
import re
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.faults import ROOT, RedisServer, wait_for
from webapp.models import LoginEvent


@pytest.fixture
def behind_proxy(app, monkeypatch):
    """The app as deployed behind one proxy (TRUSTED_PROXIES=1): the same wrapping create_app does."""
    from webapp import _trust_proxies

    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)  # put back afterwards
    _trust_proxies(app, 1)
    return app


def _from(client, address: str):
    client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # nginx, on the same machine
    return client


def test_create_app_trusts_exactly_the_configured_proxies(app):
    from werkzeug.middleware.proxy_fix import ProxyFix

    from tests.faults import dispose, second_app

    proxied = second_app("redis://127.0.0.1:1/0", TRUSTED_PROXIES=2)
    try:
        assert isinstance(proxied.wsgi_app, ProxyFix) and proxied.wsgi_app.x_for == 2 and proxied.wsgi_app.x_host == 0
    finally:
        dispose(proxied)
    assert not isinstance(app.wsgi_app, ProxyFix)  # the default: no proxy, the header is not believed


def test_without_a_trusted_proxy_a_forwarded_address_is_not_believed(app, auth):
    auth.user("reader1")
    attacker = _from(app.test_client(), "203.0.113.7")
    auth.login("reader1", client=attacker)
    event = auth_event()
    assert event.ip == "127.0.0.1"  # the connection's own address, not the header


def auth_event():
    from webapp.extensions import db

    return db.session.scalars(select(LoginEvent).order_by(LoginEvent.id.desc())).first()


def test_behind_the_proxy_limits_and_records_use_the_visitors_address(behind_proxy, auth, db):
    auth.user("victim")
    attacker, owner = _from(behind_proxy.test_client(), "203.0.113.7"), _from(behind_proxy.test_client(),
                                                                               "198.51.100.20")
    for _ in range(5):
        assert auth.login("victim", "not the password!", client=attacker).status_code == 200
    assert auth.login("victim", PASSWORD, client=attacker).status_code == 429  # the attacker is held back ...
    assert auth.login("victim", client=owner).status_code == 303  # ... and cannot lock the owner out
    assert auth_event().ip == "198.51.100.20"
    assert {e.ip for e in db.session.scalars(select(LoginEvent).where(~LoginEvent.success))} == {"203.0.113.7"}


def test_username_and_email_are_one_bucket(behind_proxy, auth):
    auth.user("victim", email="victim@example.com")
    attacker = _from(behind_proxy.test_client(), "203.0.113.9")
    for login in ("victim", "VICTIM@example.com", "victim", "victim@example.com", "Victim"):
        assert auth.login(login, "not the password!", client=attacker).status_code == 200
    assert auth.login("victim@example.com", PASSWORD, client=attacker).status_code == 429


def test_a_forged_extra_hop_does_not_choose_the_address(behind_proxy, auth):
    """The client prepends its own X-Forwarded-For; nginx appends the real address: only that one counts."""
    auth.user("reader1")
    client = behind_proxy.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "10.9.9.9, 192.0.2.44"
    auth.login("reader1", client=client)
    assert auth_event().ip == "192.0.2.44"


SCRIPT = textwrap.dedent('''
    import os, re, sys
    sys.path.insert(0, os.environ["FOLIO_ROOT"])
    from config import TestingConfig
    from webapp import create_app

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = os.environ["DB_URL"]
        REDIS_URL = os.environ["REDIS_URL"]
        RATELIMIT_STORAGE_URI = os.environ["REDIS_URL"]  # the limits in Redis, as in production

    app = create_app(Config)

    def attempt(label, path, form):
        with app.test_client() as client:
            page = client.get(path).get_data(as_text=True)
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            response = client.post(path, data=dict(form, csrf_token=token))
            print(label, response.status_code, flush=True)

    for line in sys.stdin:
        label = line.strip()
        if label == "quit":
            break
        attempt(label + "-login", "/login", {"login": "reader1", "password": os.environ["PASSWORD"]})
        attempt(label + "-register", "/register", {"username": "new_" + label, "email": label + "@example.com",
                                                   "password": "a long unusual passphrase 9137",
                                                   "confirm": "a long unusual passphrase 9137"})
''')


def test_sign_in_and_registration_work_while_redis_is_down(app, auth, tmp_path):
    """A real Redis of its own holds the limits; it is stopped and started again under a running app."""
    auth.user("reader1")
    redis = RedisServer(tmp_path)
    redis.start()
    script = tmp_path / "limits_app.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, FOLIO_ROOT=str(ROOT), DB_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis.url,
               PASSWORD=PASSWORD, FOLIO_CONFIG="testing")
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    try:
        def ask(label):
            proc.stdin.write(label + "\n")
            proc.stdin.flush()
            return [proc.stdout.readline().split() for _ in range(2)]

        assert ask("up") == [["up-login", "303"], ["up-register", "303"]]
        redis.stop()
        assert ask("down") == [["down-login", "303"], ["down-register", "303"]]  # not 500
        redis.start()
        assert ask("back") == [["back-login", "303"], ["back-register", "303"]]
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        _, errors = proc.communicate(timeout=30)
        assert "Rate limit storage unreachable - falling back to in-memory storage" in errors  # logged
    finally:
        if proc.poll() is None:
            proc.kill()
        redis.stop()
    wait_for(lambda: proc.poll() is not None, 10, "the app process to end")
    assert re.search(r"falling back", errors)


def test_guesses_sent_all_at_once_are_held_to_the_limit(app, auth):
    """Failures are counted after the answer; every attempt also counts before it is tried, atomically, so a
    burst of simultaneous guesses cannot all pass the check (threads share the limiter's storage)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    auth.user("victim")
    clients = [app.test_client() for _ in range(20)]
    tokens = [auth.csrf(c) for c in clients]
    start = threading.Barrier(20)

    def guess(i):
        start.wait(timeout=30)
        return clients[i].post("/login", data={"login": "victim", "password": f"guess {i}",
                                               "csrf_token": tokens[i]}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(guess, range(20)))
    assert answers.count(200) <= 10 and answers.count(429) >= 10


def test_one_ipv6_network_is_one_visitor(behind_proxy, auth):
    """Addresses of one /64 (one host or home network) share the limits: a new address per guess gains nothing."""
    auth.user("victim")
    answers = []
    for i in range(6):
        client = _from(behind_proxy.test_client(), f"2001:db8:1:2::{i + 1}")
        answers.append(auth.login("victim", "not the password!", client=client).status_code)
    assert answers == [200] * 5 + [429]
    elsewhere = _from(behind_proxy.test_client(), "2001:db8:9:9::1")  # another network: its own bucket
    assert auth.login("victim", client=elsewhere).status_code == 303


def test_a_burst_against_many_accounts_from_one_address_is_held_back(app, auth):
    """The per-address failure limit counts after the answer; every attempt also counts first, atomically."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    clients = [app.test_client() for _ in range(70)]
    tokens = [auth.csrf(c) for c in clients]
    start = threading.Barrier(70)

    def guess(i):
        start.wait(timeout=30)  # all at once: none has been answered (and counted as a failure) yet
        return clients[i].post("/login", data={"login": f"someone{i}", "password": "guess",
                                               "csrf_token": tokens[i]}).status_code

    with ThreadPoolExecutor(max_workers=70) as pool:
        answers = list(pool.map(guess, range(70)))
    assert answers.count(200) <= 60 and answers.count(429) >= 10, answers


def test_too_many_attempts_shows_the_sign_in_form_there_and_the_error_page_elsewhere(app, client, auth):
    """The auth blueprint answers 429 on its sign-in forms itself (the form again, saying when to retry); any
    other limited page gets the site's error page with the same words, and an API client JSON."""
    auth.user("victim")
    for _ in range(5):
        auth.login("victim", "not the password!")
    page = auth.login("victim")
    body = page.get_data(as_text=True)
    assert page.status_code == 429 and 'name="password"' in body and re.search(r"try again in \d+ minutes?", body)
    for _ in range(5):
        auth.post("/password/forgot", {"email": "someone@example.com"})
    page = auth.post("/password/forgot", {"email": "someone@example.com"})
    body = page.get_data(as_text=True)
    assert page.status_code == 429 and 'name="email"' not in body and re.search(r"try again in \d+ minutes?", body)
    answer = auth.post("/password/forgot", {"email": "someone@example.com"}, headers={"Accept": "application/json"})
    assert answer.status_code == 429 and answer.get_json()["error"]["code"] == "too_many_requests"
