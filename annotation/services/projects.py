"""Creating and configuring projects, and managing who works in them."""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from annotation.errors import DomainError
from annotation.input_checks import name_problem
from annotation.models import ComparisonTask, Membership, Project
from annotation.permissions import (
    MANAGE_ROLES,
    TRAINING_SETTINGS_ROLES,
    can_create_projects,
    require_role,
)
from annotation.services.training_settings import hyperparameters_validate, model_reference_check

# Settings only an engineer (or admin) may change; everything else in PATCH is a manager's decision.
TRAINING_SETTINGS = frozenset(
    {
        "retrain_threshold",
        "algorithm",
        "hyperparameters",
        "base_policy_path",
        "reward_base_model",
        "rlaif_enabled",
        "rlaif_weight",
        "training_processes",
    }
)
ANNOTATION_SETTINGS = frozenset(
    {
        "name",
        "guidelines",
        "overlap",
        "criteria",
        "rationale_required",
        "lease_seconds",
        "gold_rate",
        "gold_min_items",
        "gold_pause_threshold",
        "consensus_method",
        "task_order",
    }
)
MAX_CRITERIA = 20
# AI judgements count this many times a human's at most: beyond ~10 a handful of AI labels outvote
# any human overlap (at most 50), so the consensus would no longer be the annotators'.
MAX_RLAIF_WEIGHT = 10.0


def _check_name(name: str) -> str:
    problem = name_problem(name, "name")
    if problem:
        raise DomainError(problem, field="name")
    return name


def _check_criteria(criteria) -> list[str]:
    if not isinstance(criteria, list) or not all(isinstance(c, str) for c in criteria):
        raise DomainError("criteria must be a list of names.", field="criteria")
    cleaned = [c.strip() for c in criteria]
    if any(not c or len(c) > 100 for c in cleaned):
        raise DomainError("Each criterion needs a name of 1-100 characters.", field="criteria")
    for index, criterion in enumerate(cleaned):
        problem = name_problem(criterion, f"criteria[{index}]")
        if problem:
            raise DomainError(problem, field="criteria")
    if len(set(cleaned)) != len(cleaned):
        raise DomainError("criteria must not repeat a name.", field="criteria")
    if len(cleaned) > MAX_CRITERIA:
        raise DomainError(f"At most {MAX_CRITERIA} criteria.", field="criteria")
    return cleaned


def _check_training_settings(settings: dict) -> dict:
    """The training settings among `settings`, checked; hyperparameters in canonical form."""
    if "hyperparameters" in settings:
        settings["hyperparameters"] = hyperparameters_validate(settings["hyperparameters"])
    for field in ("base_policy_path", "reward_base_model"):
        if field in settings:
            model_reference_check(settings[field], field=field)
    if "rlaif_weight" in settings and not 0 <= settings["rlaif_weight"] <= MAX_RLAIF_WEIGHT:
        raise DomainError(f"rlaif_weight must be between 0 and {MAX_RLAIF_WEIGHT:g}.", field="rlaif_weight")
    return settings


def _check_training_processes(value) -> None:
    """None means the deployment's default; otherwise 1 .. settings.TRAINING_MAX_PROCESSES."""
    from django.conf import settings

    if value is None:
        return
    maximum = settings.TRAINING_MAX_PROCESSES
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise DomainError(f"training_processes must be a whole number from 1 to {maximum} (or null).",
                          field="training_processes")


def _check_shape(*, task_type: str, responses_per_task: int) -> None:
    if task_type == Project.TaskType.PAIRWISE and responses_per_task != 2:
        raise DomainError("A pairwise project has exactly 2 responses per task.", field="responses_per_task")


def _check_unique_name(name: str, *, exclude_pk: int | None = None) -> None:
    if Project.objects.filter(name=name).exclude(pk=exclude_pk).exists():
        raise DomainError(f"A project named {name!r} already exists.", code="conflict", http_status=409, field="name")


@transaction.atomic
def project_create(*, creator: AbstractBaseUser, name: str, task_type: str = Project.TaskType.PAIRWISE,
                   responses_per_task: int = 2, overlap: int = 1, guidelines: str = "",
                   criteria: list | None = None, **settings) -> Project:
    """Creates a project; its creator becomes its first manager. Staff and superusers only."""
    if not can_create_projects(creator):
        raise DomainError("Only staff users and admins may create projects.", code="forbidden", http_status=403)
    _check_shape(task_type=task_type, responses_per_task=responses_per_task)
    _check_name(name)
    _check_unique_name(name)
    unknown = set(settings) - TRAINING_SETTINGS - ANNOTATION_SETTINGS
    if unknown:
        raise DomainError(f"Unknown project setting {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    settings = _check_training_settings(settings)
    _check_training_processes(settings.get("training_processes"))
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=name,
                task_type=task_type,
                responses_per_task=responses_per_task,
                overlap=overlap,
                guidelines=guidelines,
                criteria=_check_criteria(criteria or []),
                created_by=creator,
                **settings,
            )
    except IntegrityError:  # a concurrent request took the name between the check and here
        raise DomainError(f"A project named {name!r} already exists.", code="conflict", http_status=409,
                          field="name") from None
    Membership.objects.create(project=project, user=creator, role=Membership.Role.MANAGER)
    return project


