from django.contrib import admin

from analytics import audit, exports, saved_queries
from analytics.models import AuditEntry, Export, SavedQuery
from peacewatch.admin import ReadOnlyAdmin, ViewAndDeleteAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "username", "action", "ip", "detail")
    list_filter = ("action", ("user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("username", "ip")
    date_hierarchy = "at"
    list_per_page = 100
    fields = ("seq", "at", "user", "username", "action", "ip", "query", "detail", "prev_hash", "hash")
    readonly_fields = fields
    # An audit trail that its subjects could edit would prove nothing: nobody
    # adds, changes or deletes entries here (ReadOnlyAdmin), superusers included.
    # Reading it takes the view permission, which the auditor role holds and
    # the admin role does not (peacewatch.roles).


@admin.register(SavedQuery)
class SavedQueryAdmin(ViewAndDeleteAdmin):
    list_display = ("name", "owner", "shared", "updated_at")
    list_filter = ("shared",)
    search_fields = ("name", "owner__username")
    date_hierarchy = "updated_at"
    fields = ("name", "owner", "shared", "query", "created_at", "updated_at")
    readonly_fields = fields

    # Deleting goes through the service so the audit log records it, as from the API.
    def delete_model(self, request, obj):
        saved_queries.delete_saved_query(obj, by=request.user, ip=audit.client_ip(request), by_admin=True)

    def delete_queryset(self, request, queryset):
        for saved in queryset.select_related("owner"):
            saved_queries.delete_saved_query(saved, by=request.user, ip=audit.client_ip(request), by_admin=True)


@admin.register(Export)
class ExportAdmin(ViewAndDeleteAdmin):
    list_display = ("id", "owner", "format", "status", "total", "rows_written", "created_at", "finished_at")
    list_filter = ("status", "format")
    search_fields = ("owner__username",)
    date_hierarchy = "created_at"
    fields = (
        "owner",
        "format",
        "status",
        "query",
        "total",
        "rows_written",
        "error",
        "file_path",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields

    def delete_model(self, request, obj):
        exports.delete_export(obj)

    def delete_queryset(self, request, queryset):
        for export in queryset:
            exports.delete_export(export)
