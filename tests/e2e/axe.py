"""axe-core for the browser tests: one runner, one rule for what blocks, one readable report."""
from __future__ import annotations

import json

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

BLOCKING = {"serious", "critical"}
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

_axe = Axe()


def blocking_violations(page: Page) -> list[dict]:
    """The serious and critical axe violations on the page as it is now."""
    return [v for v in _axe.run(page).response["violations"] if v.get("impact") in BLOCKING]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            lines.append(f"    at {json.dumps(node['target'])}: {node['html'][:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"       {summary[:300]}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


def assert_accessible(page: Page, what: str) -> None:
    blocking = blocking_violations(page)
    assert not blocking, f"axe found serious/critical problems on {what} ({page.url}):\n{describe(blocking)}"


class AxeReport:
    """Audit several pages along a journey, then fail once listing every problem found."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def audit(self, page: Page, label: str) -> None:
        page.wait_for_load_state("load")
        blocking = blocking_violations(page)
        if blocking:
            self.problems.append(f"--- {label} ({page.url}):\n{describe(blocking)}")

    def check(self) -> None:
        assert not self.problems, "axe found serious/critical problems:\n" + "\n".join(self.problems)
