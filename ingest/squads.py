"""Which squads an officer sees (issue 14, point 3): alerts and drones of their squads only.

An officer's squads are the groups named ``squad:NAME`` they belong to; a drone
is in the squad its registry entry names (``Drone.squad``). The group
``squad:*`` grants every squad, as do superusers and admins (who run the whole
fleet). An officer in no squad sees no squad's alerts or drones: scoping fails
closed. Fleet-wide ``pipeline`` alerts concern every officer and are always shown.

Every path an alert reaches a browser applies this: the alerts API (list,
catch-up, changes), the live WebSocket (events and drone positions, filtered
per connection by the live hub) and the drones API.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet

from peacewatch.roles import ADMIN, has_role

PREFIX = "squad:"
ALL = "squad:*"
FLEET_WIDE = "pipeline"  # the alert kind about the whole fleet (alerts.models.Alert.Kind.PIPELINE)


def squads_of(user) -> frozenset[str] | None:
    """The squads ``user`` sees; None means every squad."""
    if user.is_superuser or has_role(user, ADMIN):
        return None
    names = set(user.groups.filter(name__startswith=PREFIX).values_list("name", flat=True))
    if ALL in names:
        return None
    return frozenset(name.removeprefix(PREFIX) for name in names)


def all_squads_group() -> Group:
    return Group.objects.get_or_create(name=ALL)[0]


def visible_alerts(alerts: QuerySet, squads: frozenset[str] | None) -> QuerySet:
    """Of an alerts queryset, those about the squads' drones, and the fleet-wide ones."""
    if squads is None:
        return alerts
    from ingest.models import Drone

    theirs = Drone.objects.filter(squad__in=squads).values("drone_id")
    return alerts.filter(Q(drone_id__in=theirs) | Q(kind=FLEET_WIDE))


def visible_drones(drones: QuerySet, squads: frozenset[str] | None) -> QuerySet:
    return drones if squads is None else drones.filter(squad__in=squads)


def sees(squads: frozenset[str] | None, squad: str | None, kind: str = "") -> bool:
    """Whether a connection scoped to ``squads`` gets an event about a drone of ``squad`` (None: unregistered)."""
    return squads is None or kind == FLEET_WIDE or (squad is not None and squad in squads)
