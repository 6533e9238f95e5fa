"""Analysts' queries as the pages send them, over a loaded day, with and without an indexer writing (issue 16).

    python bench/analytics_query.py [--reports 5000000] [--queries 120] [--repeat 3] [--load-only] [--size-only]
                                    [--part-repeat 9]
                                    [--engines embedded|real] [--write-rate 3900]

Data: ``--reports`` reports of ``Fleet.first_wave(drones=3500)`` (102,400 people with subject ids, names
that repeat, a 5,000-word Zipf vocabulary) spread evenly over one fixed UTC day, written through the
store's own ``index`` in batches of 5,000. The embedded store is built once under ``var/bench/``
(``analytics-wave-*.sqlite3``) and reused; each run copies it and works on the copy, since the writer
adds to it. ``--engines real`` loads the OpenSearch node of ``make engines`` with the OpenSearch store's
own writer, under an index prefix of the run's own, dropped at the end (default 1,000,000 reports:
a few minutes at the node's indexing rate).

Queries: the request bodies of static/js/analytics.js (the form's defaults: all six aggregations,
top 10, 50 hits, newest first, ``after: null``), of its next page (the first page's range and
``as_of`` frozen, ``aggs: []``, ``after`` its cursor) and of analytics_citizen.js (``last: 30d``, the
citizen by key or by name, oldest first, 50 hits, ``aggs: []``). ``--queries`` of them are drawn per
run from a seeded generator, the same sequence every run: the dashboard, the other time ranges the
form offers, a word (any of one, any of two, all of two), a citizen's name (exact or prefix), one to
three drones, a box or a circle, a peacescore range, alerts only, the citizen timeline, and the next
page of whatever ran before. Each is timed as the API runs it: ``parse_query`` then
``analytics.search.search`` (threshold and stop words from the database, the store from settings);
the API's audit row and JSON encoding are not included.

Clock: "now" is the end of the loaded day plus the seconds since the run started, for the queries and
for the writer, whose reports are therefore the newest ones, inside "last 24 h".

Phases, in one run, on the same store: ``--repeat`` passes of the mix with nothing else running; the
dashboard's request taken apart (``analytics_dashboard_part_ms``: the whole, its hits and total alone,
each aggregation alone), each part sent ``--part-repeat`` times in turn, still with nothing writing (with
``--queries 0 --parts-while-writing``, taken apart again while the writer below runs, and with
``--eager-ordinals`` on OpenSearch, each repetition twice, the keyword fields' global ordinals built at search,
OpenSearch's default, then at refresh (``eager_global_ordinals``, set on the run's indices); with
``--concurrent-search``, on OpenSearch: each repetition twice, the node's concurrent segment search off then on,
``concurrent_segment_search`` labelling the figures); then
``--repeat`` passes while a writer process feeds the indexer's own ``process_batch`` at
``--write-rate`` reports/s (the first wave's rate), one batch per consumer poll (200 ms, at most
2,000 records, as ``run_consumer indexer`` takes them); the rate it achieved during each pass is
reported beside the figures.

Size: after the load, the store's bytes on disk per report against the reports' own JSON
(``analytics_store_bytes_vs_json``): OpenSearch's primary shards after a refresh, once no merge has run
for 10 s, or the embedded file
(one this version built: older builds did not count their JSON). With ``--size-only`` (OpenSearch): that
reading, then the same primaries force-merged to one segment per index (what an operator's policy can do to a
day once its reports stop arriving; nothing merges a day that far by itself), and no queries.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    EMBEDDED_STORE,
    ROOT,
    bench_env,
    django_setup,
    emit,
    machine,
    median,
    progress,
    search_label,
    set_labels,
)

DAY_START = datetime(2026, 11, 27, tzinfo=UTC)  # a fixed day: the same store file for every run
DAY = timedelta(hours=24)
BATCH = 5000  # the indexer's batch size (docs/BENCHMARKS.md, issue 2)
DATA_DIR = ROOT / "var" / "bench"

# The query form's defaults (templates/analytics/analytics.html): every aggregation box checked, in the
# form's order, as analytics_fields.js reads them; top 10, 50 hits, newest first, stop words skipped.
AGGS = ["histogram", "grid", "top_citizens", "top_drones", "top_words", "score"]
FORM = {"aggs": AGGS, "top": 10, "size": 50, "sort": "newest"}
RANGES = ["15m", "1h", "24h", "7d", "30d"]  # the form's "Last ..." choices
FIRST_WAVE_RATE = 3900  # reports/s: 3,500 drones (issue 16)
POLL_S = 0.2  # CONSUMER_POLL_TIMEOUT_MS: what the indexer takes at once at a steady rate
MAX_BATCH = 2000  # CONSUMER_MAX_BATCH
# (kind, weight): a page load sends the dashboard, so it is drawn most; paging and timelines follow.
KINDS = [
    ("dashboard", 4),
    ("next_page", 3),
    ("citizen_timeline", 3),
    ("time_range", 2),
    ("word", 2),
    ("citizen_name", 1),
    ("drones", 1),
    ("area_box", 1),
    ("area_circle", 1),
    ("score", 1),
    ("alerts_only", 1),
    ("combined", 1),
]
TARGETS = {"dashboard": 1000, "citizen_timeline": 1000}  # ms, p95 (issue 4)


# --------------------------------------------------------------------------------------- the data
def store_path(data_dir: Path, reports: int, drones: int, seed: int, *, wave: bool = False) -> Path:
    from analytics.store.embedded import SCHEMA_VERSION

    kind = "analytics-wave" if wave else "analytics"
    return data_dir / f"{kind}-{reports}-d{drones}-s{seed}-v{SCHEMA_VERSION}.sqlite3"


def _meta_path(path: Path) -> Path:
    return path.with_suffix(".json")


def make_fleet(drones: int, seed: int, *, wave: bool):
    from ingest.simulator import Fleet

    return Fleet.first_wave(drones=drones, seed=seed) if wave else Fleet(drones=drones, seed=seed)


def decoded_batches(fleet, reports: int, skip: int = 0):
    """The fleet's ``reports`` over the loaded day, decoded as the indexer decodes them, in batches."""
    from ingest.reports import Received, decode_report

    batch = []
    # Every report is generated (the fleet is deterministic only in order); the ones an interrupted
    # run stored are skipped before decoding.
    for i, (_key, value) in enumerate(fleet.backfill(reports, DAY_START, DAY)):
        if i < skip:
            continue
        item = decode_report(value)
        if not isinstance(item, Received):
            raise RuntimeError(f"the simulator produced an invalid report: {item}")
        batch.append(item)
        if len(batch) >= BATCH:
            yield i + 1, batch
            batch = []
    if batch:
        yield reports, batch


