"""A search over two tiers: the index engine for the days it keeps, the archive before them.

The index engine (embedded or OpenSearch) answers for observed times from
the start of the oldest day its retention keeps (``ELASTICSEARCH_RETENTION_DAYS``,
the day ``prune`` never drops); the archive answers for anything earlier. A
range across that boundary is asked of both, each for its part, and merged:

- the total, the histogram, the grid and the score's count, min, max and
  average add up exactly;
- the page of hits continues from one part into the other in the page's order,
  and a cursor runs across them (it is a time and an identity, whichever part
  it came from);
- a top list adds up each part's top ``MAX_TOP``: a key beyond a part's
  list counts as 0 there, so a count can be short by at most the sum of the
  cut lists' last counts, which the answer gives (``approximate``), as
  Elasticsearch's ``doc_count_error_upper_bound`` does across shards;
- percentiles come from each part's own, its values spread evenly between
  them: an estimate, flagged as such (when one part has no score, the other's
  is the answer, unchanged).

The answer's ``sources`` say which part came from where, and its ``as_of`` is
the index engine's (the archive's days no longer receive reports); both
parts apply a bound by arrival (``arrived_before``), each to its own arrival
time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import msgspec

from analytics.query import MAX_TOP, PERCENTS, Plan, Totals, aggregations, iso, score_bin

SearchFn = Callable[[Plan], dict]


def boundary_ms(now: datetime, retention_days: int) -> int:
    """Midnight (UTC) of the oldest day the index engine keeps: its retention's cutoff day."""
    cutoff = (now - timedelta(days=retention_days)).astimezone(UTC)
    return int(datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC).timestamp() * 1000)


def source(engine: str, start_ms: int, end_ms: int, total: int | None) -> dict:
    return {"engine": engine, "from": iso(start_ms), "to": iso(end_ms), "total": total}


def search(p: Plan, boundary: int, *, hot: tuple[str, SearchFn], cold: tuple[str, SearchFn]) -> dict:
    """The answer for ``p`` from the hot engine at and after ``boundary`` and the cold one before."""
    (hot_name, hot_search), (cold_name, cold_search) = hot, cold
    if p.start_ms >= boundary:
        answer = hot_search(p)
        answer["sources"] = [source(hot_name, p.start_ms, p.end_ms, answer["total"])]
        return answer
    if p.end_ms <= boundary:
        answer = cold_search(p)
        answer["sources"] = [source(cold_name, p.start_ms, p.end_ms, answer["total"])]
        return answer
    # Each part with the whole page's size, longer top lists from the hot part; the page's
    # first part in its order is asked first, the second only for what is left of the page.
    tops = max(p.top, MAX_TOP)
    old_part = msgspec.structs.replace(p, end_ms=boundary, top=tops)
    new_part = msgspec.structs.replace(p, start_ms=boundary, top=tops)
    first, second = (new_part, old_part) if p.newest_first else (old_part, new_part)
    run = {id(new_part): hot_search, id(old_part): cold_search}
    first_answer = run[id(first)](first)
    hits = first_answer["hits"]
    left = p.size - len(hits)
    # One row beyond what is left says whether the page has a next.
    second_answer = run[id(second)](msgspec.structs.replace(second, size=max(left, 1) if p.size else 0))
    next_cursor = first_answer["next"]
    if p.size and next_cursor is None:
        more = second_answer["hits"]
        hits = hits + more[:left]
        # A full page from the first part alone: the second's one row says whether more follow.
        next_cursor = second_answer["next"] if left else (hits[-1]["cursor"] if more else None)
    new_answer, old_answer = (first_answer, second_answer) if p.newest_first else (second_answer, first_answer)
    totals, approximate = merge_counts(p, new_answer, old_answer, tops)
    total = None
    if p.count_total:
        total = new_answer["total"] + old_answer["total"]
        totals.total = total
    merged = aggregations(p, totals)
    if "score" in p.aggs:
        scores = [a["aggregations"]["score"] for a in (old_answer, new_answer) if a["aggregations"]["score"]["count"]]
        if len(scores) < 2:
            merged["score"] = scores[0] if scores else merged["score"]
    # The index engine's arrival time when it answered: it holds the days where reports still arrive.
    answer = {"total": total, "hits": hits, "next": next_cursor, "aggregations": merged, "as_of": new_answer["as_of"]}
    answer["sources"] = [
        source(cold_name, p.start_ms, boundary, old_answer["total"]),
        source(hot_name, boundary, p.end_ms, new_answer["total"]),
    ]
    if approximate:
        answer["approximate"] = approximate
    return answer


