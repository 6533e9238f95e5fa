"""Drone health from the stream: last seen, position, battery, seq gaps, clock skew, online/offline.

This module keeps the drone registry's health columns and reports what
changed as plain data (drones back online, drones gone silent with their last
position); what an operator is told about it is for ``alerts.fleet``, which
calls these functions inside its own transaction. Nothing here imports the
alerts app.

Liveness follows arrival: ``last_seen_at`` is the Kafka record time (now when
a record has none), never the drone's ``sent_at``. A drone whose clock is
hours behind still reports, and one whose clock runs ahead must not look
alive when it has gone silent.

Writes are idempotent under replay: a drone's counters only move for reports
that arrived after what it already recorded (``last_seen_at``), and a replayed
record keeps its Kafka time, so a replayed batch changes nothing. Offline
detection takes an explicit clock (``now``) so tests control time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q

from ingest.models import Drone, UnknownDrone
from ingest.reports import Received, ReportError, broker_time, decode_report
from peacewatch.streams.batch import KafkaRecord


@dataclass
class DroneSeen:
    """What one batch says about one drone (pure aggregate of its valid reports)."""

    drone_id: str
    last_seen_at: datetime  # arrival of its latest report
    lat: float
    lon: float
    battery_pct: float | None
    firmware: str | None
    # (arrival, seq, clock skewed) per report
    arrivals: list[tuple[datetime, int | None, bool]] = field(default_factory=list)


@dataclass(frozen=True)
class SilentDrone:
    """A drone that stopped reporting: what an alert about it needs."""

    drone_id: str
    lat: float | None
    lon: float | None
    last_seen_at: datetime


def read_batch(records: Iterable[KafkaRecord]) -> tuple[dict[str, DroneSeen], int]:
    """Decode a batch and aggregate it per drone (pure); returns (drones seen, invalid records)."""
    arrived: list[tuple[Received, datetime]] = []
    invalid = 0
    for record in records:
        decoded = decode_report(record.value, timestamp_ms=record.timestamp)
        if isinstance(decoded, ReportError):
            invalid += 1  # dead-lettered by the indexer
        else:
            arrived.append((decoded, broker_time(record.timestamp)))
    return aggregate(arrived), invalid


def aggregate(arrived: Iterable[tuple[Received, datetime]]) -> dict[str, DroneSeen]:
    """Per drone, its reports of the batch and its latest state, by arrival.

    Position, battery and firmware come from the report that arrived last, not
    from the one with the latest ``sent_at``: a drone's reports share a
    partition (keyed by drone id), so they arrive in the order it sent them,
    buffered ones included, while its clock may be wrong; ordering by that
    clock would pin a drone whose clock jumped ahead to a stale position.
    """
    seen: dict[str, DroneSeen] = {}
    for item, arrived_at in arrived:
        report = item.report
        entry = seen.get(report.drone_id)
        if entry is None or arrived_at >= entry.last_seen_at:
            entry = seen[report.drone_id] = DroneSeen(
                drone_id=report.drone_id,
                last_seen_at=arrived_at,
                lat=report.location.lat,
                lon=report.location.lon,
                battery_pct=report.battery_pct,
                firmware=report.firmware,
                arrivals=entry.arrivals if entry else [],
            )
        entry.arrivals.append((arrived_at, report.seq, item.clock_skew))
    return seen


def record_health(seen: dict[str, DroneSeen]) -> list[str]:
    """Apply one batch's sightings to the registry; returns the drones that came back from offline.

    Call inside the caller's transaction when something else (an alert) must
    commit with the health change; on its own it runs in a transaction of its own.
    """
    if not seen:
        return []
    back: list[str] = []
    with transaction.atomic(savepoint=False):
        # Locked in drone_id order, as offline detection locks: two writers never wait on each other in a circle.
        drones = Drone.objects.select_for_update().order_by("drone_id").in_bulk(sorted(seen), field_name="drone_id")
        changed: list[Drone] = []
        for drone_id, entry in seen.items():
            drone = drones.get(drone_id)
            if drone is None:
                continue
            new_reports = [r for r in entry.arrivals if drone.last_seen_at is None or r[0] > drone.last_seen_at]
            if not new_reports:
                continue  # a replay, or reports older than what is recorded
            drone.reports_received += len(new_reports)
            drone.reports_clock_skew += sum(1 for _, _, skewed in new_reports if skewed)
            seqs = sorted(seq for _, seq, _ in new_reports if seq is not None)
            if seqs:
                last = drone.last_seq
                for seq in seqs:
                    if last is not None and seq > last + 1:
                        drone.reports_missing += seq - last - 1
                    last = seq if last is None else max(last, seq)
                drone.last_seq = last
            if drone.last_seen_at is None or entry.last_seen_at > drone.last_seen_at:
                drone.last_seen_at = entry.last_seen_at
                drone.last_lat, drone.last_lon = entry.lat, entry.lon
                if entry.battery_pct is not None:
                    drone.battery_pct = entry.battery_pct
                if entry.firmware:
                    drone.firmware = entry.firmware
            if not drone.online:
                if drone.offline_since is not None:
                    back.append(drone_id)
                drone.online, drone.offline_since = True, None
            changed.append(drone)
        _save_health(changed)
        _record_unknown({d: e for d, e in seen.items() if d not in drones})
    return back


# Written by the drones consumer only. Not ``in_storm``: offline detection owns
# it, and leaving it out means the two never overwrite each other's column.
_HEALTH_FIELDS = (
    "reports_received",
    "reports_missing",
    "reports_clock_skew",
    "last_seq",
    "last_seen_at",
    "last_lat",
    "last_lon",
    "battery_pct",
    "firmware",
    "online",
    "offline_since",
)


def _save_health(drones: list[Drone]) -> None:
    """One UPDATE per drone through executemany.

    The ORM's bulk_update builds one CASE expression per field over the whole
    batch; for thousands of drones that statement cost more than the rest of
    the consumer (measured: the consumer fell behind 3,900 reports/s).
    """
    if not drones:
        return
    ops = connection.ops
    table = ops.quote_name(Drone._meta.db_table)
    assignments = ", ".join(f"{ops.quote_name(name)} = %s" for name in _HEALTH_FIELDS)
    dt = ops.adapt_datetimefield_value
    rows = [
        (
            d.reports_received,
            d.reports_missing,
            d.reports_clock_skew,
            d.last_seq,
            dt(d.last_seen_at),
            d.last_lat,
            d.last_lon,
            d.battery_pct,
            d.firmware,
            d.online,
            dt(d.offline_since),
            d.pk,
        )
        for d in drones
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)


def _record_unknown(seen: dict[str, DroneSeen]) -> None:
    """Reports of unregistered drones are stored and alert as usual; here they are counted for admins."""
    if not seen:
        return
    known = UnknownDrone.objects.select_for_update().in_bulk(list(seen), field_name="drone_id")
    new, changed = [], []
    for drone_id, entry in seen.items():
        row = known.get(drone_id)
        if row is None:
            new.append(
                UnknownDrone(
                    drone_id=drone_id,
                    first_seen_at=min(at for at, _, _ in entry.arrivals),
                    last_seen_at=entry.last_seen_at,
                    reports=len(entry.arrivals),
                )
            )
            continue
        fresh = [at for at, _, _ in entry.arrivals if at > row.last_seen_at]
        if fresh:
            row.reports += len(fresh)
            row.last_seen_at = max(fresh)
            changed.append(row)
    UnknownDrone.objects.bulk_create(new, ignore_conflicts=True)
    UnknownDrone.objects.bulk_update(changed, ["reports", "last_seen_at"])


# --- offline detection ----------------------------------------------------------
# Call these inside one transaction (alerts.fleet does): the lock taken by
# ``lock_silent`` holds until the drones are marked offline and alerted.


def _active() -> Q:
    return Q(status=Drone.Status.ACTIVE)


def _silent_drone(drone: Drone) -> SilentDrone:
    return SilentDrone(drone.drone_id, drone.last_lat, drone.last_lon, drone.last_seen_at)


def lock_silent(now: datetime) -> list[SilentDrone]:
    """Active drones still online but not heard from for DRONE_OFFLINE_AFTER_S; locked until the transaction ends."""
    cutoff = now - timedelta(seconds=settings.DRONE_OFFLINE_AFTER_S)
    # drone_id order, as record_health locks: the two take the same rows in the same order.
    silent = Drone.objects.select_for_update().filter(_active(), online=True, last_seen_at__lt=cutoff)
    silent = silent.order_by("drone_id")
    return [_silent_drone(d) for d in silent]


def online_fleet(*, quiet_since: datetime) -> tuple[int, int]:
    """(active drones online, those of them not heard from since ``quiet_since``)."""
    counts = Drone.objects.filter(_active(), online=True).aggregate(
        online=Count("pk"), quiet=Count("pk", filter=Q(last_seen_at__lt=quiet_since))
    )
    return counts["online"], counts["quiet"]


def mark_offline(drones: Iterable[SilentDrone], now: datetime, *, in_storm: bool = False) -> None:
    """Offline since ``now``; ``in_storm``: one of many gone silent at once (covered by one fleet-wide alert)."""
    _update([d.drone_id for d in drones], online=False, offline_since=now, in_storm=in_storm)


def storm_tally() -> tuple[int, int]:
    """(active drones marked in a storm, those of them reporting again)."""
    counts = Drone.objects.filter(_active(), in_storm=True).aggregate(
        members=Count("pk"), back=Count("pk", filter=Q(online=True))
    )
    return counts["members"], counts["back"]


def release_storm_returned() -> None:
    """Drones of a storm that report again are out of it; the still silent stay marked."""
    Drone.objects.filter(in_storm=True, online=True).update(in_storm=False)


def storm_stragglers_exist() -> bool:
    return Drone.objects.filter(_active(), in_storm=True, online=False).exists()


def lock_storm_stragglers() -> list[SilentDrone]:
    """Drones of an ended storm still silent, now out of it (their silence is their own); locked."""
    stragglers = Drone.objects.select_for_update().filter(_active(), in_storm=True, online=False)
    found = [_silent_drone(d) for d in stragglers.order_by("drone_id")]
    _update([d.drone_id for d in found], in_storm=False)
    return found


_IDS_PER_UPDATE = 900  # under SQLite's oldest bound-parameter limit (999), whatever the fleet size


def _update(drone_ids: list[str], **values) -> None:
    for start in range(0, len(drone_ids), _IDS_PER_UPDATE):
        Drone.objects.filter(drone_id__in=drone_ids[start : start + _IDS_PER_UPDATE]).update(**values)
