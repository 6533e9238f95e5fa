"""The platform's own rows: who a person is at the force's identity provider."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SignOnIdentity(models.Model):
    """A PeaceWatch account's person at an OpenID Connect provider (``peacewatch/single_sign_on.py``).

    The provider's subject identifier is the only stable name it gives; e-mail
    addresses and usernames change and are reused.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_on_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="one_account_per_sign_on_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
