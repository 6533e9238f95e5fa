"""The three roles of PeaceWatch, as Django groups: officer, analyst, admin."""

from __future__ import annotations

from django.contrib.auth.models import Group

OFFICER, ANALYST, ADMIN = "officer", "analyst", "admin"
ROLES = (OFFICER, ANALYST, ADMIN)


def ensure_groups() -> dict[str, Group]:
    return {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}


def has_role(user, role: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()


def role_required(role: str, message: str):
    """A page view for one role: anonymous users go to sign in, others get 403 with ``message``."""
    from functools import wraps

    from django.contrib.auth.decorators import login_required
    from django.core.exceptions import PermissionDenied

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
