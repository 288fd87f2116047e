"""The annotate loop's fast paths answer exactly as the general machinery they stand in for:
token authentication, the judgement body check, the combined lock of next, the retried submit
that waited for its first attempt, and prepared statements."""
import json
import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from annotation.hot_path.request_input import judgement_input
from annotation.api.authentication import FastTokenAuthentication
from annotation.api.serializers import JudgementInputSerializer
from annotation.errors import DomainError
from annotation.models import Assignment, Judgement, Membership
from annotation.services.assignments import assignment_next, assignment_next_in_project
from annotation.services.judgements import judgement_submit
from tests.annotation.factories import add_member, client_for, make_project, make_task

pytestmark = pytest.mark.usefixtures("hot_path_impl")  # the Python services' way and the SQL functions'

BODIES = [
    {"client_id": "a", "ranking": [[1], [2]]},
    {"client_id": "a", "ranking": [[1, 2]], "both_bad": True, "strength": None, "criteria": {"x": [[1]]},
     "rationale": "", "flags": ["unsafe", "pii"], "time_spent_ms": 0, "text": "t", "unknown": 5},
    {"client_id": "a", "strength": 4, "time_spent_ms": 24 * 3600 * 1000, "rationale": "r" * 100_000},
    # Coerced or refused by the serializer: the fast check must hand these over unchanged.
    {"client_id": " padded "}, {"client_id": ""}, {"client_id": 7}, {"client_id": "c" * 101}, {"client_id": "a\x00"},
    {"client_id": "a", "strength": "2"}, {"client_id": "a", "strength": True}, {"client_id": "a", "strength": 5},
    {"client_id": "a", "strength": 2.0}, {"client_id": "a", "both_bad": "true"}, {"client_id": "a", "both_bad": 1},
    {"client_id": "a", "rationale": None}, {"client_id": "a", "rationale": "r" * 100_001},
    {"client_id": "a", "rationale": "\ud800"}, {"client_id": "a", "flags": "unsafe"},
    {"client_id": "a", "flags": ["nope"]}, {"client_id": "a", "flags": None}, {"client_id": "a", "flags": [1]},
    {"client_id": "a", "time_spent_ms": -1}, {"client_id": "a", "time_spent_ms": "5"},
    {"client_id": "a", "ranking": None}, {"client_id": "a", "criteria": None}, {"client_id": "a", "text": 3},
    {}, [], "text", None,
]


def twice_at_once(call):
    """Runs `call` in two threads released together (each with its own database connection)."""
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


@pytest.mark.parametrize("body", BODIES, ids=[repr(b)[:40] for b in BODIES])
def test_judgement_input_agrees_with_the_serializer(body):
    serializer = JudgementInputSerializer(data=body)
    if serializer.is_valid():
        assert judgement_input(body) == dict(serializer.validated_data)
    else:
        with pytest.raises(exceptions.ValidationError) as refused:
            judgement_input(body)
        assert refused.value.detail == serializer.errors


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Token {key}", "Token wrong", "Token", "Token a b", "token {key}", "Bearer {key}",
                                    "Token {key}-inactive", ""])
def test_fast_token_authentication_answers_as_drf_does(header):
    user = add_member(make_project())
    key = Token.objects.create(user=user).key
    if "inactive" in header:
        user.is_active = False
        user.save()
        header = header.replace("-inactive", "")
    request = RequestFactory().post("/", HTTP_AUTHORIZATION=header.format(key=key))

    def outcome(authentication):
        try:
            result = authentication.authenticate(request)
        except exceptions.AuthenticationFailed as failed:
            return "401", str(failed.detail)
        if result is None:
            return None
        found, token = result
        return found.pk, found.username, found.is_superuser, token.key, token.user.pk

    assert outcome(FastTokenAuthentication()) == outcome(TokenAuthentication())


