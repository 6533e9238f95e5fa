from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.db.models.signals import m2m_changed

        from analytics import audit
        from peacewatch.accountability import action_taken

        action_taken.connect(audit.on_action, dispatch_uid="audit.action")
        user_logged_in.connect(audit.on_sign_in, dispatch_uid="audit.sign_in")
        user_login_failed.connect(audit.on_sign_in_failed, dispatch_uid="audit.sign_in_failed")
        user_logged_out.connect(audit.on_sign_out, dispatch_uid="audit.sign_out")
        groups = get_user_model().groups.through
        m2m_changed.connect(audit.on_roles_changed, sender=groups, dispatch_uid="audit.roles")
