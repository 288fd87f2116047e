"""The Django admin: browse everything; the few actions go through services."""
from django.contrib import admin, messages

from annotation.models import (
    Assignment,
    ComparisonTask,
    Iteration,
    Judgement,
    Membership,
    PolicyVersion,
    Project,
    Prompt,
    Response,
    RewardModelVersion,
    TrainingJob,
)
from annotation.services.assignments import assignments_expire
from annotation.services.projects import member_update


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "task_type", "overlap", "gold_rate", "algorithm", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]
    actions = ["expire_lapsed_leases"]

    @admin.action(description="Expire lapsed leases (tasks return to the pool)")
    def expire_lapsed_leases(self, request, queryset):
        expired = sum(assignments_expire(project=project) for project in queryset)
        self.message_user(request, f"{expired} lapsed leases expired.")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "is_ai", "paused", "paused_reason"]
    list_filter = ["role", "paused", "is_ai", "project"]
    search_fields = ["user__username", "project__name"]
    raw_id_fields = ["user"]
    actions = ["unpause"]

    @admin.action(description="Unpause the selected annotators")
    def unpause(self, request, queryset):
        for membership in queryset.filter(paused=True):
            member_update(project=membership.project, actor=request.user, user_id=membership.user_id, paused=False)
        self.message_user(request, "Unpaused.", messages.SUCCESS)


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "split", "__str__", "created_at"]
    list_filter = ["split", "project"]
    search_fields = ["text"]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "prompt", "source", "__str__"]
    list_filter = ["source"]
    raw_id_fields = ["prompt", "policy_version"]


@admin.register(ComparisonTask)
class ComparisonTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "purpose", "priority", "judgement_count", "is_complete"]
    list_filter = ["purpose", "is_complete", "project"]
    raw_id_fields = ["prompt", "iteration"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "annotator", "state", "leased_at", "expires_at"]
    list_filter = ["state", "project"]
    raw_id_fields = ["task", "annotator"]


@admin.register(Judgement)
class JudgementAdmin(admin.ModelAdmin):
    """Judgements are never edited: an undo records a replacement."""

    list_display = ["id", "task", "annotator", "pair_outcome", "strength", "both_bad", "replaces", "created_at"]
    list_filter = ["project", "both_bad", "is_ai"]
    raw_id_fields = ["assignment", "task", "annotator", "replaces", "demonstration"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


for model in (PolicyVersion, RewardModelVersion, Iteration, TrainingJob):
    admin.site.register(model)
