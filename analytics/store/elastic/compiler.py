"""Plans compiled to Elasticsearch/OpenSearch search bodies, and answers parsed back (pure)."""

from __future__ import annotations

from analytics.query import (
    PERCENTS,
    Plan,
    as_of,
    encode_cursor,
    grid_cells,
    histogram_buckets,
    hit,
    score_stats,
    top_buckets,
    top_citizen_buckets,
)
from analytics.store.elastic.writer import SEARCH_FIELDS

TERMS_SHARD_SIZE = 1000
# The name shown for a citizen key: the one it was seen under most, ties to the
# first in order (analytics.query.display_names, which the embedded engine uses).
DISPLAY_NAME = {"terms": {"field": "citizens.name", "size": 1, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
# Percentiles from an HDR histogram, not the default t-digest, which took about a third of the dashboard's time
# on OpenSearch (BENCHMARKS, History, "Where the dashboard's time went on OpenSearch"). With 3 significant
# digits HDR answers the highest value its bucket holds: never below the true one and less than 1/1024 of the
# value above it, so under 0.0625 for a peacescore (0 to 100). Taking half of that off and rounding to the tenth gives
# back the score exactly when scores carry one decimal, as drones send them, and to within a tenth
# otherwise: the embedded engine's own guarantee (analytics.query.percentiles_from_bins).
HDR_DIGITS = 3
HDR_HALF_STEP = 0.03125
# The cursor's order (analytics.query): time, then identity.
HIT_ORDER = ("observed_at", "report_id", "drone_id")
HIT_SOURCE = {"excludes": [*SEARCH_FIELDS, "stored_at"]}


def build_filters(p: Plan) -> list[dict]:
    filters: list[dict] = [{"range": {"observed_at": {"gte": p.start_ms, "lt": p.end_ms, "format": "epoch_millis"}}}]
    if p.drones:
        filters.append({"terms": {"drone_id": list(p.drones)}})
    nested: list[dict] = []
    if p.citizen is not None:
        # A name is compared folded (analytics.tokens.name_fold), a key as it is.
        field = "citizens.key" if p.citizen_field == "key" else "citizens.name_fold"
        nested.append({"prefix" if p.citizen_prefix else "term": {field: p.citizen}})
    scored = citizen_scores(p)
    if scored is not None:
        nested.append(scored)
    if nested:
        filters.append({"nested": {"path": "citizens", "query": {"bool": {"filter": nested}}}})
    if p.words_any:
        filters.append({"terms": {"tokens": list(p.words_any)}})
    filters.extend({"term": {"tokens": token}} for token in p.words_all)
    if p.box is not None:
        south, west, north, east = p.box
        filters.append(
            {
                "geo_bounding_box": {
                    "point": {"top_left": {"lat": north, "lon": west}, "bottom_right": {"lat": south, "lon": east}}
                }
            }
        )
    if p.circle is not None:
        lat, lon, radius = p.circle
        filters.append({"geo_distance": {"distance": f"{radius}m", "point": {"lat": lat, "lon": lon}}})
    if p.below is not None:
        filters.append({"range": {"min_score": {"lt": p.below}}})
    if p.clock_skew:
        filters.append({"term": {"clock_skew": True}})
    elif p.clock_skew is not None:
        # Not "term false": a document written before the flag existed has none, and was not flagged.
        filters.append({"bool": {"must_not": [{"term": {"clock_skew": True}}]}})
    if p.arrived_before_ms is not None:
        filters.append({"range": {"stored_at": {"lt": p.arrived_before_ms, "format": "epoch_millis"}}})
    return filters


def citizen_scores(p: Plan) -> dict | None:
    """The plan's peacescore range on one citizen, or None."""
    score: dict = {}
    if p.score_min is not None:
        score["gte"] = p.score_min
    if p.score_max is not None:
        score["lte"] = p.score_max
    return {"range": {"citizens.peacescore": score}} if score else None


def citizens_agg(p: Plan, inner: dict) -> dict:
    """Aggregations over the matched reports' citizens: with a peacescore range, only the citizens in it
    (the reports were kept for them; the others in those reports are not what was asked about)."""
    scored = citizen_scores(p)
    if scored is not None:
        inner = {"scored": {"filter": scored, "aggs": inner}}
    return {"nested": {"path": "citizens"}, "aggs": inner}


def citizens_path(p: Plan, name: str = "citizens") -> tuple[str, ...]:
    """Where the inner aggregations of the :func:`citizens_agg` named ``name`` are in the answer."""
    return (name, "scored") if p.scores_filtered else (name,)


def build_frontier_body() -> dict:
    """The latest arrival held (the highest ``stored_at``), read from the end of its index."""
    return {"size": 1, "track_total_hits": False, "_source": False, "sort": [{"stored_at": {"order": "desc"}}]}


def parse_frontier(body: dict) -> int | None:
    """Just after the latest arrival (epoch ms), or None when nothing is stored."""
    found = body["hits"]["hits"]
    return int(found[0]["sort"][0]) + 1 if found else None


def build_body(p: Plan, *, hdr: bool = True) -> dict:
    """The search body for ``p``; ``hdr=False`` asks for the engine's default percentiles (a t-digest), for an
    engine without HDR histograms (``ElasticStore.search``)."""
    order = "desc" if p.newest_first else "asc"
    body: dict = {
        "query": {"bool": {"filter": build_filters(p)}},
        "size": p.size + 1 if p.size else 0,
        "track_total_hits": p.count_total,
    }
    if p.size:
        # By time alone: the engine then skips reports that cannot make the page, where a keyword tiebreaker
        # made it compare every report newest first (BENCHMARKS, "The dashboard's hits"). The cursor's full
        # order, (observed_at, report_id, drone_id), is restored around the one instant the page may cut
        # (build_instant_body, page_hits). One report more than the page and its next-page probe: whether
        # the last of them shares its instant with reports left out.
        body["size"] = p.size + 2
        body["sort"] = [{"observed_at": {"order": order}}]
        body["_source"] = HIT_SOURCE
        if p.after is not None:
            # Strictly after the cursor's instant (a search_after value equal on every sort field is passed
            # over); the rest of that instant comes from build_instant_body(p, ts, after=...).
            body["search_after"] = [p.after[0]]
    aggs: dict = {}
    top_order = [{"_count": "desc"}, {"_key": "asc"}]
    # Each shard (one daily index at least) sends its own top list; a generous
    # shard_size keeps the merged top N exact unless a shard holds more
    # distinct values than that, as Elasticsearch's error bound would then say.
    shard_size = max(TERMS_SHARD_SIZE, p.top * 20)
    if "histogram" in p.aggs:
        aggs["histogram"] = {
            "date_histogram": {
                "field": "observed_at",
                "fixed_interval": f"{p.interval_ms // 1000}s",
                "min_doc_count": 1,
            }
        }
    if "top_drones" in p.aggs:
        aggs["top_drones"] = {
            "terms": {"field": "drone_id", "size": shard_size, "shard_size": shard_size, "order": top_order}
        }
    if "top_words" in p.aggs:
        # Stop words are counted and dropped here (parse_response), not excluded by the engine, whose
        # ``exclude`` of a few hundred terms was most of the aggregation's time (BENCHMARKS, "The dashboard's
        # hits"); as many more buckets as there are stop words keep the list as long.
        words = shard_size + len(p.stop_words)
        aggs["top_words"] = {"terms": {"field": "tokens", "size": words, "shard_size": words, "order": top_order}}
    if "top_citizens" in p.aggs:
        # Without their names: a name under every key a city's day holds cost more than the names of the
        # few shown, which come after (build_names_body; BENCHMARKS, "The dashboard's hits").
        keys = {"terms": {"field": "citizens.key", "size": shard_size, "shard_size": shard_size, "order": top_order}}
        aggs["citizens"] = citizens_agg(p, {"keys": keys})
    if "score" in p.aggs:
        aggs["scores"] = scores_agg(p, hdr=hdr)
    if "grid" in p.aggs:
        aggs["grid"] = {"geotile_grid": {"field": "point", "precision": p.grid_precision, "size": 10_000}}
    if aggs:
        body["aggs"] = aggs
    return body


def scores_agg(p: Plan, *, hdr: bool = True, flat: bool = True) -> dict:
    """The citizens' peacescore statistics: from each report's ``scores`` (the writer's flat copy of them)
    unless the plan's peacescore range keeps only some citizens of a report, or ``flat=False``; then from
    the nested citizens themselves. ``unscored`` counts the reports with citizens but no flat copy (written
    before it existed), whose scores only the nested citizens hold (``ElasticStore.search``)."""
    nested = not flat or p.scores_filtered
    field = "citizens.peacescore" if nested else "scores"
    percentiles = {"field": field, "percents": list(PERCENTS)}
    if hdr:
        percentiles["hdr"] = {"number_of_significant_value_digits": HDR_DIGITS}
    inner = {"stats": {"stats": {"field": field}}, "percentiles": {"percentiles": percentiles}}
    if nested:
        return citizens_agg(p, inner)
    # A report has a min_score when it has citizens, in every index the template ever made.
    missing = {"bool": {"filter": [{"exists": {"field": "min_score"}}], "must_not": [{"exists": {"field": "scores"}}]}}
    # Under a match_all filter: the statistics and that count at one path, the nested form's (citizens_path).
    return {"filter": {"match_all": {}}, "aggs": {**inner, "unscored": {"filter": missing}}}


def unscored_reports(p: Plan, body: dict) -> int:
    """How many matched reports :func:`scores_agg` counted no scores of, though they have citizens."""
    if "score" not in p.aggs or p.scores_filtered:
        return 0
    return body["aggregations"]["scores"]["unscored"]["doc_count"]


def build_scores_body(p: Plan, *, hdr: bool = True) -> dict:
    """The peacescore statistics alone, from the nested citizens."""
    return {
        "query": {"bool": {"filter": build_filters(p)}},
        "size": 0,
        "track_total_hits": False,
        "aggs": {"scores": scores_agg(p, hdr=hdr, flat=False)},
    }


# Aggregations over every citizen of the matched reports, the costliest: each in a search of its own.
SEARCHED_ALONE = ("citizens", "scores")


def split_body(body: dict) -> list[dict]:
    """``body`` as the searches to send side by side (one ``_msearch``): each aggregation over the citizens
    (``SEARCHED_ALONE``) in a search of its own, so that the engine's search threads work on them at once
    (BENCHMARKS, "The dashboard's hits"). The first search keeps the hits, the total and the other
    aggregations; :func:`join_answers` puts the answers back together."""
    aggs = body.get("aggs", {})
    alone = [{name: agg} for name, agg in aggs.items() if name in SEARCHED_ALONE]
    others = {name: agg for name, agg in aggs.items() if name not in SEARCHED_ALONE}
    first, *more = [others, *alone] if others or body["size"] else alone or [others]
    head = {key: value for key, value in body.items() if key != "aggs"}
    return [
        {**head, "aggs": first} if first else head,
        *({"query": body["query"], "size": 0, "track_total_hits": False, "aggs": group} for group in more),
    ]


def join_answers(answers: list[dict]) -> dict:
    """The answer :func:`split_body`'s searches make together: the first's hits and total, every aggregation."""
    first, *others = answers
    joined = {**first, "aggregations": dict(first.get("aggregations", {}))}
    for answer in others:
        joined["aggregations"].update(answer.get("aggregations", {}))
    return joined


def build_instant_body(p: Plan, ts: int, *, after: tuple[str, str] | None = None) -> dict:
    """The reports matching ``p`` observed at the instant ``ts`` (epoch ms), in the cursor's full order, after
    ``(report_id, drone_id)`` when given: at most a page and its next-page probe."""
    order = "desc" if p.newest_first else "asc"
    at = {"range": {"observed_at": {"gte": ts, "lte": ts, "format": "epoch_millis"}}}
    body: dict = {
        "query": {"bool": {"filter": [*build_filters(p), at]}},
        "size": p.size + 1,
        "track_total_hits": False,
        "sort": [{field: {"order": order}} for field in HIT_ORDER],
        "_source": HIT_SOURCE,
    }
    if after is not None:
        body["search_after"] = [ts, *after]
    return body


def cut_instant(p: Plan, found: list[dict]) -> int | None:
    """The instant whose reports a time-sorted first answer (:func:`build_body`) may hold only some of, among
    those the page needs: the page's last, when the report fetched after it shares its instant."""
    need = p.size + 1
    if len(found) > need and found[need]["sort"][0] == found[need - 1]["sort"][0]:
        return int(found[need - 1]["sort"][0])
    return None


def page_hits(p: Plan, *answers: list[dict]) -> list[dict]:
    """The page and its next-page probe from hits sorted by time alone and whole instants in full order: each
    report once, in the cursor's order, its ``sort`` the full ``[observed_at, report_id, drone_id]``.

    Python compares strings by code point, as the engine compares keywords by their UTF-8 bytes."""
    by_id: dict[str, dict] = {}
    for found in answers:
        for h in found:
            source = h["_source"]
            by_id[h["_id"]] = {**h, "sort": [int(h["sort"][0]), source["report_id"], source["drone_id"]]}
    ordered = sorted(by_id.values(), key=lambda h: h["sort"], reverse=p.newest_first)
    return ordered[: p.size + 1]


def build_names_body(p: Plan, keys: list[str]) -> dict:
    """The name each of ``keys`` was most often seen under in the reports matching ``p``."""
    terms = {"terms": {"field": "citizens.key", "include": keys, "size": len(keys)}, "aggs": {"name": DISPLAY_NAME}}
    return {
        "query": {
            "bool": {
                "filter": [
                    *build_filters(p),
                    {"nested": {"path": "citizens", "query": {"terms": {"citizens.key": keys}}}},
                ]
            }
        },
        "size": 0,
        "track_total_hits": False,
        "aggs": {"citizens": citizens_agg(p, {"keys": terms})},
    }


def parse_names(p: Plan, body: dict) -> dict[str, str]:
    keys = _dig(body["aggregations"], (*citizens_path(p), "keys"))["buckets"]
    return {b["key"]: b["name"]["buckets"][0]["key"] for b in keys if b["name"]["buckets"]}


def shown_citizens(p: Plan, body: dict) -> list[str]:
    """The keys the top citizens list shows, ranked as the engine answered them."""
    keys = _dig(body.get("aggregations", {}), (*citizens_path(p), "keys"))["buckets"]
    return [b["key"] for b in top_buckets([(b["key"], b["doc_count"]) for b in keys], p.top)]


def build_suggest_body(prefix: str, *, since_ms: int, limit: int) -> dict:
    """Names whose folded form starts with ``prefix``, seen since ``since_ms``, with their sightings."""
    starts = {"prefix": {"citizens.name_fold": prefix}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    {"range": {"observed_at": {"gte": since_ms, "format": "epoch_millis"}}},
                    {"nested": {"path": "citizens", "query": starts}},
                ]
            }
        },
        "aggs": {
            "citizens": {
                "nested": {"path": "citizens"},
                "aggs": {
                    "matching": {
                        "filter": starts,
                        "aggs": {
                            "names": {
                                "terms": {
                                    "field": "citizens.name",
                                    "size": limit,
                                    "shard_size": max(TERMS_SHARD_SIZE, limit * 20),
                                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                                }
                            }
                        },
                    }
                },
            }
        },
    }


