"""Catalog benchmark: load N demo books into a fresh PostgreSQL database, then time the catalog pages.

    .venv/bin/python bench/catalog_bench.py                 # 1,000,000 books (BENCH_BOOKS), fresh database
    .venv/bin/python bench/catalog_bench.py --reuse         # keep the database if it already holds the books
    .venv/bin/python bench/catalog_bench.py --books 100000 --requests 20

Latency is server-side: each request goes through the Flask test client in this process (routing,
queries, template rendering), with no network or browser. Targets: the load finishes in under
3 minutes and every case has p95 under 100 ms at 1,000,000 books. Exits 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from common import conninfo as _conninfo  # noqa: E402
from common import make_config  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/folio_bench"
LOAD_TARGET_S = 180.0
P95_TARGET_MS = 100.0
RARE_MAX = 2_000  # a "rare" surname search finds at most this many books (and is not capped)
COMMON_WORDS = ["garden", "river", "house", "night", "lantern", "storm", "winter", "secret", "kingdom", "shadow"]
GENRES = ["fantasy", "crime", "history", "poetry", "science-fiction", "romance", "thriller", "travel"]
_COUNT = re.compile(r'class="result-count"[^>]*>\s*(.*?)\s*(?:for\s*<strong>|</p>)', re.S)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--books", type=int, default=int(os.environ.get("BENCH_BOOKS", 1_000_000)))
    p.add_argument("--reuse", action="store_true", help="reuse the database if it already holds the books")
    p.add_argument("--requests", type=int, default=50, help="timed requests per case")
    p.add_argument("--warmup", type=int, default=3, help="untimed requests per case first")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    p.add_argument("--only", help="comma-separated case names to run")
    p.add_argument("--json", help="also write the results as JSON to this file")
    p.add_argument("--no-gc-freeze", action="store_true", help="do not gc.freeze() the startup heap before timing")
    return p.parse_args(argv)






def book_count(database_url: str) -> int | None:
    """Books in the database, or None when the database (or its books table) does not exist."""
    url, _ = _conninfo(database_url)
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM books").fetchone()[0]
    except psycopg.Error:
        return None


def recreate_database(database_url: str) -> None:
    admin_url, name = _conninfo(database_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def load(app, books: int) -> float:
    from flask_migrate import upgrade

    from webapp.demo import seed as demo

    with app.app_context():
        started = time.perf_counter()
        upgrade()
        print(f"migrations: {time.perf_counter() - started:.1f}s")
        t0 = time.perf_counter()

        def progress(msg: str) -> None:
            print(f"  [{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)

        demo.seed(books, seed_value=1, progress=progress)
        return time.perf_counter() - started


def pick_inputs(app, rng: random.Random) -> dict:
    """Query words and ids chosen from the loaded data, so every case exercises real matches."""
    from faker.providers.person.en_US import Provider as PersonNames

    from webapp.extensions import db
    from webapp.models import Book, SearchTerm
    from webapp.services.catalog.search import BookQuery, search_books

    with app.app_context():
        surnames = {n.lower() for n in PersonNames.last_names}
        firsts = {n.lower() for n in PersonNames.first_names}
        # Surnames that are nobody's first name, rarest among title and author words...
        candidates = list(db.session.scalars(
            select(SearchTerm.term)
            .where(SearchTerm.term.in_(sorted(surnames - firsts)), SearchTerm.frequency > 0)
            .order_by(SearchTerm.frequency, SearchTerm.term).limit(40)
        ))
        # ...that stay rare as searches (no common description word or prefix like "sharp" or "park").
        results = {w: search_books(BookQuery(q=w), suggest=False) for w in candidates}
        rare = [w for w in candidates if not results[w].total_capped and results[w].total <= RARE_MAX][:10]
        mixed = [w for w in candidates if w not in rare]
        lo, hi = db.session.execute(select(func.min(Book.id), func.max(Book.id))).one()
        ids = [rng.randint(lo, hi) for _ in range(500)]
        common = [w for w in COMMON_WORDS if db.session.scalar(
            select(SearchTerm.frequency).where(SearchTerm.term == w))]
        db.session.remove()
    return {"rare": rare, "mixed": mixed, "ids": ids, "common": common or COMMON_WORDS}


def check_relevance(app, words: list[str]) -> list[str]:
    """Title/author matches must come before description-only matches on every page checked."""
    from webapp.extensions import db
    from webapp.models.catalog import TITLE_AUTHOR_TSVECTOR
    from webapp.services.catalog.search import BookQuery, search_books

    problems = []
    with app.app_context():
        for word in words:
            for page in (1, 2, 40):
                ids = [b.id for b in search_books(BookQuery(q=word, page=page), suggest=False).books]
                strong = dict(db.session.execute(text(
                    f"SELECT id, {TITLE_AUTHOR_TSVECTOR} @@ to_tsquery('english', :q) FROM books WHERE id = ANY(:ids)"
                ), {"q": word + ":*", "ids": ids}).all())
                flags = [strong[i] for i in ids]
                if flags != sorted(flags, reverse=True):
                    problems.append(f"{word!r} page {page}: a description-only match precedes a title/author match")
            db.session.remove()
    return problems


def cases(inputs: dict, rng: random.Random) -> dict:
    """name -> (function returning the next (path, headers), whether the page shows a count)."""
    common, rare, ids = inputs["common"], inputs["rare"], inputs["ids"]

    def books(**params):
        return "/books?" + urlencode(params)

    def prefix(word: str) -> str:
        return word[: rng.randint(3, len(word))]

    return {
        "common_word": (lambda: (books(q=rng.choice(common)), {}), True),
        "rare_surname": (lambda: (books(q=rng.choice(rare)), {}), True),
        "filtered_sorted": (lambda: (books(genre=rng.choice(GENRES), in_stock="y", sort="price_asc",
                                           min_price=10, max_price=30), {}), True),
        "deep_page": (lambda: (books(sort="title", page=400), {}), True),
        "detail": (lambda: (f"/books/{rng.choice(ids)}", {}), False),
        "htmx_search": (lambda: (books(q=f"{rng.choice(common)} {prefix(rng.choice(common))}"),
                                 {"HX-Request": "true"}), True),
        "home": (lambda: ("/", {}), False),
    }


def measure(app, inputs: dict, requests: int, warmup: int, only: set[str] | None, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    client = app.test_client()
    results = []
    for name, (next_request, counted) in cases(inputs, rng).items():
        if only and name not in only:
            continue
        for _ in range(warmup):
            path, headers = next_request()
            client.get(path, headers=headers)
        timings, shown, example = [], set(), None
        for _ in range(requests):
            path, headers = next_request()
            t = time.perf_counter()
            r = client.get(path, headers=headers)
            timings.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200:
                raise SystemExit(f"{name}: {path} answered {r.status_code}")
            if counted:
                m = _COUNT.search(r.get_data(as_text=True))
                shown.add(" ".join(m.group(1).split()) if m else "?")
            example = example or path
        timings.sort()
        results.append({
            "case": name, "example": example, "n": len(timings),
            "p50": statistics.median(timings),
            "p95": timings[min(len(timings) - 1, max(0, round(0.95 * len(timings)) - 1))],
            "max": timings[-1], "shown": sorted(shown) if counted else [],
        })
    return results


def report(results: list[dict], books: int, load_s: float | None) -> bool:
    ok = True
    print()
    print(f"Catalog latency at {books:,} books (server-side, Flask test client; ms)")
    print(f"{'case':<16} {'p50':>7} {'p95':>7} {'max':>7}  {'count shown':<28} example")
    for r in results:
        flag = "" if r["p95"] < P95_TARGET_MS else "  <-- p95 over target"
        ok = ok and not flag
        shown = ", ".join(r["shown"][:3]) + (" ..." if len(r["shown"]) > 3 else "") if r["shown"] else "-"
        print(f"{r['case']:<16} {r['p50']:7.1f} {r['p95']:7.1f} {r['max']:7.1f}  {shown:<28} {r['example']}{flag}")
    if load_s is not None:
        within = load_s < LOAD_TARGET_S
        ok = ok and within
        print(f"\nload: {books:,} books in {load_s:.1f}s (target < {LOAD_TARGET_S:.0f}s){'' if within else '  <-- over'}")
    print(f"targets: p95 < {P95_TARGET_MS:.0f} ms per case" + (", load < 180 s" if load_s is not None else "")
          + (": MET" if ok else ": MISSED"))
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    from webapp import create_app

    load_s = None
    have = book_count(args.database_url) if args.reuse else None
    if have is not None and have >= args.books:
        print(f"reusing {args.database_url}: {have:,} books")
        app = create_app(make_config(args.database_url, args.redis_url))
    else:
        print(f"creating {args.database_url} and loading {args.books:,} books")
        recreate_database(args.database_url)
        app = create_app(make_config(args.database_url, args.redis_url))
        load_s = load(app, args.books)
        print(f"LOAD TIME: {args.books:,} books in {load_s:.1f}s (migrations + demo.seed)")

    with app.app_context():
        from webapp.extensions import db

        db.session.execute(text("SELECT 1"))  # connect before timing
        db.session.remove()
    inputs = pick_inputs(app, random.Random(1))
    print(f"rare surnames: {', '.join(inputs['rare'])}")
    checked = inputs["rare"][:3] + inputs["mixed"][:3] + inputs["common"][:2]
    problems = check_relevance(app, checked)
    print(f"relevance check ({', '.join(checked)}): {'; '.join(problems) if problems else 'title/author matches first'}")
    only = set(args.only.split(",")) if args.only else None
    if not args.no_gc_freeze:
        # As a server process does after preloading the app: later full collections skip the startup heap
        # (a full collection of it takes ~90 ms on this machine and would land in some requests).
        gc.collect()
        gc.freeze()
    results = measure(app, inputs, args.requests, args.warmup, only)
    ok = report(results, args.books, load_s) and not problems
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"books": args.books, "load_s": load_s, "cases": results}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
