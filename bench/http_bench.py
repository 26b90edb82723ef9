"""HTTP benchmark: Folio's pages through a real gunicorn, measured by wrk, against a bare Flask view.

    .venv/bin/python bench/http_bench.py                      # or: make bench-http
    .venv/bin/python bench/http_bench.py --only detail,search_common --workers 3 --duration 5
    .venv/bin/python bench/http_bench.py --read-only          # no checkout_start (it writes a bench account)
    .venv/bin/python bench/http_bench.py --topology           # through deploy/topology.sh's nginx

Loads the 1,000,000-book PostgreSQL database the way bench/catalog_bench.py does, or reuses it when it already
holds the books; starts gunicorn with the production config and gunicorn.conf.py (the bare view too, same
settings, same run); runs `wrk -t2 -c8` per case after a warm-up; prints ONE JSON document on stdout (progress
goes to stderr). Exit status 1 when a target (TARGETS below) is missed. Every figure is relative to this machine
at this moment: read the ratio to the bare view first.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import catalog_bench  # noqa: E402  (book_count, recreate_database, load, pick_inputs)
import http_servers as srv  # noqa: E402
from common import ROOT, make_config  # noqa: E402

LUA = Path(__file__).with_name("http_bench.lua")
RESULTS = Path(__file__).with_name("results")
PAGES = ("home", "listing", "genre", "detail")
SEARCHES = ("search_common", "search_rare", "search_misspelt", "search_htmx")
CASES = ("bare",) + PAGES + ("deep_listing",) + SEARCHES + ("add_to_cart", "checkout_start")
TARGETS = {"page_rps": 1000.0, "search_rps": 400.0, "search_p95_ms": 50.0, "deep_vs_page1": 2.0, "rss_mb": 250.0}
DEEP_PAGE = 400
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--books", type=int, default=int(os.environ.get("BENCH_BOOKS", 1_000_000)))
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", catalog_bench.DEFAULT_URL))
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8090)),
                   help="Folio's gunicorn listens here, the bare view on the next port")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: the issue's figures)")
    p.add_argument("--threads", type=int, default=1, help=">1: gthread (gunicorn.conf.py refuses it before 3.12)")
    p.add_argument("--gunicorn", default=str(Path(sys.executable).with_name("gunicorn")),
                   help="the gunicorn script (its Python runs the servers)")
    p.add_argument("--no-conf", action="store_true", help="ignore gunicorn.conf.py: plain -k sync -w N flags")
    p.add_argument("--duration", type=float, default=6.0, help="seconds of wrk per case")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk per case first, not counted")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--only", help="comma-separated cases (bare always runs): " + ",".join(CASES[1:]))
    p.add_argument("--read-only", action="store_true",
                   help="skip checkout_start, which creates a signed-in bench account in the database")
    p.add_argument("--topology", action="store_true",
                   help="measure Folio through deploy/topology.sh (started and stopped here) at --url")
    p.add_argument("--url", default=os.environ.get("BENCH_TOPOLOGY_URL", "http://127.0.0.1:8080"),
                   help="with --topology: where nginx listens")
    p.add_argument("--no-targets", action="store_true", help="exit 0 even when a target is missed")
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare_database(args) -> dict:
    """Reuse or load the books (catalog_bench's loader); pick words and ids from them."""
    have = catalog_bench.book_count(args.database_url)
    app = None
    if have is not None and have >= args.books:
        log(f"reusing {args.database_url}: {have:,} books")
    else:
        log(f"creating {args.database_url} and loading {args.books:,} books")
        catalog_bench.recreate_database(args.database_url)
        app = srv_app(args)
        catalog_bench.load(app, args.books)
    inputs = catalog_bench.pick_inputs(app or srv_app(args), random.Random(1))
    rng = random.Random(2)
    inputs["misspelt"] = [_misspell(w, rng) for w in inputs["common"]]
    return inputs


def srv_app(args):
    from webapp import create_app

    return create_app(make_config(args.database_url, args.redis_url))


def _misspell(word: str, rng: random.Random) -> str:
    """A typo a shopper makes: two neighbouring letters swapped, or one dropped ("gadren", "rivr")."""
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i + 1:]


