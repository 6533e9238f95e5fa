"""``{% module_script "js/live_map.js" %}``: a page's entry module, with every module it imports preloaded.

A browser finds a module's imports only once it has that module, so a page of modules that import
modules loads in waves, one round trip each. ``<link rel="modulepreload">`` for each of them lets it
fetch all at once. The list is read from the modules' own import lines, so it never goes stale.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path, PurePosixPath

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join

register = template.Library()

# Static imports of sibling modules, as the project writes them: import { a } from "./x.js";
IMPORT = re.compile(r"""^\s*import\s[^;]*?\sfrom\s+["'](\./[^"']+\.js)["']""", re.MULTILINE | re.DOTALL)


def imports_of(text: str) -> list[str]:
    return IMPORT.findall(text)


@functools.cache
def module_graph(entry: str) -> tuple[str, ...]:
    """Every module ``entry`` (a path under static/) imports, directly or not, in the order first met."""
    root = Path(settings.BASE_DIR) / "static"
    seen: list[str] = []
    todo = [entry]
    while todo:
        current = todo.pop(0)
        folder = PurePosixPath(current).parent
        for relative in imports_of((root / current).read_text(encoding="utf-8")):
            path = str(folder / PurePosixPath(relative).relative_to("."))
            if path != entry and path not in seen:
                seen.append(path)
                todo.append(path)
    return tuple(seen)


@register.simple_tag
def module_script(entry: str):
    graph = module_graph(entry) if not settings.DEBUG else module_graph.__wrapped__(entry)
    preloads = format_html_join("\n  ", '<link rel="modulepreload" href="{}">', ((static(p),) for p in graph))
    return format_html('{}\n  <script type="module" src="{}"></script>', preloads, static(entry))