def fill(store, fleet, reports: int, done: int) -> tuple[float, int]:
    """Index the fleet's reports into ``store`` from ``done`` on; returns seconds and the JSON bytes indexed."""
    started = last = time.perf_counter()
    json_bytes = 0
    for i, batch in decoded_batches(fleet, reports, done):
        store.index(batch)
        json_bytes += sum(len(item.raw) for item in batch)
        now = time.perf_counter()
        if now - last >= 15:
            last = now
            rate = (i - done) / (now - started)
            progress(f"loaded {i:,}/{reports:,}: {rate:,.0f} reports/s, ETA {(reports - i) / rate / 60:.1f} min")
    return time.perf_counter() - started, json_bytes


def load(data_dir: Path, reports: int, drones: int, seed: int, *, wave: bool = False) -> Path:
    """The store file for these parameters, built if missing; an interrupted build resumes.

    ``wave=False`` is the older, smaller city (``Fleet(drones)``) that export_rows.py still reads.
    """
    from analytics.store.embedded import EmbeddedStore

    path = store_path(data_dir, reports, drones, seed, wave=wave)
    if _meta_path(path).exists():
        return path
    partial = path.with_name(path.name + ".partial")
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        # One loader per file: a second one waits here, then finds the file built.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _meta_path(path).exists():
            return path
        store = EmbeddedStore(partial)
        done = store.count()
        progress(f"loading {reports:,} reports into {partial} ({done:,} already there)")
        seconds, json_bytes = fill(store, make_fleet(drones, seed, wave=wave), reports, done)
        stored = store.count()
        if stored != reports:
            raise RuntimeError(f"the store holds {stored:,} reports, expected {reports:,}")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        partial.rename(path)
        meta = {
            "reports": reports,
            "drones": drones,
            "seed": seed,
            "first_wave": wave,
            "day_start": DAY_START.isoformat(),
            "load_seconds": round(seconds, 1),
            "load_rate": round((reports - done) / seconds) if seconds else None,
            "resumed_from": done,
            "bytes": path.stat().st_size,
            # The reports' own JSON, for the bytes-per-report figure (of a build not resumed: a resumed one
            # counts only what it indexed itself).
            "json_bytes": json_bytes if not done else None,
        }
        _meta_path(path).write_text(json.dumps(meta, indent=1) + "\n")
        progress(f"loaded {reports:,} reports in {seconds / 60:.1f} min ({meta['load_rate']:,} reports/s)")
        return path


