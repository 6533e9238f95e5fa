"""The audit log: who searched, looked at whom, exported, changed alerts, drones, settings, users and roles.

Reports describe real people's whereabouts, so looking at them is itself
something to account for. Entry points call :func:`record` next to the work;
nothing edits or deletes an entry afterwards (the admin is read-only).

Tamper evidence: each entry's ``hash`` covers its own fields and the previous
entry's hash, and the head row (``AuditChain``) holds the last one. An entry
edited with plain SQL no longer matches its hash; one inserted or deleted
breaks the links or the numbering; a cut-off tail no longer reaches the head.
:func:`verify` walks the chain and names each break. Someone able to rewrite
the whole chain and the head could hide that too, which is why every entry's
hash is also in the logs and in each ``audit export``: copies kept elsewhere
to compare with.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from analytics.models import AuditChain, AuditEntry
from peacewatch import accountability
from peacewatch.db import lock_single_row
from peacewatch.logs import log

logger = logging.getLogger(__name__)

GENESIS = "0" * 64


def record(user, action: str, query: dict | None = None, *, ip: str | None = None, username: str = "", **detail):
    """Append one entry; ``detail`` holds what identifies the action (ids, names, totals).

    ``username`` names who acted when ``user`` is not a signed-in user (a
    failed sign-in names the account tried).
    """
    authenticated = user is not None and user.is_authenticated
    # Whatever a caller sent (a refused search keeps its body) must be storable everywhere.
    query, detail = _storable(query), _storable(detail)
    with transaction.atomic():
        seq, prev_hash = _lock_head()
        entry = AuditEntry.objects.create(
            seq=seq + 1,
            user=user if authenticated else None,
            username=user.get_username() if authenticated else username[:150],
            action=AuditEntry.Action(action),
            query=query,
            detail=detail,
            ip=ip or None,
            prev_hash=prev_hash,
            hash="",
        )
        # Hash what the database holds (JSON and addresses as it normalizes
        # them), which is what verify will read back.
        entry.refresh_from_db()
        entry.hash = entry_hash(entry)
        AuditEntry.objects.filter(pk=entry.pk).update(hash=entry.hash)
        AuditChain.objects.filter(pk=1).update(seq=entry.seq, hash=entry.hash)
    log(logger, logging.INFO, "audit", action=action, username=entry.username, seq=entry.seq, hash=entry.hash, **detail)
    return entry


def _storable(value):
    """``value`` with U+0000 replaced (PostgreSQL's JSON refuses it) in every string and key."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(str(key)): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def _lock_head() -> tuple[int, str]:
    """The head's (seq, hash), its row locked until the transaction ends."""
    create = (
        "INSERT INTO {table} (id, seq, hash, base_seq, base_hash) VALUES (1, 0, %s, 0, %s) ON CONFLICT (id) DO NOTHING"
    )
    return lock_single_row(AuditChain, ("seq", "hash"), create, (GENESIS, GENESIS))


def hashed_fields(entry: AuditEntry) -> dict:
    """What an entry's hash covers; an export line is this plus ``hash``.

    The user's id is left out on purpose: deleting an account sets it to null,
    which is not tampering; the username is kept and covered.
    """
    return {
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "username": entry.username,
        "action": entry.action,
        "ip": entry.ip,
        "query": entry.query,
        "detail": entry.detail,
    }


def prune_before(before: datetime) -> int:
    """Remove the chain's oldest entries, all written before ``before`` (retention); returns how many.

    The head keeps the last entry removed as the chain's new base, so
    :func:`verify` checks everything kept.
    """
    with transaction.atomic():
        head_seq, _ = _lock_head()
        first_kept = AuditEntry.objects.filter(at__gte=before).order_by("seq").values_list("seq", flat=True).first()
        # Only a prefix: an entry written before ``before`` but after a newer one (clocks) waits for it.
        upto = (first_kept - 1) if first_kept is not None else head_seq
        last_removed = AuditEntry.objects.filter(seq__lte=upto).order_by("-seq").first()
        if last_removed is None:
            return 0
        removed, _ = AuditEntry.objects.filter(seq__lte=upto).delete()
        AuditChain.objects.filter(pk=1).update(base_seq=last_removed.seq, base_hash=last_removed.hash)
    return removed


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 of :func:`hashed_fields` as compact JSON with sorted keys (anyone can recompute it from an export)."""
    canonical = json.dumps(hashed_fields(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Break:
    """One place where the chain does not hold."""

    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"entry {self.seq}" if self.seq is not None else "the chain"
        return f"{where}: {self.problem}"


@dataclass
class Verification:
    checked: int
    head_seq: int
    head_hash: str
    breaks: list[Break]

    @property
    def intact(self) -> bool:
        return not self.breaks


def verify(progress: Callable[[int], None] | None = None) -> Verification:
    """Walk the chain from its base to its head; every edited, inserted or deleted entry is a break."""
    head = AuditChain.objects.filter(pk=1).first()
    expected_seq = (head.base_seq if head else 0) + 1
    prev_hash = head.base_hash if head else GENESIS
    breaks: list[Break] = []
    checked = 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq < expected_seq:
            breaks.append(Break(entry.seq, "numbered again: an entry was inserted"))
        elif entry.seq > expected_seq:
            missing = f"{expected_seq}" if entry.seq == expected_seq + 1 else f"{expected_seq}-{entry.seq - 1}"
            breaks.append(Break(entry.seq, f"entries {missing} are missing: deleted"))
        if entry.prev_hash != prev_hash:
            breaks.append(Break(entry.seq, "does not follow the entry before it: one was edited, inserted or deleted"))
        if entry_hash(entry) != entry.hash:
            breaks.append(Break(entry.seq, "its content does not match its hash: edited"))
        prev_hash, expected_seq = entry.hash, entry.seq + 1
        checked += 1
        if progress is not None and checked % 10_000 == 0:
            progress(checked)
    last_seq = expected_seq - 1
    if head is not None and (head.seq, head.hash) != (last_seq, prev_hash):
        breaks.append(Break(None, f"the head says entry {head.seq} comes last, the log ends at {last_seq}: deleted"))
    if head is None and checked:
        breaks.append(Break(None, "entries without a chain head"))
    return Verification(checked, head.seq if head else 0, head.hash if head else GENESIS, breaks)


def export_lines(since: datetime, until: datetime | None = None) -> Iterator[str]:
    """The entries at or after ``since`` (before ``until``), oldest first, one JSON object per line."""
    entries = AuditEntry.objects.filter(at__gte=since)
    if until is not None:
        entries = entries.filter(at__lt=until)
    for entry in entries.order_by("seq").iterator(chunk_size=2000):
        yield json.dumps({**hashed_fields(entry), "hash": entry.hash}, ensure_ascii=False, sort_keys=True)


client_ip = accountability.client_ip


def on_action(sender, user, action, query, ip, detail, **kwargs):
    """What other apps record through ``peacewatch.accountability``."""
    return record(user, action, query, ip=ip, **detail)


# --- what the audit log hears of by signal (connected in AnalyticsConfig.ready) ------------------


def on_sign_in(sender, request, user, **kwargs) -> None:
    record(user, "auth.sign_in", ip=client_ip(request), backend=getattr(user, "backend", None))


def on_sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django's credentials have the password already masked; only the username is kept.
    record(None, "auth.sign_in_failed", ip=client_ip(request), username=str(credentials.get("username", "")))


def on_sign_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        # "shift" or "idle" when the session limits ended it (peacewatch/sessions.py), else the user's own.
        reason = getattr(request, "session_end_reason", "signed out")
        record(user, "auth.sign_out", ip=client_ip(request), reason=reason)


def on_roles_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """Users' groups (roles) changed, from either side, through the admin or any other way.

    Who did it is the entry just before, when it was the admin (``admin.change``).
    """
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    users = model.objects.filter(pk__in=pk_set or ()) if reverse else [instance]
    groups = (
        [instance.name] if reverse else sorted(model.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
    )
    for user in users:
        record(
            None,
            "user.roles",
            user_changed=user.get_username(),
            change=action.removeprefix("post_"),
            groups=groups,
            roles_now=sorted(user.groups.values_list("name", flat=True)),
        )