@pytest.mark.django_db
def test_bad_tokens_get_drfs_401_answers():
    project = make_project()
    make_task(project)
    client = client_for(add_member(project))
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    answer = client.post(f"/api/projects/{project.pk}/next/")
    assert answer.status_code == 401
    assert answer.json()["detail"] == "Invalid token."
    assert answer["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_next_by_project_id_refuses_strangers_and_paused_members_like_the_two_step_way():
    project = make_project()
    make_task(project)
    member, stranger = add_member(project), add_member(make_project())
    with pytest.raises(DomainError) as refused:
        assignment_next_in_project(project_id=project.pk, annotator=stranger)
    assert refused.value.http_status == 404
    member.memberships.filter(project=project).update(paused=True, paused_reason="Gold accuracy low.")
    with pytest.raises(DomainError) as refused:
        assignment_next_in_project(project_id=project.pk, annotator=member)
    assert refused.value.http_status == 403 and "Gold accuracy low." in refused.value.message


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_double_clicks_through_the_api_path_lease_one_task_at_a_time():
    """Two threads per annotator call next (by project id) and submit at once, until nothing is left."""
    project = make_project(overlap=2, lease_seconds=600)
    for _ in range(12):
        make_task(project)
    annotators = [add_member(project) for _ in range(6)]
    barrier = threading.Barrier(2 * len(annotators))
    failures: list[BaseException] = []

    def annotate(annotator, seed):
        try:
            barrier.wait()
            for round_number in range(100):
                lease = assignment_next_in_project(project_id=project.pk, annotator=annotator)
                if lease is None:
                    return
                try:
                    judgement_submit(assignment_id=lease.pk, annotator=annotator,
                                     ranking=[[i] for i in lease.display_order], client_id=f"{seed}-{round_number}")
                except DomainError as error:
                    assert error.http_status == 409, error.message  # the other click judged it first
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=annotate, args=(a, f"{a.pk}-{k}")) for a in annotators for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    per_task = Counter(Judgement.objects.filter(project=project).values_list("task_id", flat=True))
    assert sorted(per_task.values()) == [2] * 12
    pairs = Counter(Judgement.objects.filter(project=project).values_list("task_id", "annotator_id"))
    assert max(pairs.values()) == 1
    # Both clicks of a double click got the same lease, so none was left behind.
    assert not Assignment.objects.filter(project=project, state=Assignment.State.ACTIVE).exists()


@pytest.mark.django_db(transaction=True)
def test_a_retry_that_waited_for_its_first_attempt_gets_the_same_judgement():
    """The same POST twice at once: one records, the other waits on the lock and answers with it."""
    project = make_project(overlap=1)
    outcomes = []
    for round_number in range(5):
        make_task(project)
        annotator = add_member(project)
        lease = assignment_next(project=project, annotator=annotator)

        def submit():
            try:
                judgement, created = judgement_submit(
                    assignment_id=lease.pk, annotator=annotator, ranking=[[i] for i in lease.display_order],
                    client_id=f"same-{round_number}")
                outcomes.append((round_number, judgement.pk, created))
            except BaseException as error:
                outcomes.append((round_number, repr(error), None))

        twice_at_once(submit)
    for round_number in range(5):
        answers = [o for o in outcomes if o[0] == round_number]
        assert sorted(created for _, _, created in answers) == [False, True], answers
        assert answers[0][1] == answers[1][1]
    assert Judgement.objects.filter(project=project).count() == 5


