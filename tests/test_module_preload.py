"""Pages of ES modules preload every module they import, so the browser fetches them at once, not in waves."""

import re

import pytest

from peacewatch.templatetags.modules import imports_of, module_graph

PAGES = [("/", "officer", "js/live_map.js"), ("/analytics/", "analyst", "js/analytics.js")]


def test_import_lines_are_read_however_they_are_wrapped():
    text = 'import { a } from "./a.js";\nimport {\n  b,\n  c,\n} from "./b.js";\n// import x from "./no"\n'
    assert imports_of(text) == ["./a.js", "./b.js"]


def test_the_live_map_preloads_its_modules_and_theirs():
    graph = module_graph("js/live_map.js")
    assert {"js/live_socket.js", "js/live_layers.js", "js/live_card.js"} <= set(graph)
    assert "js/alert_sync.js" in graph  # imported by live_socket.js, not by live_map.js itself
    assert len(graph) == len(set(graph)) and "js/live_map.js" not in graph


@pytest.mark.parametrize(("url", "role", "entry"), PAGES)
def test_a_page_links_every_module_it_will_import_and_each_exists(client, request, url, role, entry, settings):
    client.force_login(request.getfixturevalue(role))
    html = client.get(url).content.decode()
    preloaded = re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', html)
    assert preloaded == list(module_graph(entry))
    for path in preloaded:
        assert (settings.BASE_DIR / "static" / path).is_file(), path
    assert f'<script type="module" src="/static/{entry}"></script>' in html
