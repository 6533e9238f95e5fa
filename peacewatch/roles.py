"""The roles of PeaceWatch, as Django groups: officer, analyst, admin, auditor.

Officers and analysts work in the app's own pages, which check the role.
Admins and auditors work in the admin site, which checks Django permissions:
each group holds exactly the permissions its users need (``PERMISSIONS``),
set again on every ``migrate``. An admin runs the fleet, the alert settings
and the accounts, and does not read the audit log; an auditor reads it and
changes nothing.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

OFFICER, ANALYST, ADMIN, AUDITOR = "officer", "analyst", "admin", "auditor"
ROLES = (OFFICER, ANALYST, ADMIN, AUDITOR)

# "app_label.codename" per role; the admin site shows each user only what these allow.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    OFFICER: (),
    ANALYST: (),
    ADMIN: (
        "ingest.view_drone", "ingest.add_drone", "ingest.change_drone",
        "ingest.view_unknowndrone",
        "alerts.view_alertsettings", "alerts.change_alertsettings",
        "alerts.view_alert",
        "analytics.view_savedquery", "analytics.delete_savedquery",
        "analytics.view_export", "analytics.delete_export",
        "auth.view_user", "auth.add_user", "auth.change_user",
        "auth.view_group",
    ),
    AUDITOR: ("analytics.view_auditentry",),
}  # fmt: skip


def ensure_groups() -> dict[str, Group]:
    """The role groups, each with exactly its ``PERMISSIONS``."""
    groups = {}
    for name in ROLES:
        group = Group.objects.get_or_create(name=name)[0]
        wanted = [codename.split(".", 1) for codename in PERMISSIONS[name]]
        permissions = [
            Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in wanted
        ]
        group.permissions.set(permissions)
        groups[name] = group
    return groups


def ensure_groups_after_migrate(sender, **kwargs) -> None:
    """``post_migrate`` for the last app: every permission exists by then."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    ensure_groups()


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
