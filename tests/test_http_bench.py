"""bench/http_bench.py's own logic, without servers or wrk: which targets a set of figures meets (the exit
status of `make bench-http` rests on it), the cookies it carries by hand, and the gunicorn command it runs."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import http_bench  # noqa: E402
import http_servers  # noqa: E402


def _case(rps: float, p95: float = 10.0, errors: int = 0) -> dict:
    return {"rps": rps, "p95_ms": p95, "errors": errors}


def _met(targets: list[dict]) -> dict[str, bool]:
    return {t["target"]: t["met"] for t in targets}


def test_targets_met_when_every_figure_is_within_its_limit():
    results = {name: _case(1200) for name in http_bench.PAGES}
    results |= {name: _case(450, p95=40) for name in http_bench.SEARCHES}
    results["deep_listing"] = _case(700)  # 1200 / 700 = 1.7x page 1's cost: within 2x
    targets = http_bench.evaluate(results, [{"pid": 1, "rss_mb": 120.0, "pss_mb": 60.0}])
    assert all(t["met"] for t in targets), [t for t in targets if not t["met"]]
    assert len(targets) == 4 + 2 * 4 + 3


@pytest.mark.parametrize(("change", "missed"), [
    ({"detail": _case(999)}, "detail req/s"),
    ({"search_rare": _case(450, p95=50)}, "search_rare p95 ms"),
    ({"search_htmx": _case(399, p95=40)}, "search_htmx req/s"),
    ({"deep_listing": _case(590)}, "deep page cost / page 1 (req/s ratio)"),
    ({"home": _case(1200, errors=1)}, "errors (all cases)"),
])
def test_each_kind_of_miss_is_reported(change, missed):
    results = {name: _case(1200) for name in http_bench.PAGES}
    results |= {name: _case(450, p95=40) for name in http_bench.SEARCHES}
    results["deep_listing"] = _case(700)
    results |= change
    met = _met(http_bench.evaluate(results, []))
    assert [name for name, ok in met.items() if not ok] == [missed]


def test_rss_over_the_limit_is_a_miss():
    met = _met(http_bench.evaluate({}, [{"pid": 1, "rss_mb": 251.0, "pss_mb": 90.0}]))
    assert met == {"errors (all cases)": True, "RSS per web worker MB (max)": False}


def test_cookies_follow_set_cookie_and_deletion():
    jar = http_servers.Cookies()
    jar.update_from({"set-cookie": ["session=abc.def; Secure; HttpOnly; Path=/", "remember_token=x; Path=/"]})
    assert jar.header() == {"Cookie": "session=abc.def; remember_token=x"}
    jar.update_from({"set-cookie": ["remember_token=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"]})
    assert jar.header() == {"Cookie": "session=abc.def"}


def test_misspelling_changes_the_word_by_one_typo():
    import random

    rng = random.Random(5)
    for word in ("garden", "river", "lantern"):
        typo = http_bench._misspell(word, rng)
        assert typo != word and typo[0] == word[0] and len(word) - 1 <= len(typo) <= len(word)


def test_without_a_config_file_the_command_names_sync_or_gthread_workers(tmp_path):
    cmd, env = http_servers.gunicorn_command("gunicorn", "wsgi:app", 8123, 3, 1, use_conf=False)
    assert cmd[:3] == ["gunicorn", "-c", "/dev/null"]  # never ./gunicorn.conf.py behind our back
    assert cmd[cmd.index("--workers") + 1] == "3" and cmd[cmd.index("--worker-class") + 1] == "sync"
    assert env == {}
    cmd, _ = http_servers.gunicorn_command("gunicorn", "wsgi:app", 8123, 2, 4, use_conf=False)
    assert cmd[cmd.index("--worker-class") + 1] == "gthread" and cmd[cmd.index("--threads") + 1] == "4"