@pytest.mark.django_db(transaction=True)
def test_the_same_post_twice_at_once_through_the_api_gives_201_and_200_with_one_judgement():
    """Through the SQL functions: the submit reads without a lock and writes only if the lease is
    still live under its row lock; the loser of the race writes nothing and Python answers 200."""
    project = make_project(overlap=1)
    answers = []
    for round_number in range(8):
        make_task(project)
        annotator = add_member(project)
        lease = client_for(annotator).post(f"/api/projects/{project.pk}/next/", {}, format="json").json()
        body = {"ranking": [[shown["id"]] for shown in lease["task"]["responses"]], "client_id": f"twice-{round_number}"}

        def submit():
            response = client_for(annotator).post(
                f"/api/assignments/{lease['assignment']['id']}/judgement/", body, format="json")
            answers.append((round_number, response.status_code, response.json()["id"]))

        twice_at_once(submit)
    for round_number in range(8):
        pair = [a for a in answers if a[0] == round_number]
        assert sorted(status for _, status, _ in pair) == [200, 201], pair
        assert pair[0][2] == pair[1][2]
    assert Judgement.objects.filter(project=project).count() == 8
    assert not Assignment.objects.filter(project=project, state=Assignment.State.ACTIVE).exists()


@pytest.mark.django_db
def test_hot_statements_are_prepared_and_logged_with_their_text(hot_path_impl):
    sql_functions = hot_path_impl == "sql"
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    project = make_project()
    for _ in range(3):
        make_task(project)
    client = client_for(add_member(project))
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            lease = client.post(f"/api/projects/{project.pk}/next/").json()
            ids = [r["id"] for r in lease["task"]["responses"]]
            answer = client.post(f"/api/assignments/{lease['assignment']['id']}/judgement/",
                                 {"ranking": [[i] for i in ids], "client_id": f"p{lease['assignment']['id']}"},
                                 format="json")
            assert answer.status_code == 201
    assert all(q["sql"] for q in queries.captured_queries)
    assert any(str(project.pk) in q["sql"] for q in queries.captured_queries)  # parameters merged in
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    if sql_functions:  # one call each: the statements inside are PL/pgSQL's cached plans
        assert any("prefloop_next" in s for s in prepared) and any("prefloop_submit" in s for s in prepared), prepared
    else:
        assert any("held AS" in s for s in prepared) and any("counted AS" in s for s in prepared), prepared


@pytest.mark.django_db
def test_prepared_statements_can_be_turned_off(settings):
    settings.HOT_PATH_PREPARED_STATEMENTS = False
    project = make_project()
    make_task(project)
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert assignment_next_in_project(project_id=project.pk, annotator=add_member(project)) is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0


DRF_WAY = {"HTTP_ACCEPT": "application/json, text/plain"}  # an Accept the direct way leaves to DRF


def both_ways(client, url, body=None):
    """The answer by the direct way and by DRF's for the same request."""
    kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body is not None else {}
    return client.post(url, **kwargs), client.post(url, **kwargs, **DRF_WAY)


def same_answer(fast, drf):
    assert fast.status_code == drf.status_code
    assert fast.content == drf.content
    assert dict(fast.headers) == dict(drf.headers)


