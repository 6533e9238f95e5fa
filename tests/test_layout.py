"""The code's shape holds: the streaming platform knows no domain, and the apps import one another one way only."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("alerts", "analytics", "ingest")
PLATFORM = "peacewatch.streams"


def imported_modules(path: Path) -> set[str]:
    """Every absolute import in a file, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def sources(package: str):
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def test_the_streaming_platform_imports_no_domain_app():
    offending = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sources(PLATFORM)
        for module in imported_modules(path)
        if module.split(".")[0] in APPS or module.startswith("peacewatch.consumers")
    }
    assert not offending, sorted(offending)


def test_the_apps_import_one_another_without_a_cycle():
    edges: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for app in APPS:
        for path in sources(app):
            for module in imported_modules(path):
                target = module.split(".")[0]
                if target in APPS and target != app:
                    edges[app].add(target)
                    where.setdefault((app, target), str(path.relative_to(ROOT)))

    def cycle_from(start: str, node: str, trail: list[str]) -> list[str] | None:
        for nxt in sorted(edges[node]):
            if nxt == start:
                return [*trail, nxt]
            if nxt not in trail:
                found = cycle_from(start, nxt, [*trail, nxt])
                if found:
                    return found
        return None

    for app in APPS:
        cycle = cycle_from(app, app, [app])
        assert cycle is None, " -> ".join(cycle) + " (first import: " + where[(cycle[0], cycle[1])] + ")"
