from django.apps import AppConfig


class PeacewatchConfig(AppConfig):
    name = "peacewatch"
    verbose_name = "PeaceWatch"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from peacewatch.roles import ensure_groups_after_migrate

        # Sent once per app; the last app's comes after every app's permissions exist.
        last = list(apps.get_app_configs())[-1]
        post_migrate.connect(ensure_groups_after_migrate, sender=last, dispatch_uid="peacewatch.roles")
