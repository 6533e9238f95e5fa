"""The drone registry's verbs: register, issue a new token, retire, reactivate.

The admin calls these; so can scripts and tests. Each is in the audit log
(``by``: who, ``ip``: from where). Each writes only its own
columns (``update_fields``), never the health columns that the ``drones``
consumer updates at the same time from the stream. A token is returned to the
caller exactly once, to be shown once; only its hash is kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from ingest import tokens
from ingest.models import Drone, UnknownDrone
from peacewatch import accountability as audit


def register_drone(drone: Drone, *, by=None, ip: str | None = None) -> str:
    """Save a new drone with a fresh ingest token; returns the token (never stored)."""
    token = tokens.new_token()
    drone.token_hash = tokens.hash_token(token)
    drone.token_issued_at = timezone.now()
    drone.full_clean()
    with transaction.atomic():
        drone.save(force_insert=True)
        audit.record(by, "drone.register", ip=ip, drone_id=drone.drone_id)
    return token


def register_unknown(
    unknown: Iterable[UnknownDrone], *, by=None, ip: str | None = None
) -> tuple[list[tuple[Drone, str]], list[str]]:
    """Register drones seen in reports. Returns (drone, token) pairs and the ids already registered.

    Their ``UnknownDrone`` rows go: the drones are known now, and from here on
    the ``drones`` consumer keeps their health instead of counting them.
    """
    registered: list[tuple[Drone, str]] = []
    already: list[str] = []
    with transaction.atomic():
        for row in unknown:
            if Drone.objects.filter(drone_id=row.drone_id).exists():
                already.append(row.drone_id)
            else:
                drone = Drone(drone_id=row.drone_id)
                registered.append((drone, register_drone(drone, by=by, ip=ip)))
            row.delete()
    return registered, already


def rotate_token(drone: Drone, *, by=None, ip: str | None = None) -> str:
    """Issue a new token; the old one stops working at once. Returns the new token."""
    token = tokens.new_token()
    drone.token_hash = tokens.hash_token(token)
    drone.token_issued_at = timezone.now()
    with transaction.atomic():
        drone.save(update_fields=["token_hash", "token_issued_at"])
        audit.record(by, "drone.token", ip=ip, drone_id=drone.drone_id)
    return token


def retire_drone(drone: Drone, *, by=None, ip: str | None = None) -> bool:
    """Retire a drone: its token is refused (403) from now on. False if it was retired already."""
    return _set_status(drone, Drone.Status.RETIRED, "drone.retire", by, ip)


def reactivate_drone(drone: Drone, *, by=None, ip: str | None = None) -> bool:
    """Put a retired drone back in service with its current token. False if it was active already."""
    return _set_status(drone, Drone.Status.ACTIVE, "drone.reactivate", by, ip)


def _set_status(drone: Drone, status: str, action: str, by, ip: str | None) -> bool:
    if drone.status == status:
        return False
    drone.status = status
    with transaction.atomic():
        drone.save(update_fields=["status"])
        audit.record(by, action, ip=ip, drone_id=drone.drone_id)
    return True
