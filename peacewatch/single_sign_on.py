"""Single sign-on through OpenID Connect: the force's identity provider says who signs in and what they may do.

mozilla-django-oidc runs the authorization-code flow (with PKCE and a nonce)
and checks the ID token's signature against the provider's keys; this module
decides who that person is here and what they get:

- **Who.** A person is the provider's ``sub`` at ``OIDC_OP_ISSUER``
  (:class:`~peacewatch.models.SignOnIdentity`), never an e-mail address or a
  username, so a local account named like someone at the provider is never
  taken over. The first sign-in creates the account, named after
  ``preferred_username`` (made unique), with no usable password.
- **What.** At every sign-in the roles and squads are set from the
  provider's claims, replacing what the account had: ``OIDC_ROLES_CLAIM``
  (default ``roles``) lists roles, mapped by ``OIDC_ROLE_MAP``
  (``provider-value=role,...``; unmapped values are ignored; by default a
  value that is a PeaceWatch role name is that role), and ``OIDC_SQUADS_CLAIM``
  (default ``squads``) lists squads, ``*`` meaning every squad. Someone the
  provider gives no PeaceWatch role is refused, and the refusal is in the audit
  log. Admins and auditors get the admin site (``is_staff``).
- **Second factor.** The provider's own: an account signed in this way is not
  asked for PeaceWatch's TOTP (``peacewatch/second_factor.py``), which is for
  local accounts, kept for the embedded default and as break-glass.

A role or squad taken away at the provider applies at that person's next
sign-in, or when their shift ends (``SESSION_MAX_AGE``); to cut someone off at
once, deactivate the account here, which closes their live map within seconds.
"""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.models import Group
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from peacewatch import accountability
from peacewatch.logs import log
from peacewatch.roles import ADMIN, AUDITOR, ROLES

logger = logging.getLogger(__name__)

BACKEND = "peacewatch.single_sign_on.SingleSignOnBackend"
SQUAD_PREFIX = "squad:"  # the groups of ingest.squads; a claim "*" gives "squad:*", every squad


def role_map(setting: str) -> dict[str, str]:
    """``OIDC_ROLE_MAP`` ("provider-value=role,...") as a dict; every role name maps to itself unless remapped."""
    mapping = {role: role for role in ROLES}
    for pair in filter(None, (part.strip() for part in setting.split(","))):
        value, _, role = pair.partition("=")
        mapping[value.strip()] = role.strip()
    return mapping


def _listed(claims: dict, name: str) -> list[str]:
    value = claims.get(name)
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and item]


def granted(claims: dict) -> tuple[set[str], set[str]]:
    """The PeaceWatch roles and the squad groups these claims give."""
    mapping = role_map(settings.OIDC_ROLE_MAP)
    roles = {mapping[value] for value in _listed(claims, settings.OIDC_ROLES_CLAIM) if value in mapping}
    squads = {SQUAD_PREFIX + squad for squad in _listed(claims, settings.OIDC_SQUADS_CLAIM)}
    return roles & set(ROLES), squads


def signed_in_here(request) -> bool:
    """Whether this request's session was opened by single sign-on."""
    session = getattr(request, "session", None)
    return session is not None and session.get(BACKEND_SESSION_KEY) == BACKEND


class SingleSignOnBackend(OIDCAuthenticationBackend):
    def authenticate(self, request, **kwargs):
        try:
            return super().authenticate(request, **kwargs)
        except (requests.RequestException, ValueError) as exc:
            # The provider unreachable or answering nonsense: no sign-in, no server error.
            log(logger, logging.WARNING, "sign_on_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return None

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            sign_on_identity__issuer=settings.OIDC_OP_ISSUER, sign_on_identity__subject=str(claims.get("sub", ""))
        )

    def verify_claims(self, claims) -> bool:
        roles, _ = granted(claims)
        if claims.get("sub") and roles:
            return True
        subject = str(claims.get("sub", ""))[:100]
        log(logger, logging.WARNING, "sign_on_refused", subject=subject, reason="no PeaceWatch role in the claims")
        accountability.record(
            None,
            "auth.sign_in_failed",
            ip=accountability.client_ip(getattr(self, "request", None)),
            username=str(claims.get("preferred_username") or subject)[:150],
            method="single sign-on",
            reason="the provider gives this person no PeaceWatch role",
        )
        return False

    @transaction.atomic
    def create_user(self, claims):
        from peacewatch.models import SignOnIdentity

        user = self.UserModel.objects.create_user(self._free_username(claims), email=claims.get("email") or "")
        SignOnIdentity.objects.create(user=user, issuer=settings.OIDC_OP_ISSUER, subject=str(claims["sub"]))
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user, claims):
        roles, squads = granted(claims)
        wanted = set(Group.objects.filter(name__in=roles | squads))
        for name in squads - {group.name for group in wanted}:
            wanted.add(Group.objects.get_or_create(name=name)[0])
        managed = {group for group in user.groups.all() if group.name in ROLES or group.name.startswith(SQUAD_PREFIX)}
        if managed != wanted:
            user.groups.remove(*(managed - wanted))
            user.groups.add(*(wanted - managed))
        staff = bool(roles & {ADMIN, AUDITOR})
        wanted_fields = {
            "is_staff": staff,
            "first_name": str(claims.get("given_name") or "")[:150],
            "last_name": str(claims.get("family_name") or "")[:150],
        }
        changed = [field for field, value in wanted_fields.items() if getattr(user, field) != value]
        for field in changed:
            setattr(user, field, wanted_fields[field])
        if changed:
            user.save(update_fields=changed)
        return user

    def _free_username(self, claims) -> str:
        base = str(claims.get("preferred_username") or claims["sub"])[:140]
        taken = set(self.UserModel.objects.filter(username__startswith=base).values_list("username", flat=True))
        if base not in taken:
            return base
        return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)
