"""Admin pieces shared by the apps; every change made through the admin is in the audit log."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, User

from peacewatch import accountability as audit


class AuditedAdmin(admin.ModelAdmin):
    """Where Django's admin writes its own history, the audit log gets the same change.

    Django's ``LogEntry`` is an ordinary table any admin with rights on it could
    edit; the audit log is the chained record (``analytics.audit``).
    """

    def log_addition(self, request, obj, message):
        self._audit(request, "admin.add", [obj], message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, "admin.change", [obj], message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        self._audit(request, "admin.delete", list(queryset), "")
        return super().log_deletions(request, queryset)

    def _audit(self, request, action: str, objects: list, message) -> None:
        for obj in objects:
            audit.record(
                request.user,
                action,
                ip=audit.client_ip(request),
                model=obj._meta.label_lower,
                object_id=str(obj.pk),
                object=str(obj)[:200],
                # Django's change message: which fields changed (never their values, which may be secrets).
                message=message if isinstance(message, list | str) else str(message),
            )


class ViewAndDeleteAdmin(AuditedAdmin):
    """Rows that only the system writes: admins look, and may delete, but never add or edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ViewAndDeleteAdmin):
    """Rows nobody may touch (the stream's, the audit trail): admins look."""

    def has_delete_permission(self, request, obj=None):
        return False


# Users and roles are the most sensitive things the admin changes.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(AuditedAdmin, DjangoGroupAdmin):
    pass
