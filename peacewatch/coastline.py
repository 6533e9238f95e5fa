"""Sea polygons inside a rectangle, from OpenStreetMap's coastline.

OpenStreetMap maps no sea: only ``natural=coastline`` ways, drawn with the land
on their left and the sea on their right. This builds the sea inside the city's
bounds the way osmcoastline does, in plain Python:

1. join the coastline ways end to end into chains (by node id, or by identical
   coordinates);
2. clip each chain to the rectangle: pieces that enter it at one boundary point
   and leave at another; closed rings wholly inside are islands;
3. trace: follow a piece from its entry to its exit, then the rectangle's edge
   clockwise (its inside on the right, as the sea is) to the next entry met, and
   so on back to the start; each cycle is one sea polygon, and each island is a
   hole in the one that holds it.

A chain that ends inside the rectangle without closing means the extract is
incomplete: where the sea lies is then unknown, and nothing is guessed.

Points are ``(lon, lat)``. A node the extract does not hold has no location
(``None``): an extract cut to a box keeps only the nodes inside it, so such a
node is taken to lie outside the rectangle, and the coastline to cross the edge
at the point nearest to its last known node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from peacewatch.city import Bounds

Point = tuple[float, float]
Node = tuple[int | None, Point | None]  # (OpenStreetMap node id, location or None)
Ring = list[Point]
Polygon = list[Ring]  # the outer ring, then the holes


class IncompleteCoastline(Exception):
    """A coastline chain ends inside the rectangle: the extract lacks the rest of it."""

    def __init__(self, point: Point):
        self.point = point
        super().__init__(f"a coastline ends inside the bounds at {point[1]:.6f},{point[0]:.6f}")


# --- 1. Chains ----------------------------------------------------------------------


def _same(a: Node, b: Node) -> bool:
    return (a[0] is not None and a[0] == b[0]) or (a[1] is not None and a[1] == b[1])


def _closed(chain: list[Node]) -> bool:
    return len(chain) >= 4 and _same(chain[0], chain[-1])


def join_ways(ways: Sequence[Sequence[Node]]) -> list[list[Node]]:
    """Ways joined head to tail into chains. Never reversed: a way's direction says where the sea is."""
    pending = [list(way) for way in ways if len(way) >= 2]
    chains = []
    while pending:
        chain = pending.pop()
        grown = True
        while grown and not _closed(chain):
            grown = False
            for i, other in enumerate(pending):
                if _same(chain[-1], other[0]):
                    chain += other[1:]
                elif _same(other[-1], chain[0]):
                    chain = other[:-1] + chain
                else:
                    continue
                pending.pop(i)
                grown = True
                break
        chains.append(chain)
    return chains


# --- 2. Clipping ----------------------------------------------------------------------


def _inside(point: Point | None, box: Bounds) -> bool:
    return point is not None and box.contains(point[1], point[0])


def _nearest_edge_point(point: Point, box: Bounds) -> Point:
    """The boundary point nearest to a point inside (distances in metres, not degrees)."""
    lon, lat = point
    kx = math.cos(math.radians(lat))
    candidates = [
        ((lon - box.west) * kx, (box.west, lat)),
        ((box.east - lon) * kx, (box.east, lat)),
        (lat - box.south, (lon, box.south)),
        (box.north - lat, (lon, box.north)),
    ]
    return min(candidates, key=lambda c: c[0])[1]


