"""Who may do what in a project.

Roles live on `Membership` (annotator, manager, engineer); superusers act as every role in every
project, with or without a membership. Project creation is open to staff users and superusers.
Anyone with a membership (any role) may annotate; managers and engineers who want to label data
simply ask for work like annotators do.
"""
from django.contrib.auth.models import AbstractBaseUser

from annotation.errors import DomainError
from annotation.models import Membership, Project

Role = Membership.Role
# The role reported for a superuser, who acts as every role.
ADMIN = "admin"

MANAGE_ROLES = frozenset({Role.MANAGER})
TRAINING_ROLES = frozenset({Role.MANAGER, Role.ENGINEER})
# Training settings become arguments of training processes on the server: engineers (and admins).
TRAINING_SETTINGS_ROLES = frozenset({Role.ENGINEER})
ANNOTATE_ROLES = frozenset({Role.ANNOTATOR, Role.MANAGER, Role.ENGINEER})


def can_create_projects(user: AbstractBaseUser) -> bool:
    """Staff users and superusers create projects (and become their first manager)."""
    return bool(user.is_authenticated and (user.is_staff or user.is_superuser))


def membership_of(*, user: AbstractBaseUser, project: Project) -> Membership | None:
    """The user's membership in `project`, or None."""
    return Membership.objects.filter(project=project, user=user).first()


def role_of(*, user: AbstractBaseUser, project: Project) -> str | None:
    """The user's role in `project` ("admin" for every superuser, member or not), or None."""
    if user.is_superuser:
        return ADMIN
    membership = membership_of(user=user, project=project)
    if membership is not None:
        return membership.role
    return ADMIN if user.is_superuser else None


def require_role(*, user: AbstractBaseUser, project: Project, roles: frozenset, action: str,
                 field: str | None = None) -> str:
    """Returns the user's role if it is one of `roles` (superusers always pass); else raises 403/404.

    A user outside the project gets a 404, so project ids do not leak to strangers; `field`
    names the setting a 403 is about.
    """
    role = role_of(user=user, project=project)
    if role is None:
        raise DomainError(f"Project {project.pk} not found.", code="not_found", http_status=404)
    if role == ADMIN or role in roles:
        return role
    allowed = ", ".join(sorted(str(r) for r in roles))
    raise DomainError(
        f"Only {allowed} may {action} in this project; you are {role}.",
        code="forbidden",
        http_status=403,
        field=field,
    )
