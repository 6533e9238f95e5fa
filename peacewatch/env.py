"""Typed readers for environment variables.

Every setting of PeaceWatch comes through one of these helpers so that a bad
value fails loudly at start-up (ImproperlyConfigured) instead of surfacing as
an odd behaviour hours later. Secrets may also come from ``NAME_FILE`` (Docker
and Kubernetes secrets are mounted as files).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """A string, or the content of the file named by ``NAME_FILE``."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            with open(file_path, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    return _env_number(name, default, int, "an integer", minimum)


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    return _env_number(name, default, float, "a number", minimum)


def _env_number(name, default, cast, kind: str, minimum):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {kind}") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be >= {minimum}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_url(name: str, *, schemes: tuple[str, ...]) -> str:
    """A URL with one of ``schemes``, or "" when unset (the embedded default)."""
    value = env_str(name).strip()
    if not value:
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {'/'.join(schemes)}, got {value!r}")
    return value


# Django's own test of a usable key (security.W009): long, varied, not its generated placeholder.
_MIN_SECRET_LENGTH, _MIN_SECRET_CHARS = 50, 5
_PLACEHOLDERS = ("django-insecure", "change-me", "changeme", "not-a-secret", "replace-me")


def weak_secret(value: str) -> str | None:
    """What is wrong with a SECRET_KEY, or None for a usable one."""
    if not value:
        return "is unset"
    if any(marker in value.lower() for marker in _PLACEHOLDERS):
        return "is a placeholder"
    if len(value) < _MIN_SECRET_LENGTH or len(set(value)) < _MIN_SECRET_CHARS:
        return f"is too weak ({len(value)} characters, {len(set(value))} different)"
    return None


def secret_key(value: str, *, debug: bool, var_dir: Path) -> str:
    """SECRET_KEY as given; in development without one, this checkout's own random key.

    Fails closed: outside development (DEBUG unset or false) an unset, placeholder or weak key
    stops start-up, since anyone who knows the key can forge a session. In development an unset
    key is a random one kept in ``var_dir/secret_key`` (0600), so that sessions survive a restart
    and no two checkouts share one.
    """
    problem = weak_secret(value)
    if problem is None or (debug and value):
        return value
    if not debug:
        raise ImproperlyConfigured(
            f"SECRET_KEY {problem}: outside development (DEBUG=true) PeaceWatch does not start without a "
            f"secret key of at least {_MIN_SECRET_LENGTH} random characters (set SECRET_KEY or SECRET_KEY_FILE)"
        )
    path = var_dir / "secret_key"
    if not path.exists():
        # Written whole under a temporary name, then linked into place: of several processes
        # starting at once, the first link wins and every process reads that one.
        temporary = var_dir / f".secret_key.{os.getpid()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()
