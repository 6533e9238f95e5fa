"""Squads scope what officers see (ingest.squads): officers there before keep seeing every squad."""

from django.db import migrations


def grant_all_squads(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    everything = Group.objects.get_or_create(name="squad:*")[0]
    officers = Group.objects.filter(name="officer").first()
    if officers is not None:
        everything.user_set.add(*officers.user_set.all())


class Migration(migrations.Migration):
    dependencies = [("peacewatch", "0001_roles")]
    operations = [migrations.RunPython(grant_all_squads, migrations.RunPython.noop)]