def parse_suggest(body: dict) -> list[dict]:
    buckets = body["aggregations"]["citizens"]["matching"]["names"]["buckets"]
    return [{"name": b["key"], "count": b["doc_count"]} for b in buckets]


def top_paths(p: Plan) -> dict[str, tuple[str, ...]]:
    """Where each top list is in the answer."""
    return {"top_drones": ("top_drones",), "top_words": ("top_words",), "top_citizens": (*citizens_path(p), "keys")}


def _dig(aggs: dict, path: tuple[str, ...]) -> dict:
    for name in path:
        aggs = aggs[name]
    return aggs


def inexact_tops(p: Plan, body: dict) -> dict[str, list[str]]:
    """Top lists whose counts a shard may have cut short, with the candidate keys to recount.

    Each shard sends only its ``shard_size`` most frequent values; a value just
    below one shard's cut loses that shard's count in the merge, and the engine
    says so in ``doc_count_error_upper_bound``. Those lists are recounted.
    """
    raw = body.get("aggregations", {})
    out = {}
    for name, path in top_paths(p).items():
        if name in p.aggs:
            agg = _dig(raw, path)
            if agg.get("doc_count_error_upper_bound", 0) > 0 and agg["buckets"]:
                out[name] = [b["key"] for b in agg["buckets"]]
    return out