def copy_store(path: Path) -> Path:
    """A copy of the built store for this run (the writer adds to it; the built file stays as built)."""
    copy = path.with_name(f"{path.stem}.run-{os.getpid()}.sqlite3")
    started = time.perf_counter()
    shutil.copyfile(path, copy)
    progress(f"copied the store ({path.stat().st_size / 2**30:.2f} GiB) in {time.perf_counter() - started:.0f} s")
    return copy


def remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# --------------------------------------------------------------------------------------- the clock
class Clock:
    """The benchmark's "now": the end of the loaded day, moving with the wall clock from ``wall``."""

    def __init__(self, wall: float) -> None:
        self.wall = wall

    def now(self) -> datetime:
        return DAY_START + DAY + timedelta(seconds=time.time() - self.wall)


# ------------------------------------------------------------------------------------- the queries
def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p95 of 30 values is the 29th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def district_box(row: int, col: int) -> dict:
    """One of the simulator's 8 x 8 districts, as the area tool would draw it."""
    from ingest.simulator import CITY, GRID

    south, west, north, east = CITY
    dlat, dlon = (north - south) / GRID, (east - west) / GRID
    return {
        "south": round(south + row * dlat, 6),
        "west": round(west + col * dlon, 6),
        "north": round(south + (row + 1) * dlat, 6),
        "east": round(west + (col + 1) * dlon, 6),
    }


def form_query(time_range: str = "24h", **filters) -> dict:
    """The body analytics.js sends for a form with these filters and every other field at its default."""
    return {"time": {"last": time_range}, **filters, **FORM, "after": None}


def citizen_page(citizen: dict) -> dict:
    """The first body analytics_citizen.js sends (``last`` defaults to 30d)."""
    return {"time": {"last": "30d"}, "citizen": citizen, "sort": "oldest", "size": 50, "aggs": [], "after": None}


def next_page(body: dict, answer: dict) -> dict | None:
    """The body both pages send for the next page of ``answer``; None when it has none."""
    if not answer.get("next"):
        return None
    frozen = {**body, "time": {"from": answer["query"]["from"], "to": answer["query"]["to"]}}
    if answer.get("as_of"):
        frozen["arrived_before"] = answer["as_of"]
    return {**frozen, "aggs": [], "after": answer["next"]}


class Draws:
    """Seeded parameters from the city the data came from (the same for both engines)."""

    def __init__(self, fleet, seed: int) -> None:
        from analytics.stop_words import BUILT_IN
        from analytics.tokens import word_token

        self.rng = random.Random(seed)
        people = [person for district in fleet.districts for person in district]
        self.people = people
        # Words an analyst would type: not stop words, from the common to the rare (Zipf ranks 1-2,000).
        self.words = [w for w in fleet.words[:2000] if word_token(w) not in BUILT_IN]
        self.drones = [d.drone_id for d in fleet.fleet]

    def word(self) -> str:
        # Rank drawn log-uniformly: as many rare words as common ones.
        return self.words[min(len(self.words) - 1, int(len(self.words) ** self.rng.random()) - 1)]

    def person(self):
        return self.rng.choice(self.people)

    def box(self) -> dict:
        rng = self.rng
        if rng.random() < 0.5:
            return district_box(rng.randrange(8), rng.randrange(8))
        from ingest.simulator import CITY

        south, west, north, east = CITY
        # A box drawn on the map: a quarter to a twentieth of the city's side.
        height, width = (north - south) * rng.uniform(0.05, 0.25), (east - west) * rng.uniform(0.05, 0.25)
        s, w = rng.uniform(south, north - height), rng.uniform(west, east - width)
        return {"south": round(s, 6), "west": round(w, 6), "north": round(s + height, 6), "east": round(w + width, 6)}

    def circle(self) -> dict:
        from ingest.simulator import CITY

        south, west, north, east = CITY
        rng = self.rng
        return {
            "lat": round(rng.uniform(south, north), 6),
            "lon": round(rng.uniform(west, east), 6),
            # The city is about 1.7 by 1 km and a district about 210 by 130 m: a block to a quarter.
            "radius_m": rng.choice([50, 100, 200, 400]),
        }

    def query(self, kind: str) -> dict:
        rng = self.rng
        if kind == "dashboard":
            return form_query()
        if kind == "time_range":
            return form_query(rng.choice([r for r in RANGES if r != "24h"]))
        if kind == "word":
            shape = rng.randrange(3)
            if shape == 0:
                return form_query(words={"any": [self.word()]})
            key = "any" if shape == 1 else "all"
            return form_query(words={key: [self.word(), self.word()]})
        if kind == "citizen_name":
            name = self.person().name
            if rng.random() < 0.7:
                return form_query(citizen={"name": name, "match": "exact"})
            return form_query(citizen={"name": name.split()[0][:4], "match": "prefix"})
        if kind == "drones":
            return form_query(drones=sorted(rng.sample(self.drones, rng.randint(1, 3))))
        if kind == "area_box":
            return form_query(area={"box": self.box()})
        if kind == "area_circle":
            return form_query(area={"circle": self.circle()})
        if kind == "score":
            low = rng.choice([None, 10, 20, 30])
            score = {"max": rng.choice([20, 30, 40])} if low is None else {"min": low, "max": low + 20}
            return form_query(score=score)
        if kind == "alerts_only":
            return form_query(rng.choice(["1h", "24h"]), alerts_only=True)
        if kind == "citizen_timeline":
            person = self.person()
            # From a top list the page has the person's key; typed in, the name.
            if rng.random() < 0.7:
                return citizen_page({"key": person.subject_id})
            return citizen_page({"name": person.name, "match": "exact"})
        if kind == "combined":
            return form_query(rng.choice(RANGES), words={"any": [self.word()]}, area={"box": self.box()})
        raise ValueError(kind)

    def sequence(self, count: int) -> list[tuple[str, dict | None]]:
        """``count`` (kind, body) pairs; a next page's body is made from the answer before it."""
        names, weights = zip(*KINDS, strict=True)
        out: list[tuple[str, dict | None]] = []
        while len(out) < count:
            kind = self.rng.choices(names, weights)[0]
            if kind == "next_page" and (not out or out[-1][0] == "next_page"):
                continue  # page 2 follows a first page (page 3 would be a third kind)
            out.append((kind, None if kind == "next_page" else self.query(kind)))
        return out


