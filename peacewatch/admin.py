"""Admin pieces shared by the apps; every change made through the admin is in the audit log."""

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, User
from django.template.response import TemplateResponse

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


CONFIRMED = "confirmed"
# Objects named on a confirmation page; the count says the rest.
CONFIRM_LISTED = 20


def confirmed(request) -> bool:
    """Whether an admin action's POST comes from its confirmation page."""
    return request.POST.get(CONFIRMED) == "yes"


def confirm_action(modeladmin, request, queryset, *, verb: str, consequence: str) -> TemplateResponse:
    """The page an admin action shows before it changes anything: what it does and to how many.

    The form posts the same action back to the same list URL (filters and
    search included) with the rows ticked on the page and, when "select all"
    was used, ``select_across``, so Django rebuilds the same selection: a
    fleet of thousands never travels as thousands of form fields.
    """
    opts = modeladmin.model._meta
    count = queryset.count()
    names = opts.verbose_name if count == 1 else opts.verbose_name_plural
    select_across = request.POST.get("select_across") == "1"
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{verb} {count} {names}?",
        "verb": verb,
        "consequence": consequence,
        "count": count,
        "names": names,
        "listed": [str(obj) for obj in queryset[:CONFIRM_LISTED]],
        "more": max(0, count - CONFIRM_LISTED),
        "opts": opts,
        "action": request.POST.get("action", ""),
        "index": request.POST.get("index", "0"),
        "select_across": select_across,
        # Django asks for ticked rows even when select_across widens them to the whole list.
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "form_url": request.get_full_path(),
    }
    return TemplateResponse(request, "admin/confirm_action.html", context)


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
