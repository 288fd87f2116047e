"""Signing in safely: limits on password guesses, CSRF on session sign-in, API tokens that expire."""
import datetime
import json
import os
import uuid

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.api import authentication
from tests.annotation.factories import add_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db



def sign_in(path: str, username: str, password: str, *, address: str, client: APIClient | None = None):
    client = client or APIClient()
    return client.post(path, {"username": username, "password": password}, format="json", REMOTE_ADDR=address)


@pytest.fixture
def redis_cache():
    """The counts in Redis, as in production, under a prefix of this test's own: nothing counted
    by another test or run is seen (the keys expire with their window)."""
    redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache",
             "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
             "KEY_PREFIX": f"sign-in-test-{uuid.uuid4().hex}"}
    with override_settings(CACHES={"default": redis}):
        yield cache


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/auth/session/"])
def test_guessing_a_password_from_one_address_is_refused_with_429_after_the_limit(path, redis_cache, settings):
    settings.SIGN_IN_THROTTLE_RATES = {"address": "3/min", "username": "100/min"}
    make_user("victim", password="right-password-1")
    client = APIClient(enforce_csrf_checks=False)
    for attempt in range(3):
        assert sign_in(path, "victim", f"guess-{attempt}", address="10.0.0.1", client=client).status_code in (400, 403)
    refused = sign_in(path, "victim", "right-password-1", address="10.0.0.1", client=client)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Another address is not held back by this one's failures.
    assert sign_in(path, "victim", "right-password-1", address="10.0.0.2").status_code == 200


@pytest.mark.parametrize("path", ["/admin/login/", "/api-auth/login/"])
def test_djangos_own_sign_in_forms_share_the_limit(path, redis_cache, settings):
    from django.test import Client

    settings.SIGN_IN_THROTTLE_RATES = {"address": "3/min", "username": "100/min"}
    make_user("staffer", staff=True, password="right-password-1")
    signed_in = Client(REMOTE_ADDR="10.0.4.1").post(path, {"username": "staffer", "password": "right-password-1"})
    assert signed_in.status_code == 302  # not counted
    form = Client(REMOTE_ADDR="10.0.4.1")
    for attempt in range(3):
        assert form.post(path, {"username": "staffer", "password": f"guess-{attempt}"}).status_code == 200
    refused = form.post(path, {"username": "staffer", "password": "right-password-1"})
    assert refused.status_code == 429 and b"Too many failed sign-in attempts" in refused.content
    assert int(refused["Retry-After"]) >= 1
    assert "_auth_user_id" not in form.session


def test_successful_sign_ins_do_not_count_so_a_room_behind_one_address_gets_in(redis_cache, settings):
    settings.SIGN_IN_THROTTLE_RATES = {"address": "3/min", "username": "3/min"}
    for n in range(8):
        make_user(f"annotator-{n}", password="right-password-1")
        assert sign_in("/api/auth/token/", f"annotator-{n}", "right-password-1", address="10.0.1.1").status_code == 200
    assert sign_in("/api/auth/token/", "annotator-0", "right-password-1", address="10.0.1.1").status_code == 200


def test_guesses_at_one_username_from_many_addresses_are_refused_after_the_limit(redis_cache, settings):
    settings.SIGN_IN_THROTTLE_RATES = {"address": "100/min", "username": "3/min"}
    make_user("target", password="right-password-1")
    make_user("bystander", password="right-password-1")
    for attempt in range(3):
        assert sign_in("/api/auth/token/", "Target", f"guess-{attempt}", address=f"10.0.2.{attempt}").status_code == 400
    assert sign_in("/api/auth/token/", "target", "right-password-1", address="10.0.2.9").status_code == 429
    assert sign_in("/api/auth/token/", "bystander", "right-password-1", address="10.0.2.9").status_code == 200


def test_parallel_guesses_cannot_slip_past_the_limit(redis_cache, settings):
    """The count is an atomic increment at arrival, so a burst is counted attempt by attempt."""
    from concurrent.futures import ThreadPoolExecutor

    from annotation.api.throttles import FailedSignInByAddressThrottle

    settings.SIGN_IN_THROTTLE_RATES = {"address": "5/min", "username": "100/min"}

    class Request:
        method = "POST"
        META = {"REMOTE_ADDR": "10.0.3.1"}
        headers: dict = {}
        data: dict = {}

    with ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(lambda _: FailedSignInByAddressThrottle().allow_request(Request(), None), range(40)))
    assert allowed.count(True) == 5


