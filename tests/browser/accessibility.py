"""axe-core's checks in a page the browser tests have open: the violations, as plain data.

axe runs inside the page. It is evaluated through the DevTools protocol, which
the page's Content-Security-Policy does not govern (an injected <script> would
be refused, rightly), so the page is checked exactly as officers get it.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 A and AA, and axe's best practices (landmarks, headings, skip links...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def violations(page, *, cssom: bool = True) -> list[dict]:
    """Every axe violation in ``page`` now: rule, impact, and the first few elements at fault.

    ``cssom=False`` keeps axe from rebuilding the page's stylesheets: for a stylesheet that
    ``@import``s another, it injects a <style> element, which the page's policy rightly refuses
    (and the browser reports). Only css-orientation-lock reads them; it is then left undecided.
    """
    assert AXE.exists(), f"{AXE} is missing: make test installs it (npm ci in tests/a11y)"
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        "([tags, cssom]) => axe.run(document, { runOnly: { type: 'tag', values: tags }, preload: cssom })",
        [TAGS, cssom],
    )
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [
                " ".join(node["target"]) if isinstance(node["target"], list) else node["target"]
                for node in violation["nodes"][:5]
            ],
        }
        for violation in result["violations"]
    ]
