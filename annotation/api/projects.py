"""Projects, their settings and their members."""
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.serializers import (
    MemberInputSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    ProjectDetailSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
)
from annotation.errors import DomainError
from annotation.permissions import MANAGE_ROLES, require_role, role_of
from annotation.selectors.projects import (
    members_of,
    project_get_for_user,
    project_progress,
    projects_visible_to,
    user_projects_with_roles,
)
from annotation.services.projects import member_add, member_update, project_create, project_update


def _reject_unknown_fields(data, allowed) -> None:
    if not isinstance(data, dict):
        raise DomainError("The body must be a JSON object.", field="body")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise DomainError(f"{unknown[0]!r} is not a field here (or cannot be changed).", field=unknown[0])


class ProjectListView(APIView):
    @extend_schema(responses=ProjectSerializer(many=True), summary="The caller's projects")
    def get(self, request):
        roles = {p["id"]: p["role"] for p in user_projects_with_roles(user=request.user)}
        projects = projects_visible_to(user=request.user).order_by("name")
        return Response(ProjectSerializer(projects, many=True, context={"roles": roles}).data)

    @extend_schema(request=ProjectSerializer, responses={201: ProjectSerializer},
                   summary="Create a project (staff and admins; the creator becomes its manager)")
    def post(self, request):
        _reject_unknown_fields(request.data, set(ProjectSerializer.Meta.fields) - {"id", "created_at", "role"})
        data = ProjectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_create(creator=request.user, **data.validated_data)
        return Response(ProjectSerializer(project, context={"roles": {project.pk: "manager"}}).data,
                        status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    def _detail(self, request, project):
        context = {
            "roles": {project.pk: role_of(user=request.user, project=project)},
            "progress": project_progress(project=project),
        }
        return Response(ProjectDetailSerializer(project, context=context).data)

    @extend_schema(responses=ProjectDetailSerializer, summary="A project with its settings and progress")
    def get(self, request, project_id: int):
        return self._detail(request, project_get_for_user(user=request.user, project_id=project_id))

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectDetailSerializer,
                   summary="Change settings (annotation settings: managers; training settings: managers, engineers)")
    def patch(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        _reject_unknown_fields(request.data, ProjectUpdateSerializer.Meta.fields)
        data = ProjectUpdateSerializer(project, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = project_update(project=project, actor=request.user, **data.validated_data)
        return self._detail(request, project)


class MemberListView(APIView):
    @extend_schema(responses=MemberSerializer(many=True), summary="Members of a project (managers)")
    def get(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        require_role(user=request.user, project=project, roles=MANAGE_ROLES, action="list members")
        return Response(MemberSerializer(members_of(project=project), many=True).data)

    @extend_schema(request=MemberInputSerializer, responses={201: MemberSerializer, 200: MemberSerializer},
                   summary="Add a member; creates the user when a password is given (managers and admins)")
    def post(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        data = MemberInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership, created = member_add(project=project, actor=request.user, **data.validated_data)
        return Response(MemberSerializer(membership).data, status=201 if created else 200)


class MemberDetailView(APIView):
    @extend_schema(request=MemberUpdateSerializer, responses=MemberSerializer,
                   summary="Change a member's role, or pause/unpause them (managers)")
    def patch(self, request, project_id: int, user_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        _reject_unknown_fields(request.data, MemberUpdateSerializer().fields)
        data = MemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = member_update(project=project, actor=request.user, user_id=user_id, **data.validated_data)
        return Response(MemberSerializer(membership).data)
