"""The audit log becomes a hash chain: existing entries are numbered and hashed in the order they were written."""

from django.db import migrations, models

GENESIS = "0" * 64


def chain_existing(apps, schema_editor):
    from analytics.audit import entry_hash

    AuditEntry = apps.get_model("analytics", "AuditEntry")
    AuditChain = apps.get_model("analytics", "AuditChain")
    prev_hash, seq = GENESIS, 0
    for entry in AuditEntry.objects.order_by("at", "id").iterator(chunk_size=2000):
        seq += 1
        entry.seq, entry.prev_hash = seq, prev_hash
        entry.hash = entry_hash(entry)
        entry.save(update_fields=["seq", "prev_hash", "hash"])
        prev_hash = entry.hash
    AuditChain.objects.create(id=1, seq=seq, hash=prev_hash, base_seq=0, base_hash=GENESIS)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_audit_export_download"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChain",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.BigIntegerField(default=0)),
                ("hash", models.CharField(max_length=64)),
                ("base_seq", models.BigIntegerField(default=0)),
                ("base_hash", models.CharField(max_length=64)),
            ],
        ),
        migrations.AlterModelOptions(
            name="auditentry",
            options={"ordering": ["-seq"], "verbose_name": "audit entry", "verbose_name_plural": "audit log"},
        ),
        migrations.AddField(model_name="auditentry", name="seq", field=models.BigIntegerField(null=True)),
        migrations.AddField(
            model_name="auditentry", name="prev_hash", field=models.CharField(default="", max_length=64)
        ),
        migrations.AddField(model_name="auditentry", name="hash", field=models.CharField(default="", max_length=64)),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField(model_name="auditentry", name="seq", field=models.BigIntegerField(unique=True)),
        migrations.AlterField(model_name="auditentry", name="prev_hash", field=models.CharField(max_length=64)),
        migrations.AlterField(model_name="auditentry", name="hash", field=models.CharField(max_length=64)),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("search", "Search"),
                    ("saved_query.create", "Saved Query Create"),
                    ("saved_query.update", "Saved Query Update"),
                    ("saved_query.delete", "Saved Query Delete"),
                    ("export", "Export"),
                    ("export.download", "Export Download"),
                    ("auth.sign_in", "Sign In"),
                    ("auth.sign_in_failed", "Sign In Failed"),
                    ("auth.sign_out", "Sign Out"),
                    ("alert.change", "Alert Change"),
                    ("drone.register", "Drone Register"),
                    ("drone.token", "Drone Token"),
                    ("drone.retire", "Drone Retire"),
                    ("drone.reactivate", "Drone Reactivate"),
                    ("user.roles", "User Roles"),
                    ("admin.add", "Admin Add"),
                    ("admin.change", "Admin Change"),
                    ("admin.delete", "Admin Delete"),
                ],
                max_length=30,
            ),
        ),
    ]