@transaction.atomic
def project_update(*, project: Project, actor: AbstractBaseUser, **changes) -> Project:
    """Changes settings: annotation settings by managers, training settings by engineers (admins
    both). A setting sent with its current value is no change, so a form may send every field.

    Changing the overlap re-derives which tasks are complete, in the same transaction.
    """
    unknown = set(changes) - TRAINING_SETTINGS - ANNOTATION_SETTINGS
    if unknown:
        field = sorted(unknown)[0]
        raise DomainError(f"{field!r} cannot be changed here.", field=field)
    require_role(user=actor, project=project, roles=MANAGE_ROLES | TRAINING_SETTINGS_ROLES, action="change settings")
    changed = sorted(field for field, value in changes.items() if getattr(project, field) != value)
    for field in changed:
        if field in ANNOTATION_SETTINGS:
            require_role(user=actor, project=project, roles=MANAGE_ROLES, action=f"change {field}", field=field)
        else:
            require_role(user=actor, project=project, roles=TRAINING_SETTINGS_ROLES, action=f"change {field}",
                         field=field)
    if "criteria" in changes:
        changes["criteria"] = _check_criteria(changes["criteria"])
    if "training_processes" in changes:
        _check_training_processes(changes["training_processes"])
    if "name" in changes:
        _check_name(changes["name"])
        _check_unique_name(changes["name"], exclude_pk=project.pk)
    changes = _check_training_settings(changes)
    project = Project.objects.select_for_update().get(pk=project.pk)
    overlap_changed = "overlap" in changes and changes["overlap"] != project.overlap
    for field, value in changes.items():
        setattr(project, field, value)
    project.save(update_fields=list(changes) or None)
    if overlap_changed:
        ComparisonTask.objects.filter(project=project).update(
            is_complete=Case(
                When(Q(judgement_count__gte=project.overlap) & ~Q(purpose=ComparisonTask.Purpose.GOLD),
                     then=Value(True)),
                default=Value(False),
            )
        )
    return project


@transaction.atomic
def member_add(*, project: Project, actor: AbstractBaseUser, username: str, role: str,
               password: str | None = None) -> tuple[Membership, bool]:
    """Adds (or re-roles) a member; creates the user when a password is given and none exists.

    For an existing user a password is accepted only if it is already theirs, so a manager can
    re-run a set-up script but cannot take over an account. Returns (membership, created).
    """
    require_role(user=actor, project=project, roles=MANAGE_ROLES, action="add members")
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        if not password:
            raise DomainError(
                f"No user named {username!r}; give a password to create one.",
                code="not_found", http_status=404, field="username",
            )
        try:
            User.username_validator(username)
        except ValidationError as error:
            raise DomainError(" ".join(error.messages), field="username") from error
        try:
            validate_password(password)
        except ValidationError as error:
            raise DomainError(" ".join(error.messages), field="password") from error
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=username, password=password)
        except IntegrityError:
            raise DomainError(f"User {username!r} was just created by another request; add them again.",
                              code="conflict", http_status=409, field="username") from None
    elif password and not user.check_password(password):
        raise DomainError(
            f"User {username!r} already exists; omit the password to add them.",
            code="conflict", http_status=409, field="password",
        )
    membership, created = Membership.objects.get_or_create(
        project=project, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership, created


@transaction.atomic
def member_update(*, project: Project, actor: AbstractBaseUser, user_id: int, role: str | None = None,
                  paused: bool | None = None, paused_reason: str = "") -> Membership:
    """Changes a member's role or pauses/unpauses them (managers and admins)."""
    require_role(user=actor, project=project, roles=MANAGE_ROLES, action="change members")
    membership = Membership.objects.select_for_update().filter(project=project, user_id=user_id).first()
    if membership is None:
        raise DomainError(f"User {user_id} is not a member of this project.", code="not_found", http_status=404)
    if role is not None:
        membership.role = role
    if paused is not None and paused != membership.paused:
        membership.paused = paused
        membership.paused_at = timezone.now() if paused else None
        membership.paused_reason = (paused_reason or "Paused by a manager.") if paused else ""
    membership.save()
    return membership
