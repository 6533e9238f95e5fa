"""The alert event (CONTRACT section 3), defined once.

Sent on ``peacewatch.alerts`` and over the ``/ws/alerts/`` WebSocket. Fields
beyond the contract's (version, workflow fields) are additions that clients
which do not know them ignore.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class EventLocation(msgspec.Struct):
    lat: float
    lon: float


class AlertPayload(msgspec.Struct):
    id: int
    kind: str  # "citizen", or "drone_offline" / "pipeline" (fleet health: no citizen, no peacescore)
    citizen: str | None
    peacescore: float | None
    severity: str
    status: str
    drone_id: str
    location: EventLocation
    report_id: str
    observed_at: datetime
    raised_at: datetime
    sightings: int
    first_observed_at: datetime
    updated_at: datetime
    version: int
    assigned_to: str | None = None
    note: str = ""
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    # v1.1: the subject id and recognition confidence (null when unknown), and
    # the alert change sequence (0 only in events written before it existed).
    citizen_id: str | None = None
    confidence: float | None = None
    seq: int = 0


class AlertEvent(msgspec.Struct):
    type: str  # "alert.created" | "alert.updated"
    alert: AlertPayload


CREATED = "alert.created"
UPDATED = "alert.updated"

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AlertEvent)


def encode_event(event: AlertEvent) -> bytes:
    return _encoder.encode(event)


def decode_event(raw: bytes) -> AlertEvent:
    return _decoder.decode(raw)