def build_recount(p: Plan, candidates: dict[str, list[str]]) -> dict:
    """Exact counts of the candidate keys: every shard returns every candidate it holds."""
    fields = {"top_drones": "drone_id", "top_words": "tokens", "top_citizens": "citizens.key"}
    aggs: dict = {}
    for name, keys in candidates.items():
        terms = {"terms": {"field": fields[name], "include": keys, "size": len(keys), "shard_size": len(keys)}}
        if name == "top_citizens":
            aggs["citizens"] = citizens_agg(p, {"keys": terms})
        else:
            aggs[name] = terms
    return {"query": {"bool": {"filter": build_filters(p)}}, "size": 0, "track_total_hits": False, "aggs": aggs}


def merge_recount(p: Plan, body: dict, recount: dict, candidates: dict[str, list[str]]) -> dict:
    """The first answer with the recounted top lists in place of the cut-short ones."""
    merged = {**body, "aggregations": dict(body.get("aggregations", {}))}
    paths = top_paths(p)
    for name in candidates:
        path = paths[name]
        exact = _dig(recount["aggregations"], path)["buckets"]
        # Copies down the path, the first answer's other aggregations beside the list kept.
        parent = merged["aggregations"]
        for step in path[:-1]:
            parent[step] = dict(parent[step])
            parent = parent[step]
        parent[path[-1]] = {"buckets": exact}
    return merged


