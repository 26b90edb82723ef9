"""Reports benchmark: 1,000,000 books and 2,000,000 order lines over two years on PostgreSQL, then the time
each report takes (and the rollup rebuild and incremental refresh).

    .venv/bin/python bench/reports.py                 # fresh database: load, then time (BENCH_DATABASE_URL)
    .venv/bin/python bench/reports.py --reuse         # keep the loaded database if it already holds the data
    .venv/bin/python bench/reports.py --books 100000 --lines 200000

The data is generated inside PostgreSQL (INSERT ... SELECT over generate_series; no Python loops): skewed book
popularity (a few books sell most copies), one or two genres and authors per book, order volume growing over the
two years, ~12 % rental lines, some orders cancelled or refunded, rentals (some overdue, some with late fees)
and waiting holds on popular books. Secondary indexes and foreign keys are dropped for the load and rebuilt
after it (as pg_restore does), then VACUUM ANALYZE.

Each report is timed twice over: the service's queries alone, and the whole background task as the worker runs
it (queries, chart, CSV, stored on the task row). Periods: the last 30 days and the full two years (the
longest a report allows). Target: every report under 2 s. Exits 1 when one is missed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from common import conninfo as _conninfo  # noqa: E402
from common import make_config  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/folio_bench"
TARGET_S = 2.0
GENRES = [
    "Biography", "Business", "Children's", "Classics", "Cookery", "Crime", "Fantasy", "History",
    "Horror", "Humour", "Literary Fiction", "Mystery", "Philosophy", "Poetry", "Romance",
    "Science", "Science Fiction", "Self-Help", "Thriller", "Travel", "Young Adult",
]
FIRST = ["Ada", "Ben", "Cora", "Dan", "Eva", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kit", "Lena", "Milo", "Nora",
         "Otto", "Pia", "Quinn", "Rosa", "Sam", "Tess", "Uma", "Vic", "Wren", "Xavi", "Yara", "Zoe"]
LAST = ["Abbott", "Barker", "Castillo", "Dawson", "Ellis", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Khan",
        "Larsen", "Moreau", "Novak", "Okafor", "Patel", "Quint", "Rossi", "Silva", "Tanaka", "Ueda", "Varga",
        "Weber", "Xu", "Young", "Zimmer", "Lindqvist", "Marsh", "Nakamura", "Olsen"]
WORDS = ["River", "Garden", "House", "Kingdom", "Night", "Sea", "Letter", "Orchard", "Mountain", "City", "Island",
         "Harbour", "Library", "Clock", "Forest", "Storm", "Crown", "Mirror", "Lantern", "Bridge", "Road", "Map"]
ADJ = ["Silent", "Hidden", "Last", "Golden", "Broken", "Forgotten", "Crimson", "Midnight", "Distant", "Secret",
       "Wild", "Quiet", "Burning", "Frozen", "Lost", "Little", "Endless", "Bright"]
_LOAD_TABLES = ("books", "book_authors", "book_genres", "inventory", "users", "orders", "order_lines", "rentals",
                "holds")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--books", type=int, default=int(os.environ.get("BENCH_BOOKS", 1_000_000)))
    p.add_argument("--lines", type=int, default=int(os.environ.get("BENCH_LINES", 2_000_000)))
    p.add_argument("--reuse", action="store_true", help="reuse the database if it already holds the data")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per case (the median is reported)")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    return p.parse_args(argv)






def loaded(database_url: str, books: int, lines: int) -> bool:
    url, _ = _conninfo(database_url)
    try:
        with psycopg.connect(url) as conn:
            have_books = conn.execute("SELECT count(*) FROM books").fetchone()[0]
            have_lines = conn.execute("SELECT count(*) FROM order_lines").fetchone()[0]
            conn.execute("SELECT 1 FROM sales_daily LIMIT 1")
            return have_books >= books and have_lines >= lines
    except psycopg.Error:
        return False


def recreate_database(database_url: str) -> None:
    admin_url, name = _conninfo(database_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], expr: str) -> str:
    """SQL: the element of `values` chosen by an integer expression (deterministic)."""
    return f"({_array(values)})[1 + (({expr}) % {len(values)})]"


def _author_name(id_expr: str) -> str:
    return f"{_pick(FIRST, id_expr)} || ' ' || {_pick(LAST, f'({id_expr}) / {len(FIRST)}')}"


def seed(url: str, books: int, lines: int) -> None:
    """Generate the data set with INSERT ... SELECT generate_series (see the module docstring)."""
    authors = max(100, books // 8)
    users = max(1000, books // 10)
    orders = max(1, round(lines / 2.5))
    holds = min(users, max(100, books // 20))
    t0 = time.perf_counter()

    def step(label: str, sql: str, conn) -> None:
        t = time.perf_counter()
        conn.execute(sql)
        print(f"  [{time.perf_counter() - t0:6.1f}s] {label} ({time.perf_counter() - t:.1f}s)", flush=True)

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SELECT setseed(0.42)")
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (list(_LOAD_TABLES),)).fetchall()
        fks = conn.execute(
            "SELECT quote_ident(t.relname), quote_ident(c.conname), pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid WHERE c.contype = 'f' "
            "AND t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)",
            (list(_LOAD_TABLES),)).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for table, name, _ in fks:
            conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        conn.execute("ALTER TABLE book_authors DISABLE TRIGGER folio_book_authors_names")
        print(f"  dropped {len(indexes)} secondary indexes and {len(fks)} foreign keys for the load")

        genre_rows = ", ".join(f"({i}, '{g.replace(chr(39), chr(39) * 2)}', 'g-{i}')" for i, g in enumerate(GENRES, 1))
        step("genres", f"INSERT INTO genres (id, name, slug) VALUES {genre_rows}", conn)
        step(f"{authors:,} authors", f"""
            INSERT INTO authors (id, name, slug, created_at)
            SELECT g, {_author_name('g')}, 'author-' || g, now() FROM generate_series(1::bigint, {authors}) g""", conn)
        # Books: ~2 % inactive; price 5-45 dollars, cost 40-70 % of it (5 % without a cost price); created over
        # five years (id order); one author (a second for 15 %), written into author_names as the trigger would.
        step(f"{books:,} books", f"""
            INSERT INTO books (id, isbn13, title, language, price_cents, cost_cents, rental_week_cents, active,
                               units_sold, author_names, created_at, updated_at)
            SELECT g, '979' || lpad(g::text, 10, '0'),
                   'The ' || {_pick(ADJ, 'g * 7')} || ' ' || {_pick(WORDS, 'g / 3')} || ' ' || g,
                   'en', p.price, CASE WHEN g % 20 = 0 THEN NULL ELSE p.price * (40 + g % 31) / 100 END,
                   p.price / 5, g % 50 <> 0, 0,
                   {_author_name(f'1 + (g * 7919) % {authors}')}
                     || CASE WHEN g % 7 = 0 THEN ', ' || {_author_name(f'1 + (g * 104729) % {authors}')} ELSE '' END,
                   now() - interval '5 years' + g * (interval '5 years' / {books}),
                   now() - interval '5 years' + g * (interval '5 years' / {books})
            FROM generate_series(1::bigint, {books}) g, LATERAL (SELECT 500 + (g * 37 % 81) * 50 AS price) p""", conn)
        step("book authors", f"""
            INSERT INTO book_authors (book_id, author_id, position)
            SELECT g, 1 + (g * 7919) % {authors}, 0 FROM generate_series(1::bigint, {books}) g
            UNION ALL
            SELECT g, 1 + (g * 104729) % {authors}, 1 FROM generate_series(1::bigint, {books}) g
            WHERE g % 7 = 0 AND (g * 104729) % {authors} <> (g * 7919) % {authors}""", conn)
        # Genres skewed (Fiction-ish genres hold more books); a second genre for 30 %.
        step("book genres", f"""
            INSERT INTO book_genres (book_id, genre_id)
            SELECT g, 1 + floor({len(GENRES)} * power(random(), 1.5))::int FROM generate_series(1::bigint, {books}) g
            UNION
            SELECT g, 1 + (g * 13) % {len(GENRES)} FROM generate_series(1::bigint, {books}) g WHERE g % 10 < 3""", conn)
        # Stock: 0-30 copies, 6 % none; a few books with their own low-stock threshold.
        step("inventory", f"""
            INSERT INTO inventory (book_id, on_hand, reserved, low_stock_threshold, updated_at)
            SELECT g, CASE WHEN random() < 0.06 THEN 0 ELSE floor(random() * 30)::int END, 0,
                   CASE WHEN g % 100 = 0 THEN 5 END, now()
            FROM generate_series(1::bigint, {books}) g""", conn)
        step(f"{users:,} customers", f"""
            INSERT INTO users (id, username, email, password_hash, role, created_at)
            SELECT g, 'reader' || g, 'reader' || g || '@bench.test', 'x', 'customer', now() - interval '3 years'
            FROM generate_series(1::bigint, {users}) g""", conn)
        # Order lines first (book popularity: book rank r = n * u^3, spread over ids by a multiplicative
        # permutation, so popularity is unrelated to catalog age; an order's lines are adjacent, as checkout
        # writes them), then orders from their lines (ids in payment order, as in production).
        step(f"{lines:,} order lines", f"""
            INSERT INTO order_lines (id, order_id, book_id, title, isbn13, mode, rental_days, quantity, unit_cents,
                                     line_cents)
            SELECT l.g, l.order_id, b.id, b.title, b.isbn13, l.mode, CASE WHEN l.mode = 'rent' THEN 7 END, l.q,
                   CASE WHEN l.mode = 'rent' THEN b.rental_week_cents ELSE b.price_cents END,
                   l.q * CASE WHEN l.mode = 'rent' THEN b.rental_week_cents ELSE b.price_cents END
            FROM (SELECT g, 1 + (g - 1) * {orders} / {lines} AS order_id,
                         1 + (floor({books} * power(random(), 3))::bigint * 7919) % {books} AS book_id,
                         CASE WHEN random() < 0.12 THEN 'rent' ELSE 'buy' END AS mode,
                         CASE WHEN random() < 0.85 THEN 1 WHEN random() < 0.8 THEN 2 ELSE 3 END AS q
                  FROM generate_series(1::bigint, {lines}) g) l
            JOIN books b ON b.id = l.book_id""", conn)
        # Orders: paid over the last two years, volume growing (sqrt); 3 % refunded, 2 % cancelled, 4 % never paid;
        # the last 3 days paid, the rest shipped or delivered.
        step(f"{orders:,} orders", f"""
            INSERT INTO orders (id, number, user_id, status, email, ship_name, ship_line1, ship_city, ship_postcode,
                                ship_country, currency, subtotal_cents, discount_cents, member_discount_cents,
                                shipping_cents, tax_cents, total_cents, wallet_cents, payment_provider, paid_at,
                                created_at, updated_at, refunded_cents, refunded_at, cancelled_at)
            SELECT o.id, 'B' || lpad(o.id::text, 12, '0'), 1 + o.id % {users}, o.status,
                   'reader' || (1 + o.id % {users}) || '@bench.test', 'Reader', '1 Main St', 'Springfield', '12345',
                   'US', 'usd', o.subtotal, 0, 0, o.shipping, 0, o.subtotal + o.shipping, 0, 'test',
                   CASE WHEN o.status IN ('pending_payment', 'expired') THEN NULL ELSE o.at END,
                   o.at - interval '3 minutes', o.at,
                   CASE WHEN o.status = 'refunded' THEN o.subtotal + o.shipping ELSE 0 END,
                   CASE WHEN o.status = 'refunded' THEN o.at + interval '2 days' END,
                   CASE WHEN o.status IN ('refunded', 'cancelled') THEN o.at + interval '1 day' END
            FROM (SELECT s.order_id AS id, s.subtotal, CASE WHEN s.subtotal >= 3500 THEN 0 ELSE 499 END AS shipping,
                         now() - interval '730 days' * (1 - sqrt((s.order_id - random()) / {orders})) AS at,
                         random() AS r
                  FROM (SELECT order_id, sum(line_cents) AS subtotal FROM order_lines GROUP BY order_id) s) x,
                 LATERAL (SELECT x.id, x.subtotal, x.shipping, x.at,
                                 CASE WHEN x.r < 0.03 THEN 'refunded' WHEN x.r < 0.05 THEN 'cancelled'
                                      WHEN x.r < 0.09 THEN 'expired'
                                      WHEN x.at > now() - interval '3 days' THEN 'paid'
                                      WHEN x.at > now() - interval '10 days' THEN 'shipped'
                                      ELSE 'delivered' END AS status) o""", conn)
        # Rentals for rent lines of paid orders: out for 7 days; returned unless started in the last 12 days
        # (a third of those overdue); 10 % of returns late, with a fee partly paid.
        step("rentals", """
            INSERT INTO rentals (user_id, book_id, order_id, order_line_id, status, starts_at, due_at, returned_at,
                                 renewed, fee_cents, fee_paid_cents)
            SELECT o.user_id, l.book_id, o.id, l.id, r.status, o.paid_at, o.paid_at + interval '7 days',
                   CASE WHEN r.status = 'returned' THEN o.paid_at + interval '7 days' + r.late * interval '1 day' END,
                   false, CASE WHEN r.status = 'returned' THEN r.late * 50 ELSE 0 END,
                   CASE WHEN r.status = 'returned' THEN (r.late * 50) / 2 ELSE 0 END
            FROM order_lines l JOIN orders o ON o.id = l.order_id,
                 LATERAL (SELECT CASE WHEN o.paid_at > now() - interval '12 days' THEN 'active' ELSE 'returned' END
                                   AS status,
                                 CASE WHEN l.id % 10 = 0 THEN 1 + l.id % 9 ELSE 0 END AS late) r
            WHERE l.mode = 'rent' AND o.status IN ('paid', 'shipped', 'delivered')""", conn)
        step("holds", f"""
            INSERT INTO holds (user_id, book_id, status, priority, queued_at)
            SELECT g, 1 + (floor({books} * power(random(), 4))::bigint * 7919) % {books}, 'waiting', g % 3,
                   now() - random() * interval '60 days'
            FROM generate_series(1::bigint, {holds}) g""", conn)
        conn.execute("ALTER TABLE book_authors ENABLE TRIGGER folio_book_authors_names")
        for table in ("genres", "authors", "books", "users", "orders", "order_lines", "rentals", "holds"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        t = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        print(f"  [{time.perf_counter() - t0:6.1f}s] rebuilt {len(indexes)} indexes ({time.perf_counter() - t:.1f}s)")
        t = time.perf_counter()
        for table, name, definition in fks:
            conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        print(f"  [{time.perf_counter() - t0:6.1f}s] re-added {len(fks)} foreign keys ({time.perf_counter() - t:.1f}s)")
        conn.execute("VACUUM (ANALYZE)")
        print(f"  [{time.perf_counter() - t0:6.1f}s] VACUUM ANALYZE done", flush=True)


def timed(func, repeat: int) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = func()
        timings.append(time.perf_counter() - t)
    return statistics.median(timings), result


def measure(app, repeat: int) -> list[tuple[str, float]]:
    from sqlalchemy import select, text, update

    from webapp.extensions import db
    from webapp.models import BackgroundTask, Order, utcnow
    from webapp.services.insight import rollups, sales_figures, stock_and_rentals, weekly
    from webapp.services.insight.periods import Period
    from webapp.services.platform import background

    figures: list[tuple[str, float]] = []

    def record(name: str, seconds: float, note: str = "") -> None:
        figures.append((name, seconds))
        maintenance = name.startswith(("full rebuild", "incremental refresh"))
        flag = "" if seconds < TARGET_S or maintenance else "   <-- over target"
        print(f"  {name:<44} {seconds * 1000:8.0f} ms  {note}{flag}", flush=True)

    with app.app_context():
        print("rollups:")
        t = time.perf_counter()
        result = rollups.refresh_rollups(full=True)
        record("full rebuild (sales_daily + totals)", time.perf_counter() - t, f"{result['days']} days")
        db.session.execute(text("ANALYZE sales_daily; ANALYZE sales_daily_totals"))
        db.session.commit()
        rows = db.session.scalar(text("SELECT count(*) FROM sales_daily"))
        print(f"  sales_daily rows: {rows:,}")
        # Incremental, as every 10 minutes: 500 recent orders change (shipped) and 3 older ones are refunded.
        now = utcnow()
        recent_ids = db.session.scalars(select(Order.id).where(Order.status == "paid").limit(500)).all()
        old_ids = db.session.scalars(select(Order.id).where(Order.status == "delivered")
                                     .where(Order.paid_at < now - timedelta(days=200)).limit(3)).all()
        db.session.execute(update(Order).where(Order.id.in_(recent_ids)).values(status="shipped", updated_at=now))
        db.session.execute(update(Order).where(Order.id.in_(old_ids))
                           .values(status="refunded", refunded_cents=Order.total_cents, updated_at=now))
        db.session.commit()
        t = time.perf_counter()
        result = rollups.refresh_rollups()
        record("incremental refresh (503 orders changed)", time.perf_counter() - t, f"{result['days']} days")
        t = time.perf_counter()
        result = rollups.refresh_rollups()
        record("incremental refresh, repeated (overlap re-read)", time.perf_counter() - t, f"{result['days']} days")
        db.session.remove()

        today = utcnow().date()
        periods = {"30 days": Period(today - timedelta(days=29), today),
                   "2 years": Period(today - timedelta(days=730), today)}
        print("report queries (service functions):")
        for label, period in periods.items():
            for g in ("day", "month"):
                s, _ = timed(lambda p=period, g=g: sales_figures.sales_over_time(p, g), repeat)
                record(f"sales over time, {label}, {g}", s)
            s, _ = timed(lambda p=period: sales_figures.best_sellers(p, 50), repeat)
            record(f"best sellers (50), {label}", s)
            s, rows = timed(lambda p=period: sales_figures.least_sold(p, 50), repeat)
            record(f"least sold (50), {label}", s, f"{sum(1 for r in rows if not r['units_sold'] + r['units_rented'])}"
                                                   " with no sales")
            s, _ = timed(lambda p=period: sales_figures.genre_sales(p), repeat)
            record(f"sales by genre, {label}", s)
            s, _ = timed(lambda p=period: sales_figures.author_sales(p, 50), repeat)
            record(f"sales by author (50), {label}", s)
            s, _ = timed(lambda p=period: stock_and_rentals.rentals_and_holds(p, 50), repeat)
            record(f"rentals and holds, {label}", s)
            db.session.remove()
        s, _ = timed(lambda: stock_and_rentals.inventory_status(50), repeat)
        record("inventory status", s)
        db.session.remove()

        print("whole report tasks (as the worker runs them: queries, charts, CSV, stored):")
        for kind, params in [
            ("report:sales", {**periods["2 years"].as_params(), "granularity": "day", "limit": 50}),
            ("report:sales", {**periods["2 years"].as_params(), "granularity": "week", "limit": 50}),
            ("report:books", {**periods["2 years"].as_params(), "limit": 50}),
            ("report:books", {**periods["30 days"].as_params(), "limit": 50}),
            ("report:genres", {**periods["2 years"].as_params(), "limit": 50}),
            ("report:inventory", {"limit": 50}),
            ("report:rentals", {**periods["2 years"].as_params(), "limit": 50}),
        ]:
            timings = []
            for _ in range(repeat):
                task = BackgroundTask(kind=kind, title=kind, params=params, status="queued")
                db.session.add(task)
                db.session.commit()
                t = time.perf_counter()
                outcome = background.execute(task.id)
                timings.append(time.perf_counter() - t)
                assert outcome == "finished", db.session.get(BackgroundTask, task.id).message
                db.session.remove()
            span = "" if kind == "report:inventory" else (
                f", {'2 years' if params['from'] == periods['2 years'].start.isoformat() else '30 days'}")
            extra = f", {params['granularity']}" if "granularity" in params else ""
            record(f"task {kind}{span}{extra}", statistics.median(timings))
        s, result = timed(lambda: weekly.weekly_figures(weekly.week_summarised(today)), repeat)
        record("weekly summary figures", s)
    return figures


def main(argv=None) -> int:
    args = parse_args(argv)
    from webapp import create_app

    url, _ = _conninfo(args.database_url)
    if args.reuse and loaded(args.database_url, args.books, args.lines):
        print(f"reusing {args.database_url}")
        app = create_app(make_config(args.database_url, args.redis_url))
    else:
        print(f"creating {args.database_url}: {args.books:,} books, {args.lines:,} order lines")
        recreate_database(args.database_url)
        app = create_app(make_config(args.database_url, args.redis_url))
        from flask_migrate import upgrade

        started = time.perf_counter()
        with app.app_context():
            upgrade()
        seed(url, args.books, args.lines)
        print(f"LOAD TIME: {time.perf_counter() - started:.1f}s")
    with psycopg.connect(url) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("books", "order_lines", "orders", "rentals", "holds")}
    print("data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    figures = measure(app, args.repeat)
    # The target is per report; the rollup maintenance (a worker job) is reported but not held to it.
    over = [name for name, seconds in figures
            if seconds >= TARGET_S and not name.startswith(("full rebuild", "incremental refresh"))]
    print(f"\n{len(figures)} timings; target {TARGET_S:.0f} s per report: "
          + ("all met" if not over else f"missed by {', '.join(over)}"))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
