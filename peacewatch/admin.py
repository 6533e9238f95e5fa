"""Admin pieces shared by the apps."""

from django.contrib import admin


class ViewAndDeleteAdmin(admin.ModelAdmin):
    """Rows that only the system writes: admins look, and may delete, but never add or edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ViewAndDeleteAdmin):
    """Rows nobody may touch (the stream's, the audit trail): admins look."""

    def has_delete_permission(self, request, obj=None):
        return False
