"""Saved queries: an analyst's named queries, optionally shared with the other analysts.

Everyone sees their own and the shared ones; only the owner changes or
deletes one. Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from analytics import audit
from analytics.models import SavedQuery, normalized_query


class NotOwner(PermissionError):
    """Someone other than the owner tried to change or delete a saved query."""


class NameTaken(ValueError):
    """The owner already has a saved query by that name."""


def visible_to(user) -> QuerySet[SavedQuery]:
    return SavedQuery.objects.filter(Q(owner=user) | Q(shared=True)).select_related("owner")


def can_edit(saved: SavedQuery, user) -> bool:
    return saved.owner_id == user.pk


def save_query(owner, *, name: str, query: dict, shared: bool = False, ip: str | None = None) -> SavedQuery:
    """A new saved query; raises QueryError for a query that cannot run, NameTaken for a duplicate name."""
    data = normalized_query(query)
    try:
        with transaction.atomic():
            saved = SavedQuery.objects.create(owner=owner, name=name, query=data, shared=shared)
            audit.record(owner, "saved_query.create", data, ip=ip, saved_query_id=saved.pk, name=name, shared=shared)
    except IntegrityError as exc:
        raise NameTaken(name) from exc
    return saved


def update_saved_query(saved: SavedQuery, *, by, ip: str | None = None, **changes) -> SavedQuery:
    """Change name, query and/or shared; only the owner may."""
    if not can_edit(saved, by):
        raise NotOwner(saved.pk)
    unknown = set(changes) - {"name", "query", "shared"}
    if unknown:
        raise TypeError(f"cannot change {sorted(unknown)}")
    if "query" in changes:
        changes["query"] = normalized_query(changes["query"])
    for field, value in changes.items():
        setattr(saved, field, value)
    try:
        with transaction.atomic():
            saved.save()
            audit.record(
                by,
                "saved_query.update",
                saved.query,
                ip=ip,
                saved_query_id=saved.pk,
                name=saved.name,
                changed=sorted(changes),
            )
    except IntegrityError as exc:
        raise NameTaken(saved.name) from exc
    return saved


def delete_saved_query(saved: SavedQuery, *, by, ip: str | None = None, by_admin: bool = False) -> None:
    """Only the owner may, or an admin in the Django admin (the entry says so)."""
    if not (by_admin or can_edit(saved, by)):
        raise NotOwner(saved.pk)
    extra = {"by_admin": True, "owner": saved.owner.get_username()} if by_admin else {}
    with transaction.atomic():
        audit.record(by, "saved_query.delete", saved.query, ip=ip, saved_query_id=saved.pk, name=saved.name, **extra)
        saved.delete()