def ask(body: dict, clock: Clock) -> tuple[dict, float]:
    """A page's request body as the API runs it, and the milliseconds it took."""
    from analytics import search
    from analytics.query import parse_query

    started = time.perf_counter()
    answer = search.search(parse_query(body), now=clock.now())
    return answer, (time.perf_counter() - started) * 1000


def run_mix(sequence, clock: Clock) -> dict[str, list[float]]:
    """Each query as the API runs it; milliseconds by kind (``all`` for every one)."""
    by_kind: dict[str, list[float]] = {"all": []}
    matched: dict[str, list[int]] = {}
    previous = None  # (body, answer) of the last first page
    for kind, body in sequence:
        if kind == "next_page":
            body = next_page(*previous) if previous else None
            if body is None:
                continue  # that answer had one page
        answer, ms = ask(body, clock)
        by_kind.setdefault(kind, []).append(ms)
        by_kind["all"].append(ms)
        matched.setdefault(kind, []).append(answer["total"])
        if kind != "next_page":
            previous = (body, answer)
    by_kind["_matched"] = {k: median(v) for k, v in matched.items()}  # type: ignore[assignment]
    return by_kind


def dashboard_parts(clock: Clock, repeat: int) -> dict[str, list[float]]:
    """The dashboard's request taken apart, milliseconds by part: the whole, its hits and total alone, and each
    aggregation alone (with the total, no hits), sent in turn ``repeat`` times, so the parts' costs compare.

    "Last 24 h" here ends seconds after the loaded day does, so its edges fall next to whole hours and days:
    the easy case for stores that keep counts per time bucket. ``whole_12h_any_minute`` is the same request
    over 12 hours of the loaded day (a custom range of the form) starting at a different minute each time,
    edges anywhere in their buckets, as an analyst's ranges and "last 24 h" later in a day fall."""
    dashboard = form_query()
    parts = {"whole": dashboard, "hits": {**dashboard, "aggs": []}}
    parts.update({agg: {**dashboard, "aggs": [agg], "size": 0} for agg in AGGS})
    timings: dict[str, list[float]] = {name: [] for name in [*parts, ANY_MINUTE]}
    for i in range(repeat):
        for name, body in parts.items():
            timings[name].append(ask(body, clock)[1])
        timings[ANY_MINUTE].append(ask(any_minute_window(dashboard, i), clock)[1])
    return timings


ANY_MINUTE = "whole_12h_any_minute"


def any_minute_window(dashboard: dict, i: int) -> dict:
    """The ``i``-th 12-hour range inside the loaded day: starts 97 minutes apart (mod 12 h), off the hour."""
    start = DAY_START + timedelta(minutes=(13 + 97 * i) % 720)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    return {**dashboard, "time": {"from": start.strftime(iso), "to": (start + timedelta(hours=12)).strftime(iso)}}


CONCURRENT_SEARCH = "search.concurrent_segment_search.mode"  # OpenSearch 2.17+; "none" is 2.x's default


