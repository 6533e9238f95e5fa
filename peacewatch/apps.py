from django.apps import AppConfig


class PeacewatchConfig(AppConfig):
    name = "peacewatch"
    verbose_name = "PeaceWatch"

    def ready(self) -> None:
        from django.apps import apps
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from peacewatch.roles import ensure_groups_after_migrate
        from peacewatch.sessions import on_sign_in

        user_logged_in.connect(on_sign_in, dispatch_uid="peacewatch.sessions")
        # Sent once per app; the last app's comes after every app's permissions exist.
        last = list(apps.get_app_configs())[-1]
        post_migrate.connect(ensure_groups_after_migrate, sender=last, dispatch_uid="peacewatch.roles")
