"""The city's bounds and the map under the data: settings that fail loudly, and what pages get."""

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured

from peacewatch.city import DEMO_CITY_BOUNDS, Bounds, map_config, parse_bounds, parse_tile_url, tile_origin

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def test_the_demo_city_is_the_area_of_the_helsinki_extract():
    from django.conf import settings

    assert parse_bounds("CITY_BOUNDS", DEMO_CITY_BOUNDS) == Bounds(60.1641, 24.9351, 60.1792, 24.9535)
    assert Bounds(60.1641, 24.9351, 60.1792, 24.9535) == settings.CITY_BOUNDS
    assert settings.CITY_BOUNDS.as_leaflet() == [[60.1641, 24.9351], [60.1792, 24.9535]]


def test_bounds_are_south_west_north_east_with_spaces_allowed():
    assert parse_bounds("CITY_BOUNDS", " 48.815, 2.255 ,48.905,2.415") == Bounds(48.815, 2.255, 48.905, 2.415)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("60.1,24.9,60.2", "four numbers"),
        ("60.1,24.9,60.2,25.0,1", "four numbers"),
        ("60.1,east,60.2,25.0", "four numbers"),
        ("", "four numbers"),
        ("60.1,24.9,nan,25.0", "finite"),
        ("60.2,24.9,60.1,25.0", "south < north"),
        ("-91,24.9,60.1,25.0", "south < north"),
        ("60.1,25.0,60.2,24.9", "west < east"),
        ("60.1,-181,60.2,24.9", "west < east"),
    ],
)
def test_malformed_bounds_are_refused_with_the_settings_name(value, says):
    with pytest.raises(ImproperlyConfigured, match=says) as refused:
        parse_bounds("CITY_BOUNDS", value)
    assert "CITY_BOUNDS" in str(refused.value)


def test_a_tile_url_is_an_http_template_with_z_x_and_y():
    url = "https://tiles.force.example/osm/{z}/{x}/{y}.png"
    assert parse_tile_url("MAP_TILE_URL", url) == url
    assert parse_tile_url("MAP_TILE_URL", "  ") == ""
    for bad in ("ftp://tiles.example/{z}/{x}/{y}.png", "/tiles/{z}/{x}/{y}.png", "https://tiles.example/{z}/{x}.png"):
        with pytest.raises(ImproperlyConfigured, match="MAP_TILE_URL"):
            parse_tile_url("MAP_TILE_URL", bad)


def test_the_policy_allows_images_from_the_tile_servers_origin():
    assert tile_origin("https://tiles.force.example:8443/osm/{z}/{x}/{y}.png") == "https://tiles.force.example:8443"
    assert tile_origin("http://{s}.tiles.example/{z}/{x}/{y}.png") == "http://*.tiles.example"


def test_pages_get_the_offline_layers_unless_a_tile_server_is_set(settings):
    config = map_config()
    assert list(config) == ["base_map"]
    assert config["base_map"]["streets"] == "/static/basemap/streets.geojson"
    assert set(config["base_map"]) == {"parks", "water", "buildings", "streets"}
    settings.MAP_TILE_URL = "https://tiles.force.example/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = "© Force GIS"
    assert map_config() == {
        "tiles": {"url": "https://tiles.force.example/{z}/{x}/{y}.png", "attribution": "© Force GIS"}
    }


def settings_in_a_process(tmp_path, **env) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CITY_BOUNDS); print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={
            "PATH": os.environ["PATH"],
            "DEBUG": "true",
            "PEACEWATCH_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "peacewatch.settings",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_malformed_city_bounds_stops_the_process_at_start_up(tmp_path):
    result = settings_in_a_process(tmp_path, CITY_BOUNDS="60.1,24.9")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CITY_BOUNDS" in result.stderr


def test_a_tile_server_and_another_city_come_from_the_environment(tmp_path):
    result = settings_in_a_process(
        tmp_path, CITY_BOUNDS="48.815,2.255,48.905,2.415", MAP_TILE_URL="https://tiles.force.example/{z}/{x}/{y}.png"
    )
    assert result.returncode == 0, result.stderr
    bounds, img_src = result.stdout.splitlines()
    assert bounds == "Bounds(south=48.815, west=2.255, north=48.905, east=2.415)"
    assert "'https://tiles.force.example'" in img_src


def test_the_simulators_drones_fly_inside_the_city_bounds(settings):
    from ingest.simulator import Fleet

    settings.CITY_BOUNDS = Bounds(48.815, 2.255, 48.905, 2.415)
    fleet = Fleet(drones=20, seed=3)
    for _ in range(2000):
        location = fleet.next_report(NOW)["location"]
        assert settings.CITY_BOUNDS.contains(location["lat"], location["lon"])
    assert Fleet(drones=1).city == settings.CITY_BOUNDS


def test_by_default_the_simulators_drones_fly_over_the_demo_city():
    from django.conf import settings

    from ingest.simulator import Fleet

    fleet = Fleet(drones=20, seed=4)
    lats = set()
    for _ in range(2000):
        location = fleet.next_report(NOW)["location"]
        assert settings.CITY_BOUNDS.contains(location["lat"], location["lon"])
        lats.add(round(location["lat"], 3))
    assert len(lats) > 10  # they move about the whole city, not one corner


def test_a_query_without_an_area_gets_a_heat_map_grid_across_the_city(settings):
    from analytics.query import auto_precision

    def cells(precision: int) -> float:
        city = settings.CITY_BOUNDS
        width = 360 / 2**precision  # a map tile's width in degrees; its height is about width * cos(lat)
        return (city.east - city.west) / width * (city.north - city.south) / (width * 0.5)

    assert 12 <= cells(auto_precision(None, None)) <= 100  # the demo city: not a handful of cells
    settings.CITY_BOUNDS = Bounds(48.815, 2.255, 48.905, 2.415)
    assert 12 <= cells(auto_precision(None, None)) <= 400  # a city as big as Paris: coarser tiles
