"""Signing in: a token for scripts, a session for the browser, and who the caller is."""
from django.contrib.auth import authenticate, login, logout
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.serializers import LoginSerializer, MeSerializer
from annotation.errors import DomainError
from annotation.selectors.projects import user_projects_with_roles


class TokenView(ObtainAuthToken):
    """`POST {username, password}` -> `{token}` (DRF's obtain_auth_token)."""


def me_payload(user) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "is_superuser": user.is_superuser,
        "is_staff": user.is_staff,
        "projects": user_projects_with_roles(user=user),
    }


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="The signed-in user and their projects with roles")
    def get(self, request):
        return Response(me_payload(request.user))


class SessionView(APIView):
    """Browser sign-in: `POST {username, password}` starts a session; `DELETE` ends it."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=LoginSerializer, responses=MeSerializer, summary="Sign in (session cookie)")
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None:
            raise DomainError("Wrong username or password.", code="invalid_credentials", http_status=400, field="password")
        login(request, user)
        return Response(me_payload(user))

    @extend_schema(request=None, responses={204: None}, summary="Sign out")
    def delete(self, request):
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)
