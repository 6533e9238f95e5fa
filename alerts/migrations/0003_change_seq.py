"""The alert change sequence (CONTRACT section 3 v1.1): ``seq`` on alerts and events, and its counter.

Existing alerts are numbered in the order they last changed, and the counter
starts after them, so a browser's first ``after_seq`` catch-up sees them all.
"""

from django.conf import settings
from django.db import migrations, models

NUMBER_EXISTING = """
UPDATE alerts_alert SET seq = numbered.n
FROM (SELECT id, row_number() OVER (ORDER BY updated_at, id) AS n FROM alerts_alert) AS numbered
WHERE alerts_alert.id = numbered.id
"""


def number_existing(apps, schema_editor) -> None:
    Alert = apps.get_model("alerts", "Alert")
    ChangeCounter = apps.get_model("alerts", "ChangeCounter")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(NUMBER_EXISTING)  # PostgreSQL and SQLite >= 3.33 alike
    ChangeCounter.objects.create(pk=1, value=Alert.objects.count())


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_alert_actions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.AddField(
            model_name="alert",
            name="citizen_id",
            field=models.CharField(blank=True, help_text="The subject id, when reported.", max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="alert",
            name="confidence",
            field=models.FloatField(blank=True, help_text="Recognition confidence of the latest sighting.", null=True),
        ),
        migrations.AddField(
            model_name="alert",
            name="seq",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="outboxevent",
            name="seq",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["seq"], name="alert_seq"),
        ),
        migrations.RunPython(number_existing, migrations.RunPython.noop),
    ]
