"""Admin home benchmark: the dashboard at 1,000,000 books and 2,000,000 order lines on PostgreSQL.

    .venv/bin/python bench/admin_home.py --reuse      # the database bench/reports.py loads (BENCH_DATABASE_URL)

Loads the data with bench/reports.py when the database does not hold it yet, then renders GET /admin (the view
with its template, as an admin with 2FA) several times and prints each query group and the whole page.
Target: the page under 300 ms.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import reports as data  # noqa: E402  (bench/reports.py: loader and config)

TARGET_S = 0.3


def _median(func, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main(argv=None) -> int:
    args = data.parse_args(argv)
    if not (args.reuse and data.loaded(args.database_url, args.books, args.lines)):
        data.main([*(argv or sys.argv[1:]), "--repeat", "1"])  # loads (and times the reports once)
    from flask_login import login_user
    from sqlalchemy import select

    from webapp import create_app
    from webapp.admin.home import home
    from webapp.extensions import db
    from webapp.models import User
    from webapp.services.insight import dashboard
    from webapp.services.inventory import alerts

    app = create_app(data.make_config(args.database_url, args.redis_url))
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.role == "admin").limit(1))
        if admin is None:
            admin = User(username="bench_admin", email="bench_admin@example.com", password_hash="!unusable",
                         role="admin")
            db.session.add(admin)
            db.session.commit()
        figures = [
            ("overview (sales periods, 30-day series, stock, rentals, holds)", _median(dashboard.overview, 5)),
            ("stock counts alone", _median(alerts.stock_counts, 5)),
            ("low and out of stock list (8 fewest left)", _median(lambda: alerts.at_or_below(8), 5)),
        ]
        with app.test_request_context("/admin"):
            login_user(admin)
            home()  # first render draws the chart (cached after) and warms the template
            figures.append(("GET /admin page (view + template)", _median(home, 7)))
    for name, seconds in figures:
        print(f"{name:<66} {seconds * 1000:8.1f} ms")
    page = figures[-1][1]
    print(f"\ntarget {TARGET_S * 1000:.0f} ms for the page: {'met' if page < TARGET_S else 'MISSED'}")
    return 0 if page < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
