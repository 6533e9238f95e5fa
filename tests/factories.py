"""Valid v1 reports to start from; tests override what they are about."""

from __future__ import annotations

import itertools

_ids = itertools.count(1)


def report(**overrides) -> dict:
    n = next(_ids)
    doc = {
        "report_id": f"test-report-{n}",
        "drone_id": "pw-00042",
        "sent_at": "2026-11-28T04:00:00Z",
        "seq": n,
        "location": {"lat": 48.8566, "lon": 2.3522, "alt_m": 120.5},
        "citizens": [{"name": "Paul Durand", "peacescore": 81.0, "confidence": 0.97}],
        "words": ["bread", "strike", "tomorrow"],
        "battery_pct": 76,
        "heading_deg": 270,
        "speed_mps": 5.2,
        "firmware": "1.4.2",
    }
    doc.update(overrides)
    return doc


def citizen(name: str, peacescore: float) -> dict:
    return {"name": name, "peacescore": peacescore}
