"""The links of the top bar: each person sees the pages their roles open, never one that answers 403."""

from __future__ import annotations

from peacewatch.roles import ADMIN, ANALYST, OFFICER, ROLES

# (label, path, roles that open it; None: staff, as the admin site itself decides).
PAGES = (
    ("Live map", "/", {OFFICER}),
    ("Analytics", "/analytics/", {ANALYST}),
    # The API docs are open to anyone signed in; the link is for those who build on the API.
    ("API", "/api/docs/", {ANALYST, ADMIN}),
    ("Admin", "/admin/", None),
)


def roles_of(user) -> set[str]:
    """The roles ``user`` holds, in one query (``has_role``'s rule: a superuser holds them all)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(ROLES)
    return set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))


def links_for(user, current_path: str) -> list[dict]:
    if not user.is_authenticated:
        return []
    roles = roles_of(user)
    links = []
    for label, path, needs in PAGES:
        if (user.is_staff and user.is_active) if needs is None else bool(roles & needs):
            current = current_path == path if path == "/" else current_path.startswith(path)
            links.append({"label": label, "path": path, "current": current})
    return links


def navigation(request) -> dict:
    """Template context processor: ``nav_links`` for base.html."""
    user = getattr(request, "user", None)
    return {"nav_links": links_for(user, request.path) if user is not None else []}
