"""Worker settings compared over HTTP: several gunicorn servers up at once, measured in turn, round after round.

    .venv/bin/python bench/http_workers.py                                    # sync workers 2, 3, 4, 5
    .venv/bin/python bench/http_workers.py --config sync2=2 \\
        --config gthread2x4-py312=2x4@/path/to/py312-venv/bin/gunicorn --rounds 3

On a shared machine one run after another compares noise as much as settings: here every setting (and the bare
view) is measured once per round, in a different order each round, so a burst of other work lands on all of them
alike. Reports the median req/s and p95 of each case per setting, and the ratio to the bare view measured in the
same rounds. Uses bench/http_bench.py's database, servers and wrk script; read-only (no checkout case).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import catalog_bench  # noqa: E402
import http_bench as hb  # noqa: E402
import http_servers as srv  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", action="append", metavar="LABEL=WORKERS[xTHREADS][@GUNICORN]",
                   help="a setting to compare (repeatable); default sync 2, 3, 4 and 5")
    p.add_argument("--only", default="detail,search_common", help="cases (GET cases of http_bench.py)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=2.0, help="seconds per setting and case, once, before round 1")
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8090)),
                   help="first port; each setting takes the next one")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", catalog_bench.DEFAULT_URL))
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    p.add_argument("--no-conf", action="store_true", help="ignore gunicorn.conf.py")
    return p.parse_args(argv)


def settings(specs: list[str] | None) -> list[dict]:
    """LABEL=WORKERS[xTHREADS][@GUNICORN] -> {label, workers, threads, gunicorn}."""
    default_gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    out = []
    for spec in specs or [f"sync{n}={n}" for n in (2, 3, 4, 5)]:
        label, _, rest = spec.partition("=")
        shape, _, gunicorn = rest.partition("@")
        workers, _, threads = shape.partition("x")
        out.append({"label": label, "workers": int(workers), "threads": int(threads or 1),
                    "gunicorn": gunicorn or default_gunicorn})
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    cases = args.only.split(",")
    bench_args = hb.parse_args(["--database-url", args.database_url, "--redis-url", args.redis_url])
    inputs = hb.prepare_database(bench_args)
    paths = hb.paths(inputs)
    env = srv.production_env(args.database_url, args.redis_url)
    use_conf = not args.no_conf
    wrk_args = argparse.Namespace(wrk_threads=2, connections=8)
    work = Path(tempfile.mkdtemp(prefix="http_workers."))
    configs = [{"label": "bare", "workers": 2, "threads": 1, "gunicorn": settings(args.config)[0]["gunicorn"],
                "app": "bare_app:wsgi"}] + [{**c, "app": "wsgi:app"} for c in settings(args.config)]
    servers = []
    try:
        for i, config in enumerate(configs):
            port = args.port + i
            cmd, extra = srv.gunicorn_command(config["gunicorn"], config["app"], port, config["workers"],
                                              config["threads"], use_conf)
            if config["app"] == "bare_app:wsgi":
                cmd += ["--chdir", str(Path(__file__).parent)]
            server = srv.Server(port, cmd, {**env, **extra}, hb.RESULTS / "http_workers.gunicorn.log")
            server.start()
            servers.append((config, server))
        jobs = [(config, server, case) for config, server in servers
                for case in (["bare"] if config["app"] == "bare_app:wsgi" else cases)]
        for _config, server, case in jobs:
            hb.check_once(server.port, "127.0.0.1", paths[case][0], {}, case)
            hb.wrk(server.port, "127.0.0.1", paths[case], {}, wrk_args, args.warmup, work)
        runs: dict[tuple[str, str], list[dict]] = {}
        rng = random.Random(3)
        for n in range(args.rounds):
            order = jobs[:]
            rng.shuffle(order)
            for config, server, case in order:
                r = hb.wrk(server.port, "127.0.0.1", paths[case], {}, wrk_args, args.duration, work)
                runs.setdefault((config["label"], case), []).append(r)
                hb.log(f"round {n + 1} {config['label']:<18} {case:<14} {r['rps']:8.1f} req/s  "
                       f"p95 {r['p95_ms']:6.1f} ms  errors {r['errors']}")
        memory = {config["label"]: [srv.memory_mb(pid) for pid in srv.worker_pids(server.proc.pid)]
                  for config, server in servers}
    finally:
        for _, server in servers:
            server.stop()
    bare = statistics.median(r["rps"] for r in runs[("bare", "bare")])
    table = []
    for (label, case), rs in runs.items():
        rps = statistics.median(r["rps"] for r in rs)
        config = next(c for c in configs if c["label"] == label)
        table.append({"setting": label, "workers": config["workers"], "threads": config["threads"],
                      "python": srv.python_version(config["gunicorn"]), "case": case, "rps_median": rps,
                      "rps_rounds": [r["rps"] for r in rs],
                      "p95_ms_median": statistics.median(r["p95_ms"] for r in rs),
                      "errors": sum(r["errors"] for r in rs), "ratio_to_bare": round(rps / bare, 4)})
    print(json.dumps({"settings": {"rounds": args.rounds, "duration_s": args.duration, "wrk": "-t2 -c8",
                                   "gunicorn_conf": use_conf and (srv.ROOT / "gunicorn.conf.py").exists(),
                                   "books": catalog_bench.book_count(args.database_url),
                                   "loadavg_1m_after": round(os.getloadavg()[0], 2)},
                      "results": table, "memory": memory}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