def test_the_default_cache_is_redis_when_redis_is_configured():
    """Every web process must see the same counts: the settings pick Redis from REDIS_URL."""
    import importlib

    from config.settings import base

    assert os.environ.get("REDIS_URL")
    assert importlib.reload(base).CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


def test_session_sign_in_from_another_site_without_the_csrf_token_is_refused():
    make_user("browser", password="right-password-1")
    attacker = APIClient(enforce_csrf_checks=True)
    refused = attacker.post("/api/auth/session/", {"username": "browser", "password": "right-password-1"},
                            format="json", HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert "sessionid" not in attacker.cookies

    # The page's own script: the CSRF cookie from the page (or GET of the session), its value in X-CSRFToken.
    browser = APIClient(enforce_csrf_checks=True)
    assert browser.get("/api/auth/session/").status_code == 204
    answer = browser.post("/api/auth/session/", {"username": "browser", "password": "right-password-1"},
                          format="json", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert answer.status_code == 200 and answer.json()["username"] == "browser"
    assert browser.cookies["sessionid"]["httponly"]


def test_signing_out_needs_the_csrf_token_too():
    make_user("browser", password="right-password-1")
    browser = APIClient(enforce_csrf_checks=True)
    browser.get("/api/auth/session/")
    browser.post("/api/auth/session/", {"username": "browser", "password": "right-password-1"},
                 format="json", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert browser.delete("/api/auth/session/").status_code == 403
    assert browser.get("/api/auth/session/").json()["username"] == "browser"


def age(token: Token, **delta) -> None:
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - datetime.timedelta(**delta))


def test_an_expired_token_is_refused_and_signing_in_again_issues_a_new_one(settings):
    settings.API_TOKEN_TTL_SECONDS = 7 * 24 * 3600
    make_user("script", password="right-password-1")
    issued = APIClient().post("/api/auth/token/", {"username": "script", "password": "right-password-1"}, format="json")
    body = issued.json()
    expires_at = datetime.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert datetime.timedelta(days=6, hours=23) < expires_at - timezone.now() <= datetime.timedelta(days=7)
    # Asking again before it expires gives the same token.
    again = APIClient().post("/api/auth/token/", {"username": "script", "password": "right-password-1"}, format="json")
    assert again.json()["token"] == body["token"]

    age(Token.objects.get(key=body["token"]), days=7, seconds=1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    refused = client.get("/api/me/")
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]

    renewed = APIClient().post("/api/auth/token/", {"username": "script", "password": "right-password-1"}, format="json")
    assert renewed.status_code == 200 and renewed.json()["token"] != body["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {renewed.json()['token']}")
    assert client.get("/api/me/").json()["username"] == "script"
    assert not Token.objects.filter(key=body["token"]).exists()


@pytest.mark.django_db(transaction=True)
def test_the_annotate_loop_refuses_an_expired_token_on_every_way(settings):
    """`next` and the judgement have direct ways that skip DRF's authentication (the SQL function,
    the ASGI front): an expired token is refused there too, also once its age is remembered."""
    import asyncio

    from django.core.asgi import get_asgi_application

    from annotation.api.asgi_front import AnnotateLoopFront

    project = make_project(overlap=1)
    make_task(project)
    member = add_member(project)
    token = Token.objects.create(user=member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.post(f"/api/projects/{project.pk}/next/").status_code == 200  # age now remembered

    settings.API_TOKEN_TTL_SECONDS = 0  # the same token, now past its lifetime
    refused = client.post(f"/api/projects/{project.pk}/next/")
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]

    front = AnnotateLoopFront(get_asgi_application())
    messages = []

    async def call():
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": f"/api/projects/{project.pk}/next/", "raw_path": b"", "query_string": b"",
                 "root_path": "", "headers": [(b"host", b"testserver"), (b"authorization", f"Token {token.key}".encode())],
                 "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
        incoming = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive():
            if incoming:
                return incoming.pop()
            await asyncio.sleep(3600)  # the client stays connected

        async def send(message):
            messages.append(message)

        await front(scope, receive, send)
        if front._pool is not None:
            await front._pool.close()

    asyncio.run(call())
    assert messages[0]["status"] == 401
    assert "expired" in json.loads(b"".join(m.get("body", b"") for m in messages[1:]))["detail"]
    authentication._TOKEN_CREATED.pop(token.key, None)