def _clip_segment(a: Point, b: Point, box: Bounds) -> tuple[float, float] | None:
    """The fractions (t0, t1) of segment a-b inside the box (Liang-Barsky), or None."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, a[0] - box.west), (dx, box.east - a[0]), (-dy, a[1] - box.south), (dy, box.north - a[1])):
        if p == 0:
            if q < 0:
                return None
        elif p < 0:
            t0 = max(t0, q / p)
        else:
            t1 = min(t1, q / p)
    return (t0, t1) if t0 <= t1 else None


def _at(a: Point, b: Point, t: float, box: Bounds) -> Point:
    """The point at fraction t of a-b, held on the box (rounding must not leave it a hair outside)."""
    lon = min(max(a[0] + (b[0] - a[0]) * t, box.west), box.east)
    lat = min(max(a[1] + (b[1] - a[1]) * t, box.south), box.north)
    return (lon, lat)


def _append(line: list[Point], point: Point) -> None:
    if not line or line[-1] != point:
        line.append(point)


def clip_chain(chain: Sequence[Node], box: Bounds) -> tuple[list[Ring], list[Ring]]:
    """A chain's pieces inside the box (each from an entry on the edge to an exit on it), and
    its ring if it is closed and wholly inside (an island). Raises IncompleteCoastline for an
    open chain that ends inside."""
    points = [location for _, location in chain]
    if _closed(list(chain)):
        if all(_inside(p, box) for p in points):
            return [], [list(points)]
        # Start the walk outside, so that every piece inside begins with its entry.
        start = next(i for i, p in enumerate(points[:-1]) if not _inside(p, box))
        points = points[start:-1] + points[:start] + [points[start]]
    else:
        for end in (points[0], points[-1]):
            if _inside(end, box):
                raise IncompleteCoastline(end)

    pieces: list[Ring] = []
    piece: list[Point] | None = None
    for a, b in pairwise(points):
        if piece is not None:  # a is inside
            if _inside(b, box):
                _append(piece, b)
                continue
            exit_point = _nearest_edge_point(a, box) if b is None else _at(a, b, _clip_segment(a, b, box)[1], box)
            _append(piece, exit_point)
            pieces.append(piece)
            piece = None
        elif _inside(b, box):
            entry = _nearest_edge_point(b, box) if a is None else _at(a, b, _clip_segment(a, b, box)[0], box)
            piece = [entry]
            _append(piece, b)
        elif a is not None and b is not None:
            span = _clip_segment(a, b, box)
            if span and span[0] < span[1]:  # passes through, not just touching a corner
                pieces.append([_at(a, b, span[0], box), _at(a, b, span[1], box)])
    return [p for p in pieces if len(p) >= 2], []


# --- 3. Tracing -----------------------------------------------------------------------


def _perimeter(box: Bounds) -> tuple[float, float, float]:
    width, height = box.east - box.west, box.north - box.south
    return width, height, 2 * (width + height)


def edge_position(point: Point, box: Bounds) -> float:
    """How far along the edge a boundary point lies, clockwise from the north-west corner."""
    lon, lat = point
    width, height, _ = _perimeter(box)
    distances = [abs(lat - box.north), abs(lon - box.east), abs(lat - box.south), abs(lon - box.west)]
    edge = distances.index(min(distances))
    return [
        lon - box.west,
        width + (box.north - lat),
        width + height + (box.east - lon),
        2 * width + height + (lat - box.south),
    ][edge]


def _corners(box: Bounds) -> list[tuple[float, Point]]:
    width, height, _ = _perimeter(box)
    return [
        (0.0, (box.west, box.north)),
        (width, (box.east, box.north)),
        (width + height, (box.east, box.south)),
        (2 * width + height, (box.west, box.south)),
    ]


def trace(pieces: Sequence[Ring], box: Bounds) -> list[Ring]:
    """The sea's outer rings: pieces (sea on their right) joined clockwise along the box's edge."""
    *_, perimeter = _perimeter(box)
    entries = [edge_position(piece[0], box) for piece in pieces]
    unused = set(range(len(pieces)))
    rings = []
    while unused:
        start = min(unused)
        unused.remove(start)
        ring = list(pieces[start])
        while True:
            exit_at = edge_position(ring[-1], box)
            candidates = [*unused, start]
            following = min(candidates, key=lambda i: ((entries[i] - exit_at) % perimeter, i))
            gap = (entries[following] - exit_at) % perimeter
            passed = sorted(((at - exit_at) % perimeter, corner) for at, corner in _corners(box))
            for distance, corner in passed:
                if 0 < distance < gap:
                    _append(ring, corner)
            if following == start:
                _append(ring, ring[0])
                break
            for point in pieces[following]:
                _append(ring, point)
            unused.remove(following)
        if len(ring) >= 4:
            rings.append(ring)
    return rings


# --- Polygons -------------------------------------------------------------------------


def signed_area(ring: Sequence[Point]) -> float:
    """Positive for a counter-clockwise ring (north up)."""
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in pairwise(ring)) / 2


def oriented(ring: Sequence[Point], counter_clockwise: bool) -> Ring:
    return list(ring) if (signed_area(ring) > 0) == counter_clockwise else list(reversed(ring))


def in_ring(point: Point, ring: Sequence[Point]) -> bool:
    """Whether a point lies inside a closed ring (even-odd ray casting)."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def in_polygon(point: Point, polygon: Polygon) -> bool:
    """Inside the outer ring and in none of its holes."""
    return in_ring(point, polygon[0]) and not any(in_ring(point, hole) for hole in polygon[1:])


def _sea_side_of_nearest_coastline(chains: Sequence[Sequence[Node]], box: Bounds) -> bool:
    """Whether the box's centre lies on the sea side (the right) of the nearest known coastline."""
    cx, cy = (box.west + box.east) / 2, (box.south + box.north) / 2
    kx = math.cos(math.radians(cy))
    best = None
    for chain in chains:
        for (_, a), (_, b) in pairwise(chain):
            if a is None or b is None:
                continue
            ax, ay, bx, by, px, py = a[0] * kx, a[1], b[0] * kx, b[1], cx * kx, cy
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            t = 0.0 if length2 == 0 else min(1.0, max(0.0, ((px - ax) * dx + (py - ay) * dy) / length2))
            distance = math.hypot(px - (ax + t * dx), py - (ay + t * dy))
            if best is None or distance < best[0]:
                best = (distance, dx * (py - ay) - dy * (px - ax))
    return best is not None and best[1] < 0


def sea_polygons(ways: Sequence[Sequence[Node]], box: Bounds) -> list[Polygon]:
    """The sea inside the box, as GeoJSON polygons (outer rings counter-clockwise, holes clockwise).
    Raises IncompleteCoastline when a chain ends inside the box."""
    chains = join_ways(ways)
    pieces: list[Ring] = []
    islands: list[Ring] = []
    for chain in chains:
        chain_pieces, chain_rings = clip_chain(chain, box)
        pieces += chain_pieces
        islands += chain_rings
    if pieces:
        outers = trace(pieces, box)
    elif islands or _sea_side_of_nearest_coastline(chains, box):
        west, south, east, north = box.west, box.south, box.east, box.north
        outers = [[(west, north), (east, north), (east, south), (west, south), (west, north)]]
    else:
        outers = []
    polygons: list[Polygon] = [[oriented(ring, counter_clockwise=True)] for ring in outers]
    for island in islands:
        for polygon in polygons:
            if in_ring(island[0], polygon[0]):
                polygon.append(oriented(island, counter_clockwise=False))
                break
    return polygons