def score_from_hdr(value: float | None, low: float | None, high: float | None) -> float | None:
    """An HDR percentile back to the peacescore it stands for (see ``HDR_HALF_STEP``), within the scores' range."""
    if value is None or low is None or high is None:
        return None
    return min(max(round(value - HDR_HALF_STEP, 1), low), high)


def parse_response(
    p: Plan, body: dict, *, hits: list[dict] | None = None, names: dict[str, str] | None = None, hdr: bool = True
) -> dict:
    """The answer from the search body's answer, with the page's ``hits`` from :func:`page_hits` and the shown
    citizens' ``names`` from :func:`parse_names` when the plan asks for them."""
    found = hits or []
    hits = []
    for h in found[: p.size]:
        source = h["_source"]
        ts, report_id, _ = h["sort"]
        hits.append(
            hit(
                source,
                report_id=report_id,
                ts_ms=int(ts),
                time_source=source.get("time_source", "drone"),
                clock_skew=source.get("clock_skew", False),
                threshold=p.threshold,
                citizens=source.get("citizens", []),
            )
        )
    next_cursor = None
    if p.size and len(found) > p.size:
        ts, report_id, drone_id = found[p.size - 1]["sort"]
        next_cursor = encode_cursor(int(ts), report_id, drone_id)
    raw = body.get("aggregations", {})
    out: dict = {}
    if "histogram" in p.aggs:
        counts = {int(b["key"]): b["doc_count"] for b in raw["histogram"]["buckets"]}
        out["histogram"] = {"interval": p.interval, "buckets": histogram_buckets(counts, p)}
    if "top_drones" in p.aggs:
        out["top_drones"] = top_buckets([(b["key"], b["doc_count"]) for b in raw["top_drones"]["buckets"]], p.top)
    if "top_words" in p.aggs:
        stop = frozenset(p.stop_words)
        words = [(b["key"], b["doc_count"]) for b in raw["top_words"]["buckets"] if b["key"] not in stop]
        out["top_words"] = top_buckets(words, p.top)
    if "top_citizens" in p.aggs:
        counts = {b["key"]: b["doc_count"] for b in _dig(raw, (*citizens_path(p), "keys"))["buckets"]}
        out["top_citizens"] = top_citizen_buckets(counts, names or {}, p.top)
    if "score" in p.aggs:
        scores = _dig(raw, citizens_path(p, "scores"))
        stats = scores["stats"]
        values = scores["percentiles"]["values"]
        percentiles = {float(k): score_from_hdr(v, stats["min"], stats["max"]) if hdr else v for k, v in values.items()}
        out["score"] = score_stats(
            stats["count"], stats["sum"] or 0.0, stats["min"], stats["max"], {q: percentiles.get(q) for q in PERCENTS}
        )
    if "grid" in p.aggs:
        counts = {}
        for b in raw["grid"]["buckets"]:
            _, x, y = (int(part) for part in b["key"].split("/"))
            counts[(x, y)] = b["doc_count"]
        out["grid"] = {"precision": p.grid_precision, "cells": grid_cells(counts, p.grid_precision)}
    total = body["hits"].get("total") if p.count_total else None
    return {
        "total": total["value"] if isinstance(total, dict) else total,
        "hits": hits,
        "next": next_cursor,
        "aggregations": out,
        "as_of": as_of(p, None),
    }