def paths(inputs: dict) -> dict[str, list[str]]:
    """GET paths per case; wrk cycles through each list (different books, words and genres per request)."""
    def books(**params) -> str:
        return "/books?" + urlencode(params)

    return {
        "bare": ["/"],
        "home": ["/"],
        "listing": ["/books"],
        "deep_listing": [books(page=DEEP_PAGE)],
        "genre": [f"/genres/{g}" for g in catalog_bench.GENRES],
        "detail": [f"/books/{i}" for i in inputs["ids"]],
        "search_common": [books(q=w) for w in inputs["common"]],
        "search_rare": [books(q=w) for w in inputs["rare"]],
        "search_misspelt": [books(q=w) for w in inputs["misspelt"]],
        "search_htmx": [books(q=w) for w in inputs["common"]],  # with HX-Request: the results fragment
    }


def visitor_session(host: str, port: int) -> tuple[srv.Cookies, str]:
    """A visitor's session cookie and its CSRF token, from a page over HTTP (as a browser gets them)."""
    cookies = srv.Cookies()
    status, headers, body = srv.request(port, "GET", "/books", host=host)
    cookies.update_from(headers)
    match = _CSRF.search(body)
    if status != 200 or not match or not cookies:
        raise SystemExit(f"add_to_cart: no session or CSRF token from GET /books ({status})")
    return cookies, match.group(1)


def signed_in_session(args, host: str, port: int, book_id: int) -> srv.Cookies:
    """A verified customer signed in over HTTP with one book in the cart: what GET /checkout needs. Writes to
    the benchmark database: a new account per run (the sign-in rate limit counts attempts per account)."""
    from webapp.extensions import db
    from webapp.services.people import accounts

    name = f"bench{int(time.time())}{random.randrange(1000):03d}"
    password = "bench-" + os.urandom(9).hex()
    with srv_app(args).app_context():
        accounts.create_user(name, f"{name}@example.com", password, verified=True, check_strength=False)
        db.session.commit()
    cookies, token = visitor_session(host, port)
    status, headers, _ = srv.request(port, "POST", "/login", cookies.header(),
                                     urlencode({"csrf_token": token, "login": name, "password": password}), host)
    cookies.update_from(headers)
    if status != 303:
        raise SystemExit(f"checkout_start: signing in answered {status}")
    _, headers, body = srv.request(port, "GET", "/cart", cookies.header(), host=host)
    cookies.update_from(headers)  # signing in started a new session: its CSRF token is new too
    token = _CSRF.search(body).group(1)
    form = {"csrf_token": token, "book_id": book_id, "mode": "buy", "quantity": 1}
    status, headers, _ = srv.request(port, "POST", "/cart/add", cookies.header(), urlencode(form), host)
    cookies.update_from(headers)
    if status != 303:
        raise SystemExit(f"checkout_start: adding a book to the cart answered {status}")
    return cookies


def in_stock(ids: list[int], database_url: str) -> list[int]:
    import psycopg

    url, _ = catalog_bench._conninfo(database_url)
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT book_id FROM inventory WHERE book_id = ANY(%s) AND available > 5", (ids,))]


