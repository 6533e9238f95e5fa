"""Drone ingest tokens: issued once, stored only as a hash, found by that hash.

A token is ``pwd_`` plus 32 random bytes (URL-safe base64). Only its sha256
is stored. A fast unsalted hash is right here, unlike for passwords: the
token has 256 bits of entropy, so there is nothing to guess or precompute,
and a slow hash (PBKDF2, argon2) would cost every ingest request tens of
milliseconds for no gain. Being unsalted, the digest is also a lookup key:
the drone is found by equality on an indexed column, without a scan.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ingest.models import Drone

PREFIX = "pwd_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def drone_for_token(token: str) -> Drone | None:
    """The drone this token belongs to (retired ones included), or None."""
    if not token.startswith(PREFIX):
        return None
    digest = hash_token(token)
    drone = Drone.objects.only("id", "drone_id", "status", "token_hash").filter(token_hash=digest).first()
    # The database compared digests already; comparing again in constant time
    # keeps the answer independent of how the database compares strings.
    if drone is None or not hmac.compare_digest(drone.token_hash, digest):
        return None
    return drone