def parts_by_search_mode(clock: Clock, repeat: int, client) -> dict[str, dict[str, list[float]]]:
    """The dashboard taken apart with OpenSearch's concurrent segment search off ("none") and on ("auto"):
    the node's own setting, switched repetition by repetition so that both meet the same machine, and
    given back to the node's configuration at the end."""
    out: dict[str, dict[str, list[float]]] = {"none": {}, "auto": {}}
    try:
        for _ in range(repeat):
            for mode, timings in out.items():
                client.cluster.put_settings(transient={CONCURRENT_SEARCH: mode})
                for part, ms in dashboard_parts(clock, 1).items():
                    timings.setdefault(part, []).extend(ms)
    finally:
        client.cluster.put_settings(transient={CONCURRENT_SEARCH: None})
    return out


def emit_parts(args, clock: Clock, stored: int) -> None:
    if not args.concurrent_search:
        emit_dashboard_parts(dashboard_parts(clock, args.part_repeat), stored)
        return
    from analytics.store import get_store

    for mode, timings in parts_by_search_mode(clock, args.part_repeat, get_store().client).items():
        progress(f"concurrent segment search {mode}:")
        emit_dashboard_parts(timings, stored, concurrent_segment_search=mode)


def emit_parts_while_writing(args, clock: Clock, env: dict, store: Path | None, stored: int) -> None:
    """The dashboard taken apart again while the writer feeds the indexer: which parts the writing slows."""
    writer = Writer(args, clock, env, store)
    try:
        before = writer.sample()
        if args.eager_ordinals:
            from analytics.store import get_store

            by_mode = parts_by_eager_ordinals(clock, args.part_repeat, get_store())
        else:
            by_mode = {None: dashboard_parts(clock, args.part_repeat)}
        after = writer.sample()
    finally:
        writer.stop()
    rate = round((after["written"] - before["written"]) / (after["at"] - before["at"]))
    progress(f"writer at {rate:,}/s ({args.write_rate:,} asked) while the parts ran")
    for mode, timings in by_mode.items():
        labels = {} if mode is None else {"eager_global_ordinals": mode}
        emit_dashboard_parts(timings, stored, writer=f"{args.write_rate}/s asked", writer_rate=rate, **labels)


# The keyword fields the dashboard's terms aggregations read: their global ordinals are rebuilt after each
# refresh, on the first search unless eager.
ORDINAL_FIELDS = {"drone_id": None, "tokens": None, "citizens": ("key", "name")}


def eager_mapping(eager: bool) -> dict:
    """:data:`ORDINAL_FIELDS` as the store's own index template maps them, with ``eager_global_ordinals``."""
    from analytics.store.elastic.writer import index_template

    mapped = index_template("any", shards=1, replicas=0)["template"]["mappings"]["properties"]
    out = {}
    for name, inner in ORDINAL_FIELDS.items():
        if inner is None:
            out[name] = {**mapped[name], "eager_global_ordinals": eager}
        else:
            nested = mapped[name]["properties"]
            props = {field: {**nested[field], "eager_global_ordinals": eager} for field in inner}
            out[name] = {"type": mapped[name]["type"], "properties": props}
    return out


def parts_by_eager_ordinals(clock: Clock, repeat: int, store) -> dict[bool, dict[str, list[float]]]:
    """The dashboard taken apart with the keyword fields' global ordinals built at search time (OpenSearch's
    default) and at refresh (``eager_global_ordinals``), switched repetition by repetition on the run's
    indices, both on the same machine and writer; left off at the end, as the index template has it."""
    out: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    try:
        for _ in range(repeat):
            for eager, timings in out.items():
                store.client.indices.put_mapping(index=store.pattern, body={"properties": eager_mapping(eager)})
                time.sleep(6)  # a refresh (5 s) under the new setting before the first request
                for part, ms in dashboard_parts(clock, 1).items():
                    timings.setdefault(part, []).extend(ms)
    finally:
        store.client.indices.put_mapping(index=store.pattern, body={"properties": eager_mapping(False)})
    return out


# -------------------------------------------------------------------------------------- the writer
def writer_child(args) -> int:
    """The writer process: new reports of "now" through the indexer's ``process_batch``, paced."""
    from analytics.consumer import process_batch
    from peacewatch.streams.batch import Record

    if args.store:
        from analytics.store.embedded import EmbeddedStore

        store = EmbeddedStore(args.store)
    else:
        from analytics.store import get_store

        store = get_store()
    fleet = make_fleet(args.drones, args.seed, wave=True)
    fleet.rng.seed(args.seed + 1_000_003)  # the same city and drones, new reports (new ids)
    clock = Clock(args.clock_wall)
    status = Path(args.status)
    written, started, tick = 0, time.monotonic(), 0
    while True:
        tick += 1
        due = int(args.write_rate * (time.monotonic() - started)) - written
        take = min(max(due, 0), MAX_BATCH)
        if take:
            now = clock.now()
            stamp = int(now.timestamp() * 1000)
            records = []
            for offset in range(written, written + take):
                key, value = fleet.encoded(now)
                records.append(Record(value=value, key=key, offset=offset, timestamp=stamp))
            outcome = process_batch(records, store)
            written += outcome.counts["stored"]
            if outcome.dead_letters:
                raise RuntimeError(f"the indexer refused {len(outcome.dead_letters)} new reports")
        scratch = status.with_suffix(".tmp")
        scratch.write_text(json.dumps({"written": written, "at": time.monotonic(), "batches": tick}))
        scratch.rename(status)
        # Sleep to the next poll unless behind.
        time.sleep(max(0.0, started + tick * POLL_S - time.monotonic()))