@pytest.mark.django_db
def test_the_direct_way_answers_byte_for_byte_as_drf(monkeypatch):
    from rest_framework.views import APIView

    drf_requests = []
    initial = APIView.initial
    monkeypatch.setattr(APIView, "initial", lambda self, request, *a, **k: drf_requests.append(1) or initial(
        self, request, *a, **k))
    project, other = make_project(criteria=["honesty"]), make_project()
    make_task(project)
    annotator = add_member(project)
    client = client_for(annotator)
    next_url = f"/api/projects/{project.pk}/next/"

    lease = client.post(next_url)  # direct
    assert lease.status_code == 200 and drf_requests == []
    same_answer(*both_ways(client, next_url))  # the held lease again, both ways
    assert len(drf_requests) == 1
    same_answer(*both_ways(client, f"/api/projects/{other.pk}/next/"))  # 404
    same_answer(*both_ways(client, "/api/projects/999999/next/"))

    assignment = lease.json()["assignment"]["id"]
    ids = [r["id"] for r in lease.json()["task"]["responses"]]
    url = f"/api/assignments/{assignment}/judgement/"
    for bad in ({"client_id": "b", "ranking": [[ids[0]]]}, {"client_id": "b", "ranking": [[ids[0]], [ids[0]]]},
                {"client_id": "b", "ranking": [[ids[0]], [ids[1]]], "criteria": {"nope": []}},
                {"client_id": "b", "ranking": [[ids[0]], [ids[1]]], "strength": 2, "both_bad": False,
                 "rationale": "", "flags": ["other"], "time_spent_ms": 5, "text": "x"}):
        same_answer(*both_ways(client, url, bad))  # 400s naming the field
    body = {"client_id": "good", "ranking": [[ids[1]], [ids[0]]], "strength": 3, "flags": ["pii"]}
    fast, drf = both_ways(client, url, body)  # recorded by the direct way, retried through DRF
    assert (fast.status_code, drf.status_code) == (201, 200)
    assert fast.content == drf.content
    assert {k: v for k, v in fast.headers.items()} == {k: v for k, v in drf.headers.items()}
    same_answer(*both_ways(client, url, {**body, "client_id": "another"}))  # 409 already judged
    same_answer(*both_ways(client, next_url))  # 204 nothing left
    stranger = client_for(add_member(other))
    same_answer(*both_ways(stranger, url, body))  # someone else's assignment: 404
    Membership.objects.filter(user=annotator).update(paused=True)
    same_answer(*both_ways(client, next_url))  # 403 paused
    assert len(drf_requests) == 12  # each DRF_WAY request went through DRF, none other


@pytest.mark.django_db
def test_requests_the_direct_way_leaves_to_drf_get_drfs_answers():
    project = make_project()
    make_task(project)
    client = client_for(add_member(project))
    lease = client.post(f"/api/projects/{project.pk}/next/").json()
    url = f"/api/assignments/{lease['assignment']['id']}/judgement/"
    ids = [r["id"] for r in lease["task"]["responses"]]
    malformed = client.post(url, data="{nope", content_type="application/json")
    assert malformed.status_code == 400 and "JSON parse error" in malformed.json()["detail"]
    coerced = client.post(url, data=json.dumps({"client_id": " c ", "ranking": [[ids[0]], [ids[1]]],
                                                "strength": "2"}), content_type="application/json")
    assert coerced.status_code == 201 and coerced.json()["client_id"] == "c" and coerced.json()["strength"] == 2
    empty_accept = client.post(f"/api/projects/{project.pk}/next/", HTTP_ACCEPT="")
    assert empty_accept.status_code == 406  # DRF's answer to an Accept header naming nothing
    html = client.post(f"/api/projects/{project.pk}/next/", HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")  # the browsable API
    make_task(project)
    session = client_for(add_member(project), token=False)
    assert session.post(f"/api/projects/{project.pk}/next/").status_code == 200


def test_views_with_more_checks_than_a_token_keep_drfs_way():
    from rest_framework.permissions import IsAdminUser
    from rest_framework.throttling import AnonRateThrottle

    from annotation.api.annotate import NextView

    class Throttled(NextView):
        throttle_classes = [AnonRateThrottle]

    class AdminsOnly(NextView):
        permission_classes = [IsAdminUser]

    def takes_the_direct_way(view) -> bool:
        return view.__code__.co_filename.endswith("hot_path/drf.py")  # else DRF's csrf_exempt view

    assert takes_the_direct_way(NextView.as_view())
    assert not takes_the_direct_way(Throttled.as_view())
    assert not takes_the_direct_way(AdminsOnly.as_view())


def test_the_sql_functions_order_the_queue_as_the_services_do():
    """The queue's orders are the services' (`QUEUE_ORDERS`, `GOLD_ORDER`); `prefloop_next` carries each verbatim."""
    from annotation.hot_path.sql import SQL_FILE
    from annotation.services import assignments

    sql = " ".join(SQL_FILE.read_text().split())
    for order in (*assignments.QUEUE_ORDERS.values(), assignments.GOLD_ORDER):
        assert f"ORDER BY {order} LIMIT 1 FOR UPDATE OF t SKIP LOCKED" in sql, order
