"""`python manage.py demo_users`: an officer, an analyst, an admin and an auditor with fresh passwords.

Run by `make run`; passwords are generated on every run and printed once. The
admin is not a superuser: it holds the admin role's permissions (``peacewatch.roles``)
and so does not read the audit log, which the auditor does.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from ingest.squads import all_squads_group
from peacewatch.roles import ADMIN, ANALYST, AUDITOR, OFFICER, ensure_groups


class Command(BaseCommand):
    help = "Create or reset the demo sign-ins (officer, analyst, admin, auditor) and print their passwords."

    @transaction.atomic
    def handle(self, *args, **options):
        groups = ensure_groups()
        User = get_user_model()
        lines = []
        for username, role in (("officer", OFFICER), ("analyst", ANALYST), ("admin", ADMIN), ("auditor", AUDITOR)):
            user, _ = User.objects.get_or_create(username=username)
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.is_staff = role in (ADMIN, AUDITOR)
            user.is_superuser = False
            user.save()
            # The demo officer works for the whole force: every squad (ingest.squads).
            user.groups.set([groups[role], all_squads_group()] if role == OFFICER else [groups[role]])
            lines.append(f"  {role:<8} username {username:<8} password {password}")
        text = "Demo sign-ins (new passwords on every run):\n" + "\n".join(lines)
        self.stdout.write(text)
        # runstack prints them again next to the URL, once everything is up.
        path = settings.VAR_DIR / "demo-signins.txt"
        path.write_text(text + "\n")
        path.chmod(0o600)
