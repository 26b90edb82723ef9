"""A web worker must not load the report and upload libraries at start: matplotlib, numpy, Pillow and qrcode
were ~50 MB of every gunicorn worker's memory (issue 14) though only charts, uploads and 2FA setup use them.

Each check runs in a fresh interpreter: this test process has long since imported everything."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAZY = ("matplotlib", "numpy", "PIL", "qrcode")


def _loaded_after(code: str) -> list[str]:
    """Which of LAZY a fresh Python has imported after running `code` from the project root.

    The development config with a Redis URL, as a server runs (the testing config's fakeredis imports numpy);
    nothing connects at import or in create_app."""
    probe = code + f"\nimport json, sys\nprint(json.dumps([m for m in {LAZY!r} if m in sys.modules]))"
    env = {**os.environ, "FOLIO_DOTENV": "0", "FOLIO_CONFIG": "development", "DATABASE_URL": "sqlite://",
           "REDIS_URL": "redis://127.0.0.1:1/0"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_wsgi_app_starts_without_the_heavy_libraries():
    assert _loaded_after("import wsgi") == []


def test_a_chart_still_loads_matplotlib_when_drawn():
    """The other half: the lazy import really happens, and a chart is still drawn (SVG)."""
    code = ("from webapp import create_app\nfrom webapp.services.insight import charts\n"
            "app = create_app()\nwith app.app_context():\n"
            "    svg = charts.bar_chart(['a', 'b'], [3, 5], title='t')\nassert '<svg' in svg, svg[:200]")
    assert set(_loaded_after(code)) >= {"matplotlib", "numpy"}
