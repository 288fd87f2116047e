"""Small input/output serializers: shapes and types only; the rules live in the services."""
from django.db import models
from rest_framework import serializers

from annotation.hot_path.payloads import JUDGEMENT_KEYS
from annotation.importers import FORMATS
from annotation.input_checks import unstorable_json
from annotation.models import ComparisonTask, Judgement, Membership, Project
from annotation.services.projects import ANNOTATION_SETTINGS, TRAINING_SETTINGS

MAX_TEXT_CHARS = 100_000


class StorableJSONField(serializers.JSONField):
    """JSON that PostgreSQL can store: no NUL, no lone surrogate, no NaN or infinity (a 400
    naming the place instead of a database error). Text fields get the same from DRF's CharField."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        problem = unstorable_json(value, self.field_name)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class ProjectSerializer(serializers.ModelSerializer):
    """A project and its settings; `role` is the caller's role in it."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping,
                                models.JSONField: StorableJSONField}
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id", "name", "task_type", "responses_per_task", "overlap", "guidelines", "criteria",
            "rationale_required", "lease_seconds", "gold_rate", "gold_min_items", "gold_pause_threshold",
            "consensus_method", "task_order", "retrain_threshold", "algorithm", "hyperparameters",
            "base_policy_path", "reward_base_model", "rlaif_enabled", "rlaif_weight", "training_processes", "created_at", "role",
        ]
        read_only_fields = ["id", "created_at", "role"]
        extra_kwargs = {"guidelines": {"max_length": MAX_TEXT_CHARS}, "name": {"validators": []}}

    def get_role(self, project) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(project.pk)

    def validate_criteria(self, value):
        if not isinstance(value, list):
            raise serializers.ValidationError("criteria must be a list of names.")
        return value

    def validate_hyperparameters(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("hyperparameters must be an object.")
        return value


class ProjectUpdateSerializer(ProjectSerializer):
    class Meta(ProjectSerializer.Meta):
        fields = sorted(ANNOTATION_SETTINGS | TRAINING_SETTINGS)
        read_only_fields = []


class ProgressSerializer(serializers.Serializer):
    tasks = serializers.IntegerField()
    tasks_complete = serializers.IntegerField()
    tasks_started = serializers.IntegerField()
    gold_tasks = serializers.IntegerField()
    judgements = serializers.IntegerField()


class ProjectDetailSerializer(ProjectSerializer):
    progress = serializers.SerializerMethodField()

    class Meta(ProjectSerializer.Meta):
        fields = ProjectSerializer.Meta.fields + ["progress"]

    def get_progress(self, project) -> ProgressSerializer:
        return self.context.get("progress")


class MemberInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    password = serializers.CharField(required=False, allow_blank=False, max_length=128, write_only=True)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    paused = serializers.BooleanField(required=False)
    paused_reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="user.id")
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "is_ai", "paused", "paused_reason", "paused_at", "created_at"]


class ImportInputSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS)
    file = serializers.FileField(required=False)
    records = serializers.ListField(child=serializers.JSONField(), required=False, max_length=200_000)
    purpose = serializers.ChoiceField(choices=ComparisonTask.Purpose.choices, required=False)

    def validate(self, data):
        if ("file" in data) == ("records" in data):
            raise serializers.ValidationError({"file": "Send either a JSONL file or a records list, not both or neither."})
        return data


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    skipped_duplicates = serializers.IntegerField()
    errors = ImportErrorSerializer(many=True)


class JudgementInputSerializer(serializers.Serializer):
    """Types only: the ranking, criteria and flags are checked against the task by the service."""

    client_id = serializers.CharField(max_length=100)
    ranking = serializers.JSONField(required=False, help_text="Ordered tiers of response ids, best first.")
    both_bad = serializers.BooleanField(required=False, default=False)
    strength = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=4)
    criteria = serializers.JSONField(required=False, help_text="{criterion: ranking}")
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_CHARS, trim_whitespace=False)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=Judgement.Flag.choices), required=False)
    time_spent_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=24 * 3600 * 1000)
    text = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_CHARS, trim_whitespace=False,
                                 help_text="The ideal answer (demonstration tasks only).")


class JudgementSerializer(serializers.ModelSerializer):
    """Documents the shape; the hot path builds it with `annotation.hot_path.payloads.judgement_payload`."""

    class Meta:
        model = Judgement
        fields = list(JUDGEMENT_KEYS)


class SkipInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class AssignmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    expires_at = serializers.DateTimeField()
    skip_reason = serializers.CharField()


class GoldInputSerializer(serializers.Serializer):
    ranking = serializers.JSONField(help_text="The known answer: ordered tiers of response ids.")


class TaskSerializer(serializers.ModelSerializer):
    """A task as managers see it (canonical response order, purpose, known answer)."""

    prompt = serializers.SerializerMethodField()
    responses = serializers.SerializerMethodField()

    class Meta:
        model = ComparisonTask
        fields = [
            "id", "project", "purpose", "priority", "gold_ranking", "judgement_count", "is_complete",
            "uncertainty", "prompt", "responses", "metadata", "created_at",
        ]

    def get_prompt(self, task) -> dict:
        return {"id": task.prompt.pk, "text": task.prompt.text, "messages": task.prompt.messages}

    def get_responses(self, task) -> list[dict]:
        return [
            {"id": tr.response.pk, "text": tr.response.text, "source": tr.response.source}
            for tr in task.task_responses.all()
        ]


class NextTaskResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()


class NextPromptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    messages = serializers.JSONField(allow_null=True)


class NextTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project_id = serializers.IntegerField()
    task_type = serializers.CharField()
    prompt = NextPromptSerializer()
    responses = NextTaskResponseSerializer(many=True, help_text="In the order shown to this annotator.")
    criteria = serializers.ListField(child=serializers.CharField())
    rationale_required = serializers.BooleanField()


class NextAssignmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    leased_at = serializers.DateTimeField()


class NextSerializer(serializers.Serializer):
    assignment = NextAssignmentSerializer()
    task = NextTaskSerializer()


class MeProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.CharField()
    paused = serializers.BooleanField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_superuser = serializers.BooleanField()
    is_staff = serializers.BooleanField()
    projects = MeProjectSerializer(many=True)


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
