"""Signing in: a token for scripts, a session for the browser, and who the caller is."""
from django.contrib.auth import authenticate, login, logout
from django.db import transaction
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.authentication import token_expires_at, token_is_fresh
from annotation.api.serializers import LoginSerializer, MeSerializer
from annotation.api.throttles import SignInThrottleMixin, sign_in_succeeded
from annotation.errors import DomainError
from annotation.selectors.projects import user_projects_with_roles


class TokenView(SignInThrottleMixin, ObtainAuthToken):
    """`POST {username, password}` -> `{token, expires_at}`: the caller's token, a new one when
    theirs has expired (DRF's obtain_auth_token, with an expiry)."""

    @extend_schema(
        request=LoginSerializer,
        responses=inline_serializer("IssuedToken", {"token": serializers.CharField(),
                                                   "expires_at": serializers.DateTimeField()}),
        summary="Sign in (API token)",
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sign_in_succeeded(request)
        token = _fresh_token(serializer.validated_data["user"])
        return Response({"token": token.key, "expires_at": token_expires_at(token.created)})


@transaction.atomic
def _fresh_token(user) -> Token:
    """The user's token, replaced by a new one when it has expired (rows locked: two parallel
    sign-ins get the same new token)."""
    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and not token_is_fresh(token.created.timestamp()):
        token.delete()
        token = None
    if token is None:
        token, _ = Token.objects.get_or_create(user=user)
    return token


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


@method_decorator(ensure_csrf_cookie, name="dispatch")
class SessionView(SignInThrottleMixin, APIView):
    """The browser's session. `GET` says who is signed in (204: nobody) and sets the CSRF cookie;
    `POST {username, password}` starts a session; `DELETE` ends it. Both need the CSRF cookie's
    value in `X-CSRFToken`, so another site cannot sign a browser in or out."""

    permission_classes = [AllowAny]
    authentication_classes = [SessionAuthentication]

    def initial(self, request, *args, **kwargs):
        # DRF exempts its views from Django's CSRF check and leaves it to SessionAuthentication,
        # which checks only a signed-in session's requests: signing in is checked here.
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            SessionAuthentication().enforce_csrf(request)
        super().initial(request, *args, **kwargs)

    @extend_schema(responses={200: MeSerializer, 204: None}, summary="Who is signed in (session cookie)")
    def get(self, request):
        if not request.user.is_authenticated:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(me_payload(request.user))

    @extend_schema(request=LoginSerializer, responses=MeSerializer, summary="Sign in (session cookie)")
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None:
            raise DomainError("Wrong username or password.", code="invalid_credentials", http_status=400, field="password")
        sign_in_succeeded(request)
        login(request, user)
        return Response(me_payload(user))

    @extend_schema(request=None, responses={204: None}, summary="Sign out")
    def delete(self, request):
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)