class Writer:
    """The writer child process, started and stopped by pid; ``sample()`` reads what it has written."""

    def __init__(self, args, clock: Clock, env: dict, store: Path | None) -> None:
        self.status = Path(tempfile.mkdtemp(prefix="pw-writer-")) / "status.json"
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--writer-child",
            "--status",
            str(self.status),
            "--write-rate",
            str(args.write_rate),
            "--clock-wall",
            repr(clock.wall),
            "--drones",
            str(args.drones),
            "--seed",
            str(args.seed),
        ]
        if store is not None:
            argv += ["--store", str(store)]
        self.process = subprocess.Popen(argv, cwd=Path(__file__).resolve().parent, env=env)
        deadline = time.monotonic() + 120
        while self.sample()["written"] == 0:  # started, and its first batch stored
            if self.process.poll() is not None:
                raise RuntimeError(f"the writer exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the writer stored nothing in 120 s")
            time.sleep(0.1)

    def sample(self) -> dict:
        try:
            return json.loads(self.status.read_text())
        except (OSError, ValueError):
            return {"written": 0, "at": time.monotonic()}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.status.parent, ignore_errors=True)


# ------------------------------------------------------------------------------------- the figures
def summarise(runs: list[dict[str, list[float]]]) -> dict[str, dict]:
    """Per kind: p50/p95/p99 of each run, the median of the runs, and the queries per run."""
    kinds = [k for k in runs[0] if not k.startswith("_")]
    out = {}
    for kind in kinds:
        per_run = [run.get(kind, []) for run in runs]
        stats = {p: [round(percentile(ms, p), 1) for ms in per_run if ms] for p in (50, 95, 99)}
        out[kind] = {
            "p50_ms": median(stats[50]),
            "p95_ms": median(stats[95]),
            "p99_ms": median(stats[99]),
            "p95_runs": stats[95],
            "queries": [len(ms) for ms in per_run],
            "matched_median": runs[0]["_matched"].get(kind) if kind != "all" else None,
        }
    return out


def measure(args, clock: Clock, env: dict, store: Path | None) -> int:
    from analytics.store import get_store

    stored = get_store().count()
    if not args.queries:
        progress(f"{stored:,} reports stored; the dashboard taken apart only (--queries 0)")
        emit_parts(args, clock, stored)
        if args.parts_while_writing:
            emit_parts_while_writing(args, clock, env, store, stored)
        return 0
    fleet = make_fleet(args.drones, args.seed, wave=True)
    sequence = Draws(fleet, args.seed).sequence(args.queries)
    progress(f"{stored:,} reports stored; {len(sequence)} queries per pass, the same sequence every pass")
    idle, busy, rates = [], [], []
    for i in range(args.repeat):
        idle.append(run_mix(sequence, clock))
        progress(f"no writer, pass {i + 1}: p95 {percentile(idle[-1]['all'], 95):,.0f} ms")
    if args.part_repeat:
        emit_parts(args, clock, stored)
    writer = Writer(args, clock, env, store)
    try:
        for i in range(args.repeat):
            before = writer.sample()
            busy.append(run_mix(sequence, clock))
            after = writer.sample()
            rates.append(round((after["written"] - before["written"]) / (after["at"] - before["at"])))
            progress(
                f"writer at {rates[-1]:,}/s ({args.write_rate:,} asked), pass {i + 1}: "
                f"p95 {percentile(busy[-1]['all'], 95):,.0f} ms"
            )
    finally:
        writer.stop()
    results = {"none": summarise(idle), "indexer": summarise(busy)}
    for kind in results["none"]:
        for phase, summary in results.items():
            s = summary.get(kind)
            if s is None:
                continue
            target = TARGETS.get(kind)
            emit(
                f"analytics_{kind}_p95",
                s["p95_ms"],
                "ms",
                writer=f"{args.write_rate}/s asked" if phase == "indexer" else "none",
                writer_rate=rates if phase == "indexer" else None,
                p50=s["p50_ms"],
                p99=s["p99_ms"],
                runs=s["p95_runs"],
                queries=s["queries"],
                matched=s["matched_median"],
                reports=stored,
                target=f"<= {target} ms" if target else None,
                met=s["p95_ms"] <= target if target else None,
            )
    summary = {
        "reports": stored,
        "drones": args.drones,
        "seed": args.seed,
        "engines": args.engines,
        "queries_per_pass": len(sequence),
        "repeat": args.repeat,
        "write_rate_asked": args.write_rate,
        "write_rate_achieved": rates,
        "first_query_ms": round(idle[0]["all"][0], 1),
        "machine": machine(),
        "load_average": os.getloadavg()[0],
        "p95_ms": {
            kind: [results["none"][kind]["p95_ms"], results["indexer"][kind]["p95_ms"]] for kind in results["none"]
        },
    }
    print(json.dumps(summary), flush=True)
    cells = " | ".join(
        f"{kind}: {results['none'][kind]['p95_ms']:,.0f} / {results['indexer'][kind]['p95_ms']:,.0f}"
        for kind in results["none"]
    )
    progress(f"p95 without / with the writer (ms): {cells}")  # stdout stays one JSON document per line
    return 0  # targets are reported, not enforced, as in the other benchmarks