def wrk(port: int, host: str, requests: list[str], headers: dict[str, str], args, seconds: float,
        workdir: Path) -> dict:
    """One wrk run; its Lua done() hook prints the JSON this returns (plus req/s and ms figures)."""
    req_file, head_file = workdir / "requests.txt", workdir / "headers.txt"
    req_file.write_text("".join(r if "\t" in r else f"GET\t{r}\n" for r in requests))
    head_file.write_text("".join(f"{k}: {v}\n" for k, v in {"Host": srv.host_header, **headers}.items()))
    env = {**os.environ, "WRK_REQUESTS_FILE": str(req_file), "WRK_HEADERS_FILE": str(head_file)}
    out = subprocess.run(["wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{max(1, round(seconds))}s",
                          "-s", str(LUA), f"http://{host}:{port}/"], env=env, capture_output=True, text=True,
                         timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result: {out.stdout[-500:]} {out.stderr[-500:]}")
    raw = json.loads(line[len("WRK_JSON "):])
    lat = raw["latency_us"]
    errors = sum(raw["errors"].values())
    return {"rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            "p50_ms": lat["p50"] / 1000, "p95_ms": lat["p95"] / 1000, "p99_ms": lat["p99"] / 1000,
            "max_ms": lat["max"] / 1000, "requests": raw["requests"], "errors": errors,
            "errors_by_kind": raw["errors"], "bytes": raw["bytes"],
            "bytes_per_response": round(raw["bytes"] / raw["requests"]) if raw["requests"] else 0}


def check_once(port: int, host: str, request_line: str, headers: dict[str, str], case: str) -> None:
    """Each case answers 200 once before it is timed: a redirect to the sign-in page is not a benchmark."""
    method, path, *body = request_line.rstrip("\n").split("\t") if "\t" in request_line else ("GET", request_line)
    status, _, _ = srv.request(port, method, path, headers, body[0] if body else None, host=host)
    if status != 200:
        raise SystemExit(f"{case}: {method} {path} answered {status}, not 200")


def memory(masters: list[int]) -> list[dict]:
    rows = []
    for master in masters:
        for pid in srv.worker_pids(master):
            mem = srv.memory_mb(pid)
            if mem:
                rows.append({"pid": pid, **mem})
    return rows


def evaluate(results: dict, rss: list[dict]) -> list[dict]:
    """Each target, its figure and whether it was met."""
    out = []

    def target(name: str, figure, limit, met: bool) -> None:
        out.append({"target": name, "figure": figure, "limit": limit, "met": met})

    for case in PAGES:
        if case in results:
            rps = results[case]["rps"]
            target(f"{case} req/s", rps, TARGETS["page_rps"], rps >= TARGETS["page_rps"])
    for case in SEARCHES:
        if case in results:
            r = results[case]
            target(f"{case} req/s", r["rps"], TARGETS["search_rps"], r["rps"] >= TARGETS["search_rps"])
            target(f"{case} p95 ms", r["p95_ms"], TARGETS["search_p95_ms"], r["p95_ms"] < TARGETS["search_p95_ms"])
    if "listing" in results and "deep_listing" in results:
        ratio = round(results["listing"]["rps"] / max(results["deep_listing"]["rps"], 0.1), 2)
        limit = TARGETS["deep_vs_page1"]
        target("deep page cost / page 1 (req/s ratio)", ratio, limit, ratio <= limit)
    errors = sum(r["errors"] for r in results.values())
    target("errors (all cases)", errors, 0, errors == 0)
    if rss:
        worst = max(r["rss_mb"] for r in rss)
        target("RSS per web worker MB (max)", worst, TARGETS["rss_mb"], worst < TARGETS["rss_mb"])
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(CASES)
    unknown = only - set(CASES)
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown))}")
    if args.read_only:
        only.discard("checkout_start")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    load_before = os.getloadavg()
    inputs = prepare_database(args)
    case_paths = paths(inputs)
    work = Path(tempfile.mkdtemp(prefix="http_bench."))
    log_file = RESULTS / "http_bench.gunicorn.log"
    env = srv.production_env(args.database_url, args.redis_url)
    use_conf = not args.no_conf
    conf_used = use_conf and (ROOT / "gunicorn.conf.py").exists()
    results: dict[str, dict] = {}

    def measure(case: str, port: int, host: str, requests: list[str], headers: dict[str, str]) -> None:
        check_once(port, host, requests[0], headers, case)
        if args.warmup > 0:
            wrk(port, host, requests, headers, args, args.warmup, work)
        results[case] = wrk(port, host, requests, headers, args, args.duration, work)
        r = results[case]
        log(f"  {case:<16} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f}  p95 {r['p95_ms']:6.1f}  "
            f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}")

    cmd, extra = srv.gunicorn_command(args.gunicorn, "bare_app:wsgi", args.port + 1, args.workers, args.threads,
                                      use_conf)
    bare = srv.Server(args.port + 1, cmd + ["--chdir", str(Path(__file__).parent)], {**env, **extra}, log_file)
    log(f"bare view: {' '.join(bare.command)}")
    bare.start()
    try:
        measure("bare", bare.port, "127.0.0.1", case_paths["bare"], {})
    finally:
        bare.stop()

    masters: list[int] = []
    folio = None
    rss_seen: dict[int, dict] = {}
    try:
        if args.topology:
            topology_env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url}
            srv.topology("start", topology_env)
            url = urlsplit(args.url)
            srv.host_header = url.netloc
            host, port, masters = url.hostname or "127.0.0.1", url.port or 80, srv.topology_masters()
        else:
            cmd, extra = srv.gunicorn_command(args.gunicorn, "wsgi:app", args.port, args.workers, args.threads,
                                              use_conf)
            folio = srv.Server(args.port, cmd, {**env, **extra}, log_file)
            log(f"folio: {' '.join(folio.command)}")
            folio.start()
            host, port, masters = "127.0.0.1", args.port, [folio.proc.pid]
        for case in CASES[1:]:
            if case not in only:
                continue
            if case in case_paths:
                headers = {"HX-Request": "true"} if case == "search_htmx" else {}
                measure(case, port, host, case_paths[case], headers)
            elif case == "add_to_cart":
                cookies, token = visitor_session(host, port)
                lines = [f"POST\t/cart/add\t{urlencode({'csrf_token': token, 'book_id': i, 'mode': 'buy'})}\n"
                         for i in inputs["ids"][:100]]
                measure(case, port, host, lines, {**cookies.header(), "HX-Request": "true"})
            elif case == "checkout_start":
                stocked = in_stock(inputs["ids"], args.database_url)
                cookies = signed_in_session(args, host, port, stocked[0])
                measure(case, port, host, ["/checkout"], cookies.header())
            for row in memory(masters):
                # the last reading of each worker; one recycled by max_requests keeps its last one
                rss_seen[row["pid"]] = {**row, "after_case": case}
    finally:
        if folio is not None:
            folio.stop()
        if args.topology:
            srv.topology("stop", topology_env)
        shutil.rmtree(work, ignore_errors=True)

    bare_rps = results["bare"]["rps"]
    for r in results.values():
        r["ratio_to_bare"] = round(r["rps"] / bare_rps, 4) if bare_rps else None
    rss = sorted(rss_seen.values(), key=lambda r: r["pid"])
    targets = evaluate({k: v for k, v in results.items() if k != "bare"}, rss)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    doc = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit.stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "python": srv.python_version(args.gunicorn),
                    # other work on the machine skews every figure: the 1-minute load before and after the run
                    "loadavg_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
        "settings": {"workers": len(rss) if args.topology else args.workers, "threads": args.threads,
                     "topology": f"{len(masters)} gunicorn instances behind {args.url}" if args.topology else False,
                     "gunicorn_conf": conf_used,
                     "wrk": f"-t{args.wrk_threads} -c{args.connections} -d{args.duration:g}s "
                            f"(+{args.warmup:g}s warm-up)", "books": catalog_bench.book_count(args.database_url)},
        "cases": results, "rss_per_worker": rss, "targets": targets,
        "all_targets_met": all(t["met"] for t in targets),
    }
    print(json.dumps(doc, indent=2))
    return 0 if doc["all_targets_met"] or args.no_targets else 1


if __name__ == "__main__":
    sys.exit(main())