def _ms(key: str) -> int:
    return int(datetime.fromisoformat(key.replace("Z", "+00:00")).timestamp() * 1000)


def merge_counts(p: Plan, new: dict, old: dict, tops: int) -> tuple[Totals, dict]:
    """Raw counts from two parts' answers, and the aggregations whose merge is an estimate."""
    totals = Totals()
    approximate: dict = {}
    for part in (old, new):
        aggs = part["aggregations"]
        if "histogram" in aggs:
            for bucket in aggs["histogram"]["buckets"]:
                totals.histogram[_ms(bucket["key"])] += bucket["count"]
        for name, counter in (("top_drones", totals.drones), ("top_words", totals.words)):
            if name in aggs:
                counter.update({b["key"]: b["count"] for b in aggs[name]})
        if "top_citizens" in aggs:
            for b in aggs["top_citizens"]:
                totals.add_citizen(b["key"], b["name"], b["count"])
        if "grid" in aggs:
            for cell in aggs["grid"]["cells"]:
                _, x, y = (int(part) for part in cell["key"].split("/"))
                totals.grid[(x, y)] += cell["count"]
    # Each part's lists were cut at ``tops``: a key beyond counted 0 there.
    for name in ("top_drones", "top_words", "top_citizens"):
        if name not in p.aggs or not (old["aggregations"][name] and new["aggregations"][name]):
            continue  # one part alone: its list is the answer
        cut = [part["aggregations"][name] for part in (old, new) if len(part["aggregations"][name]) >= tops]
        if cut:
            approximate[name] = {"count_error_upper_bound": sum(listed[-1]["count"] for listed in cut)}
    if "score" in p.aggs:
        for part in (old, new):
            _add_score(totals, part["aggregations"]["score"])
        if old["aggregations"]["score"]["count"] and new["aggregations"]["score"]["count"]:
            approximate["score"] = {"percentiles": "estimated from both parts' percentiles"}
    return totals, approximate


# The share of a part's values between its consecutive percentiles (min and max at the ends).
_STEPS = (0.0, *PERCENTS, 100.0)


def _add_score(totals: Totals, stats: dict) -> None:
    """A part's score statistics as tenth-of-a-point bins: its values spread evenly between
    consecutive percentiles (exact when a part's bins are already that fine: min = max)."""
    n = stats["count"]
    if not n:
        return
    points = [stats["min"], *(stats["percentiles"][f"{q:g}"] for q in PERCENTS), stats["max"]]
    spread: dict[int, float] = {}
    for (q0, v0), (q1, v1) in pairwise(zip(_STEPS, points, strict=True)):
        share = n * (q1 - q0) / 100
        low, high = sorted((v0, v1))
        bins = range(score_bin(low), score_bin(high) + 1)
        for b in bins:
            spread[b] = spread.get(b, 0.0) + share / len(bins)
    average = stats["avg"]
    for b, count in spread.items():
        # Each bin's values at its middle, clamped to the part's range.
        value = min(stats["max"], max(stats["min"], (b + 0.5) / 10))
        old_n, old_sum = totals.score_bins.get(b, (0, 0.0))
        totals.score_bins[b] = (old_n + count, old_sum + count * value)
    totals.score_n += n
    totals.score_sum += average * n
    totals.score_lo = stats["min"] if totals.score_lo is None else min(totals.score_lo, stats["min"])
    totals.score_hi = stats["max"] if totals.score_hi is None else max(totals.score_hi, stats["max"])