PART_NOTES = {
    "whole": "the whole request",
    "hits": "its 50 hits and total alone",
    ANY_MINUTE: "the whole request over 12 h of the day starting at a different minute each time",
}


def emit_dashboard_parts(timings: dict[str, list[float]], reports: int, **labels) -> None:
    """Where the dashboard's time goes, with nothing writing: each part's median and worst."""
    for part, ms in timings.items():
        emit(
            "analytics_dashboard_part_ms",
            round(median(ms), 1),
            "ms",
            part=part,
            note=PART_NOTES.get(part, "this aggregation alone, with the total, no hits"),
            worst=round(max(ms), 1),
            runs=len(ms),
            reports=reports,
            **labels,
        )
    progress("dashboard parts, median ms: " + " | ".join(f"{k} {median(v):,.0f}" for k, v in timings.items()))


def settled_stats(client, pattern: str, quiet_s: float = 10, timeout_s: float = 600) -> tuple[dict, float]:
    """The primaries' stats once no merge has run for ``quiet_s`` (and the seconds waited for that).

    A merge keeps the segments it merges and the one it writes on disk at once, so a size read while
    merges run after a load can be larger than the index settles at.
    """

    def read() -> dict:
        return client.indices.stats(index=pattern, metric="store,segments,merge")["_all"]["primaries"]

    started = quiet_since = time.monotonic()
    stats = read()
    progress(f"right after the refresh: {stats['store']['size_in_bytes']:,} bytes on disk")
    while True:
        now = time.monotonic()
        if stats["merges"]["current"]:
            quiet_since = now
        elif now - quiet_since >= quiet_s or now - started >= timeout_s:
            return stats, round(now - started, 1)
        time.sleep(1)
        stats = read()


def emit_store_size(store_bytes: int, json_bytes: int, reports: int, **extra) -> None:
    """The analytics store's bytes on disk per report, against the reports' JSON (the cost plan's index tier)."""
    emit(
        "analytics_store_bytes_vs_json",
        round(store_bytes / json_bytes, 3),
        "ratio",
        store_bytes_per_report=round(store_bytes / reports, 1),
        json_bytes_per_report=round(json_bytes / reports, 1),
        reports=reports,
        **extra,
    )


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def embedded(args) -> int:
    set_labels(search=EMBEDDED_STORE)
    with tempfile.TemporaryDirectory(prefix="pw-analytics-query-") as scratch:
        os.environ["PEACEWATCH_VAR_DIR"] = scratch
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/db.sqlite3"
        os.environ.pop("ELASTICSEARCH_URL", None)
        django_setup()
        path = load(args.data_dir, args.reports, args.drones, args.seed, wave=True)
        meta = json.loads(_meta_path(path).read_text())
        if meta.get("json_bytes"):
            emit_store_size(meta["bytes"], meta["json_bytes"], args.reports, note="the SQLite file, WAL checkpointed")
        if args.load_only:
            return 0
        migrate()
        from django.conf import settings

        from analytics.store import reset_store

        copy = copy_store(path)
        try:
            settings.ANALYTICS_SQLITE_PATH = str(copy)
            reset_store()
            env = {**os.environ, "LOG_LEVEL": "WARNING"}
            return measure(args, Clock(time.time()), env, copy)
        finally:
            reset_store()
            remove_store(copy)


