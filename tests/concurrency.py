"""Races for the PostgreSQL concurrency tests: n threads, each with its own app context (so its own
session and connection), released together by a barrier."""
from __future__ import annotations

import threading
from collections.abc import Callable


def race(app, work: Callable[[int], Callable[[], object]], n: int, *, timeout: float = 120) -> list[str]:
    """Run `work(i)` in n threads. `work(i)` loads what thread i needs (and so connects) and returns the action;
    the actions start together and each thread commits on its own. Returns each thread's outcome: "ok", or
    "ErrorName: message" (rolled back), in finishing order."""
    barrier = threading.Barrier(n)
    results: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        with app.app_context():
            from webapp.extensions import db as thread_db

            try:
                action = work(i)
                barrier.wait(timeout=60)
                action()
                thread_db.session.commit()
                outcome = "ok"
            except Exception as exc:  # reported, not swallowed: callers assert on every outcome
                thread_db.session.rollback()
                outcome = f"{type(exc).__name__}: {exc}"
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert len(results) == n, "a thread did not finish"
    return results
