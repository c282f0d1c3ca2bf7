"""Accessibility checks in the browser tests: axe-core over what the page shows now.

axe-core is vendored for the tests only (``tests/e2e/vendor/axe.min.js``, pinned with its integrity by
``js-vendor/package-lock.json``, refreshed by ``scripts/vendor-js.sh``); nothing is fetched at test time
and the bot never serves it.

The pages run under a strict Content-Security-Policy (``script-src 'self'``), which blocks the inline
``<script>`` that Playwright's ``add_script_tag(path=...)`` inserts. ``page.evaluate`` goes through the
DevTools protocol instead, which a page's CSP does not govern, so axe is injected that way: the page
under test keeps its real policy (no ``bypass_csp``), and what axe sees is what a customer gets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA: the rules axe tags with these (2.2 adds target-size)
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING = {"serious", "critical"}


def axe_violations(page: Any, include: str | None = None) -> list[dict]:
    """axe's WCAG A/AA violations on the page as it is now (or only inside ``include``, a CSS selector)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate(
        """async ([include, tags]) => {
            const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
            const result = await window.axe.run(include ? { include: [include] } : document, options);
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({ target: n.target.join(" "), html: n.html })) }));
        }""",
        [include, TAGS])


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} node(s)] {v['helpUrl']}")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}: {node['html'][:160]}")
    return "\n".join(lines)


def assert_accessible(page: Any, context: str, include: str | None = None) -> None:
    """Fail on any serious or critical WCAG 2 A/AA violation, naming each rule and its nodes."""
    bad = [v for v in axe_violations(page, include) if v["impact"] in FAILING]
    assert not bad, f"accessibility ({context}): {len(bad)} serious/critical axe rule(s) fail:\n{describe(bad)}"