def real(args) -> int:
    with bench_env("real", search=True) as (_scratch, env):
        from django.conf import settings

        from analytics.store import get_store, reset_store

        set_labels(search=search_label(settings.ELASTICSEARCH_URL))
        migrate()
        reset_store()
        store = get_store()
        progress(f"loading {args.reports:,} reports into OpenSearch ({settings.ELASTICSEARCH_INDEX_PREFIX}*)")
        seconds, json_bytes = fill(store, make_fleet(args.drones, args.seed, wave=True), args.reports, 0)
        store.refresh_now()
        progress(f"loaded in {seconds / 60:.1f} min ({args.reports / seconds:,.0f} reports/s)")
        stats, waited = settled_stats(store.client, store.pattern)
        progress(
            f"merges settled after {waited:,.0f} s: {stats['store']['size_in_bytes'] / args.reports:,.0f} bytes/report"
        )
        emit_store_size(
            stats["store"]["size_in_bytes"],
            json_bytes,
            args.reports,
            note="primary shards after a refresh, once no merge ran for 10 s; not force-merged",
            segments=stats["segments"]["count"],
            waited_s=waited,
        )
        try:
            if args.size_only:
                emit_merged_size(store, json_bytes, args.reports)
                return 0
            return measure(args, Clock(time.time()), env, None)
        finally:
            reset_store()


def emit_merged_size(store, json_bytes: int, reports: int) -> None:
    """The bytes per report once every daily index is merged into one segment, as an operator's policy can
    merge a closed day: steadier from run to run than the segments a load happens to leave."""
    progress("force-merging to one segment per index")
    started = time.monotonic()
    client = store.client.options(request_timeout=3600)
    client.indices.forcemerge(index=store.pattern, max_num_segments=1)
    # The merged-away segments stay on disk, and counted, until a new reader lets them go.
    client.indices.refresh(index=store.pattern)
    client.indices.flush(index=store.pattern)
    stats = client.indices.stats(index=store.pattern, metric="store,segments")
    merged, indices = stats["_all"]["primaries"], len(stats["indices"])
    seconds = round(time.monotonic() - started, 1)
    if merged["segments"]["count"] != indices:
        progress(f"WARNING: {merged['segments']['count']} segments left for {indices} indices")
    progress(f"merged in {seconds:,.0f} s: {merged['store']['size_in_bytes'] / reports:,.0f} bytes/report")
    emit_store_size(
        merged["store"]["size_in_bytes"],
        json_bytes,
        reports,
        note="primary shards force-merged to one segment per index",
        segments=merged["segments"]["count"],
        merge_s=seconds,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", choices=("embedded", "real"), default="embedded")
    parser.add_argument("--reports", type=int, help="5,000,000 embedded, 1,000,000 on OpenSearch unless given")
    parser.add_argument("--drones", type=int, default=3500)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--queries", type=int, default=120, help="queries drawn per pass of the mix (0: only the dashboard taken apart)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="passes of the mix without, then with, the writer")
    parser.add_argument("--write-rate", type=int, default=FIRST_WAVE_RATE, help="reports/s the writer is asked")
    parser.add_argument(
        "--part-repeat", type=int, default=9, help="times each part of the dashboard is sent (0: not taken apart)"
    )
    parser.add_argument(
        "--concurrent-search",
        action="store_true",
        help="real engines: take the dashboard apart with OpenSearch's concurrent segment search off and on",
    )
    parser.add_argument(
        "--parts-while-writing",
        action="store_true",
        help="with --queries 0: take the dashboard apart again while the writer feeds the indexer",
    )
    parser.add_argument(
        "--eager-ordinals",
        action="store_true",
        help="real engines, with --parts-while-writing: global ordinals built at search, then at refresh",
    )
    parser.add_argument("--load-only", action="store_true", help="build the embedded store file and stop")
    parser.add_argument(
        "--size-only",
        action="store_true",
        help="real engines: load, read the bytes per report, again force-merged to one segment, and stop",
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where store files are built and reused")
    # The writer process (started by the benchmark itself).
    parser.add_argument("--writer-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--status", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--clock-wall", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer_child:
        django_setup()
        return writer_child(args)
    if not args.queries and not args.part_repeat:
        parser.error("--queries 0 with --part-repeat 0 leaves nothing to measure")
    if args.concurrent_search and (args.engines != "real" or not args.part_repeat):
        parser.error("--concurrent-search needs --engines real and the dashboard taken apart (--part-repeat)")
    if args.size_only and args.engines != "real":
        parser.error("--size-only needs --engines real (--load-only builds the embedded store and reads its size)")
    if args.reports is None:
        args.reports = 1_000_000 if args.engines == "real" else 5_000_000
    return real(args) if args.engines == "real" else embedded(args)


if __name__ == "__main__":
    sys.exit(main())
