"""The ASGI front (`config.asgi`): the annotate loop's hot requests by one SQL function call each,
answering byte for byte as the DRF views do, and everything else handed to Django unchanged."""
import asyncio
import contextlib
import json
from collections import Counter

import pytest
from django.core.asgi import get_asgi_application
from rest_framework.authtoken.models import Token

from annotation.hot_path import grouped_calls, sql_functions
from annotation.hot_path.front import AnnotateLoopFront
from annotation.hot_path.grouped_calls import GroupedCalls
from annotation.models import Assignment, Judgement, Membership
from tests.annotation.factories import add_member, client_for, make_project, make_task

pytestmark = pytest.mark.django_db(transaction=True)

IGNORED_HEADERS = {"date", "server"}


class AsgiClient:
    """Calls an ASGI application in-process, on one event loop (the front's pool lives on it)."""

    def __init__(self, app, loop=None):
        self.app = app
        self.owns_loop = loop is None
        self.loop = loop or asyncio.new_event_loop()

    def post(self, path: str, token: str | None, body=None, headers: dict | None = None):
        return self.request("POST", path, token, body, headers)

    def request(self, method: str, path: str, token: str | None = None, body=None, headers: dict | None = None):
        return self.loop.run_until_complete(self.arequest(method, path, token, body, headers))

    async def arequest(self, method: str, path: str, token: str | None = None, body=None,
                       headers: dict | None = None):
        """`request` as a coroutine, for requests that run at the same time (asyncio.gather)."""
        raw = json.dumps(body).encode() if body is not None else b""
        sent = {"content-type": "application/json", "content-length": str(len(raw)), **(headers or {})}
        if token:
            sent["authorization"] = f"Token {token}"
        return await self._call(method, path, raw, sent)

    async def _call(self, method, path, body, headers):
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver")] + [(k.encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        }
        incoming = [{"type": "http.request", "body": body, "more_body": False}]
        messages = []

        async def receive():
            if incoming:
                return incoming.pop()
            await asyncio.sleep(3600)  # the client stays connected

        async def send(message):
            messages.append(message)

        await self.app(scope, receive, send)
        start = messages[0]
        answer_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return start["status"], answer_headers, b"".join(m.get("body", b"") for m in messages[1:])

    def close(self):
        async def shutdown():
            steps = [{"type": "lifespan.shutdown"}, {"type": "lifespan.startup"}]

            async def receive():
                return steps.pop()

            async def send(message):
                pass

            await self.app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)

        self.loop.run_until_complete(shutdown())
        if self.owns_loop:
            self.loop.close()


@contextlib.contextmanager
def running_front(loop=None, **options):
    """An AsgiClient on a new front (`options` as AnnotateLoopFront takes them), closed after; on
    `loop` if given (two fronts on one loop are two workers), else on a loop of its own."""
    client = AsgiClient(AnnotateLoopFront(get_asgi_application(), **options), loop)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def front():
    with running_front() as client:
        yield client


def token_of(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def django_headers(response) -> dict:
    return {k.lower(): v for k, v in response.headers.items() if k.lower() not in IGNORED_HEADERS}


def served_by_front(front, monkeypatch) -> list:
    """Records the SQL statements the front runs (to tell its answers from Django's)."""
    calls = []
    original = AnnotateLoopFront._call

    async def recording(self, statement, params):
        calls.append(statement)
        return await original(self, statement, params)

    monkeypatch.setattr(AnnotateLoopFront, "_call", recording)
    return calls


def group_sizes(monkeypatch) -> list:
    """Records the size of each group of calls the front sends (1: a call alone)."""
    sizes = []
    original = GroupedCalls._send

    async def recording(self, connection, group):
        sizes.append(len(group))
        return await original(self, connection, group)

    monkeypatch.setattr(GroupedCalls, "_send", recording)
    return sizes


def test_the_front_answers_byte_for_byte_as_the_drf_views(hot_path_impl, front, monkeypatch):
    """With the SQL functions off (`hot_path_impl` "python") the front hands everything to Django."""
    calls = served_by_front(front, monkeypatch)
    by_front = 1 if hot_path_impl == "sql" else 0
    project = make_project(overlap=1)
    for _ in range(3):
        make_task(project)
    first, second = add_member(project), add_member(project)
    token = token_of(first)

    # A lease by the front; Django, asked again, returns the same live lease: same bytes, same headers.
    status, headers, body = front.post(f"/api/projects/{project.pk}/next/", token)
    assert status == 200 and len(calls) == by_front
    django = client_for(first).post(f"/api/projects/{project.pk}/next/")
    assert django.status_code == 200 and django.content == body
    assert {k: v for k, v in headers.items() if k not in IGNORED_HEADERS} == django_headers(django)

    # A judgement by the front (201); the retry by the front and by Django both give it back (200).
    lease = json.loads(body)
    ranking = [[r["id"]] for r in lease["task"]["responses"]][::-1]
    judgement = {"ranking": ranking, "strength": 3, "flags": ["unsafe", "pii", "unsafe"], "rationale": "Kinder.",
                 "time_spent_ms": 4200, "client_id": "front-1"}
    url = f"/api/assignments/{lease['assignment']['id']}/judgement/"
    status, headers, created = front.post(url, token, judgement)
    assert status == 201, created
    status, _, again = front.post(url, token, judgement)
    django = client_for(first).post(url, judgement, format="json")
    assert status == 200 and django.status_code == 200 and again == created == django.content
    assert {k: v for k, v in headers.items() if k not in IGNORED_HEADERS} == {
        **django_headers(django), "content-length": str(len(created))}
    row = Judgement.objects.get(client_id="front-1")
    assert row.flags == ["pii", "unsafe"] and row.strength == 3 and row.pair_outcome is not None
    assert row.picked_first_shown == (ranking[0][0] == lease["task"]["responses"][0]["id"])
    assert row.task.judgement_count == 1 and row.task.is_complete
    assert Assignment.objects.get(pk=lease["assignment"]["id"]).state == Assignment.State.SUBMITTED

    # A lease by Django, then the front returns it: same bytes.
    django = client_for(second).post(f"/api/projects/{project.pk}/next/")
    status, _, body = front.post(f"/api/projects/{project.pk}/next/", token_of(second))
    assert status == 200 and body == django.content
    assert calls == [c for c in calls if "prefloop" in c] and len(calls) == 4 * by_front


@pytest.mark.usefixtures("hot_path_impl")
def test_what_the_front_does_not_serve_gets_djangos_answer(front):
    project = make_project(overlap=1, criteria=["helpfulness"])
    make_task(project)
    member, paused, stranger = add_member(project), add_member(project), add_member(make_project())
    Membership.objects.filter(user=paused).update(paused=True, paused_reason="Too fast.")
    token = token_of(member)
    next_url = f"/api/projects/{project.pk}/next/"

    status, _, body = front.post(next_url, "not-a-token")
    assert status == 401 and json.loads(body) == {"detail": "Invalid token."}
    status, _, body = front.post(next_url, token_of(paused))
    assert status == 403 and "Too fast." in json.loads(body)["detail"]
    status, _, body = front.post(next_url, token_of(stranger))
    assert status == 404
    status, _, body = front.request("GET", "/api/health/")
    assert status == 200

    status, _, body = front.post(next_url, token)
    lease = json.loads(body)
    ids = [r["id"] for r in lease["task"]["responses"]]
    url = f"/api/assignments/{lease['assignment']['id']}/judgement/"
    # Refused verdicts: the function defers, Django names the problem.
    status, _, body = front.post(url, token, {"ranking": [[ids[0]], [999999]], "client_id": "c-1"})
    assert status == 400 and json.loads(body)["field"] == "ranking"
    status, _, body = front.post(url, token, {"ranking": [[ids[0], ids[1]]], "strength": 2, "client_id": "c-2"})
    assert status == 400 and json.loads(body)["field"] == "strength"
    status, _, body = front.post(url, token, {"ranking": [[ids[0]], [ids[1]]], "strength": "2", "client_id": "c-3"},
                                 headers={"accept": "application/json"})
    assert status == 201, body  # coerced by the serializer on Django's way: "2" -> 2
    status, _, body = front.post(url, token, {"ranking": [[ids[1]], [ids[0]]], "client_id": "c-4"})
    assert status == 409 and "already judged" in json.loads(body)["detail"]
    # Criteria are judged by the services; the answer is the same shape.
    assert Judgement.objects.get(client_id="c-3").strength == 2

    status, _, body = front.post(next_url, token)
    assert status == 204 and body == b""


@pytest.mark.parametrize("connections", [1, 2])
def test_many_annotators_through_the_front_keep_every_rule(connections, hot_path_impl, monkeypatch,
                                                            dropped_connections_closed):
    """Calls wait for the pool's connections and go in groups, one transaction each; with two
    connections two groups run at once and lock shared tasks in the same order (no deadlock)."""
    sizes = group_sizes(monkeypatch)
    project = make_project(overlap=3, lease_seconds=600)
    for _ in range(20):
        make_task(project)
    tokens = [token_of(add_member(project)) for _ in range(8)]

    async def annotate(client, token, seed):
        empty_answers = 0
        while True:
            status, _, body = await client.arequest("POST", f"/api/projects/{project.pk}/next/", token)
            if status == 204:
                # SKIP LOCKED passes over a task another annotator's `next` holds for a moment, so
                # near the end one may hear 204 while that task still has room for them; people ask
                # again, and so does this annotator before leaving.
                empty_answers += 1
                if empty_answers == 3:
                    return
                await asyncio.sleep(0.05)
                continue
            empty_answers = 0
            lease = json.loads(body)
            ranking = [[r["id"]] for r in lease["task"]["responses"]]
            judgement = {"ranking": ranking, "client_id": f"{seed}-{lease['assignment']['id']}"}
            for _ in range(2):  # the second is a network retry: 200, nothing doubled
                status, _, _ = await client.arequest(
                    "POST", f"/api/assignments/{lease['assignment']['id']}/judgement/", token, judgement)
                assert status in (200, 201)

    with running_front(pool_size=connections) as client:
        async def everyone():
            await asyncio.gather(*(annotate(client, token, seed) for seed, token in enumerate(tokens)))

        client.loop.run_until_complete(everyone())
    if hot_path_impl == "sql":
        assert max(sizes) > 1  # calls went in groups
    else:
        assert sizes == []  # Django answered every request
    judgements = Judgement.objects.filter(project=project)
    assert judgements.count() == 60
    assert max(Counter(judgements.values_list("task_id", "annotator_id")).values()) == 1
    assert sorted(Counter(judgements.values_list("task_id", flat=True)).values()) == [3] * 20


@pytest.mark.usefixtures("hot_path_impl")
def test_the_asgi_application_serves_the_rest_of_the_site(front):
    """Under `config.asgi` every other page is Django's: the schema, the admin's login form, a 404."""
    status, headers, body = front.request("GET", "/api/schema/", headers={"accept": "application/vnd.oai.openapi"})
    assert status == 200 and b"/next/:" in body and b"openapi: 3" in body
    status, headers, body = front.request("GET", "/admin/login/", headers={"accept": "text/html"})
    assert status == 200 and b"csrfmiddlewaretoken" in body and "csrftoken" in headers.get("set-cookie", "")
    status, _, _ = front.request("GET", "/api/no-such-thing/")
    assert status == 404


def test_when_the_fronts_pool_fails_djangos_way_answers(front, monkeypatch):
    async def refused(self):
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(AnnotateLoopFront, "_open_pool", refused)
    project = make_project(overlap=1)
    make_task(project)
    status, _, body = front.post(f"/api/projects/{project.pk}/next/", token_of(add_member(project)))
    assert status == 200 and json.loads(body)["task"]["project_id"] == project.pk


def project_with_one_annotator(*, tasks: int):
    """A project of `tasks` tasks, each judged once, and its one annotator's token."""
    project = make_project(overlap=1)
    for _ in range(tasks):
        make_task(project)
    return project, token_of(add_member(project))


@contextlib.contextmanager
def one_or_two_workers(workers: int):
    """`workers` fronts on one event loop, as two uvicorn workers would be, and a request function
    that sends the i-th request at once to front i % workers: with one front, requests that come
    together wait for its one connection and go in one group; with two, they race on two."""
    with contextlib.ExitStack() as stack:
        fronts = [stack.enter_context(running_front(pool_size=1))]
        fronts += [stack.enter_context(running_front(fronts[0].loop, pool_size=1)) for _ in range(workers - 1)]

        def together(*requests):
            async def all_at_once():
                return await asyncio.gather(*(fronts[i % workers].arequest(*request)
                                              for i, request in enumerate(requests)))

            return fronts[0].loop.run_until_complete(all_at_once())

        yield fronts[0], together


@pytest.mark.parametrize("workers", [1, 2])
def test_the_same_judgement_twice_at_once_through_the_front_gives_201_and_200_with_one_row(
        workers, hot_path_impl, monkeypatch):
    """In one worker the two POSTs go in one group: the second call finds the first's judgement.
    In two they race on one client_id: the loser finds the lease closed under its row lock (or
    meets the unique index) and defers; Django's way then finds the winner's judgement (200)."""
    sizes = group_sizes(monkeypatch)
    project, token = project_with_one_annotator(tasks=8)
    with one_or_two_workers(workers) as (front, together):
        for attempt in range(8):
            status, _, body = front.post(f"/api/projects/{project.pk}/next/", token)
            assert status == 200
            lease = json.loads(body)
            judgement = {"ranking": [[r["id"]] for r in lease["task"]["responses"]], "client_id": f"twice-{attempt}"}
            url = f"/api/assignments/{lease['assignment']['id']}/judgement/"
            answers = together(*[("POST", url, token, judgement)] * 2)
            assert sorted(status for status, _, _ in answers) == [200, 201], answers
            assert json.loads(answers[0][2])["id"] == json.loads(answers[1][2])["id"]
            assert Judgement.objects.filter(client_id=f"twice-{attempt}").count() == 1
    assert Judgement.objects.filter(project=project).count() == 8
    assert max(sizes, default=0) == (0 if hot_path_impl == "python" else 2 if workers == 1 else 1)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_annotators_two_nexts_at_once_get_one_lease(workers, hot_path_impl, monkeypatch):
    """A double click: in one group, the second call sees the first's lease; in two workers, the
    membership's lock makes the second wait for the first."""
    sizes = group_sizes(monkeypatch)
    project, token = project_with_one_annotator(tasks=3)
    with one_or_two_workers(workers) as (_, together):
        answers = together(*[("POST", f"/api/projects/{project.pk}/next/", token)] * 2)
    assert [status for status, _, _ in answers] == [200, 200]
    assert len({json.loads(body)["assignment"]["id"] for _, _, body in answers}) == 1
    assert Assignment.objects.filter(project=project).count() == 1
    assert max(sizes, default=0) == (0 if hot_path_impl == "python" else 2 if workers == 1 else 1)


def test_a_group_the_database_refuses_goes_again_call_by_call(monkeypatch):
    """PostgreSQL refusing a group's statement undoes all of it; each call then goes alone."""
    sizes = group_sizes(monkeypatch)
    refused = {statement: "SELECT 1 / 0" for statement in grouped_calls._MANY}
    monkeypatch.setattr(grouped_calls, "_MANY", refused)
    project = make_project(overlap=1)
    for _ in range(6):
        make_task(project)
    tokens = [token_of(add_member(project)) for _ in range(4)]
    with running_front(pool_size=1) as front:
        async def everyone():
            return await asyncio.gather(*(front.arequest("POST", f"/api/projects/{project.pk}/next/", token)
                                          for token in tokens))

        answers = front.loop.run_until_complete(everyone())
    assert [status for status, _, _ in answers] == [200] * 4
    assert len({json.loads(body)["task"]["id"] for _, _, body in answers}) == 4
    assert max(sizes) > 1 and Assignment.objects.filter(project=project).count() == 4


def test_with_prepared_statements_off_the_front_still_serves(settings, monkeypatch):
    """Behind a transaction-mode pooler (`HOT_PATH_PREPARED_STATEMENTS=0`) asyncpg keeps no named
    statements; the front answers the same."""
    settings.HOT_PATH_PREPARED_STATEMENTS = False
    with running_front() as client:
        calls = served_by_front(client, monkeypatch)
        project = make_project(overlap=1)
        make_task(project)
        token = token_of(add_member(project))
        status, _, body = client.post(f"/api/projects/{project.pk}/next/", token)
        assert status == 200 and len(calls) == 1

        async def named_statements():
            async with client.app._pool.acquire() as connection:  # the pool's only connection
                return await connection.fetchval("SELECT count(*) FROM pg_prepared_statements")

        assert client.loop.run_until_complete(named_statements()) == 0


def test_a_request_that_waits_too_long_for_a_connection_gets_djangos_answer(monkeypatch):
    """The wait for one of the front's connections is bounded; past it, Django's way answers."""
    monkeypatch.setattr("annotation.hot_path.grouped_calls.WAIT_BOUND", 0.2)
    with running_front(pool_size=1) as client:
        calls = served_by_front(client, monkeypatch)
        project = make_project(overlap=1)
        make_task(project)
        token = token_of(add_member(project))
        client.app._calls._senders = 1  # the only connection, busy elsewhere
        status, _, body = client.post(f"/api/projects/{project.pk}/next/", token)
        assert status == 200 and json.loads(body)["task"]["project_id"] == project.pk
        assert len(calls) == 1 and not client.app._calls._waiting  # the front tried, then gave up waiting
        assert Assignment.objects.filter(project=project).count() == 1
        client.app._calls._senders = 0


def django_sql_calls(monkeypatch) -> list:
    """Records the SQL function calls Django's views make on their own connection."""
    calls = []
    original = sql_functions._run

    def recording(statement, params):
        calls.append(statement)
        return original(statement, params)

    monkeypatch.setattr(sql_functions, "_run", recording)
    return calls


def test_a_request_the_fronts_function_deferred_is_not_sent_to_it_again(front, monkeypatch):
    """The front marks what it replays into Django after its function deferred (in the ASGI scope,
    which no client can write), and the view then goes straight to the services."""
    by_front, by_django = served_by_front(front, monkeypatch), django_sql_calls(monkeypatch)
    project = make_project(overlap=1)
    make_task(project)
    member, paused = add_member(project), add_member(project)
    Membership.objects.filter(user=paused).update(paused=True, paused_reason="Too fast.")
    next_url = f"/api/projects/{project.pk}/next/"

    status, _, body = front.post(next_url, token_of(paused))  # the function defers; the services say 403
    assert status == 403 and json.loads(body)["code"] == "paused"
    assert by_front == [sql_functions.NEXT_SQL] and by_django == []
    status, _, body = front.post(next_url, token_of(member))
    lease = json.loads(body)
    url = f"/api/assignments/{lease['assignment']['id']}/judgement/"
    status, _, body = front.post(url, token_of(member), {"ranking": [[lease["task"]["responses"][0]["id"]]],
                                                         "client_id": "short"})
    assert status == 400 and json.loads(body)["field"] == "ranking"
    assert by_front[-1] == sql_functions.SUBMIT_SQL and len(by_front) == 3 and by_django == []
    # The same deferred request sent to Django directly (no front, no mark) asks the function first.
    assert client_for(paused).post(next_url).status_code == 403
    assert by_django == [sql_functions.NEXT_SQL]


@pytest.mark.usefixtures("hot_path_impl")
def test_ids_out_of_bigint_range_through_the_front_get_404_and_400(front):
    project = make_project(overlap=1)
    make_task(project)
    token = token_of(add_member(project))
    for huge in (2**63, 10**30):
        status, _, body = front.post(f"/api/projects/{huge}/next/", token)
        assert status == 404 and json.loads(body)["code"] == "not_found"
        status, _, body = front.post(f"/api/assignments/{huge}/judgement/", token,
                                     {"ranking": [[1], [2]], "client_id": f"huge-{huge}"})
        assert status == 404 and json.loads(body)["code"] == "not_found"
    status, _, body = front.post(f"/api/projects/{project.pk}/next/", token)
    lease = json.loads(body)
    first = lease["task"]["responses"][0]["id"]
    url = f"/api/assignments/{lease['assignment']['id']}/judgement/"
    for number, bad in enumerate((2**63, 10**30, -1, -(2**63) - 1)):
        status, _, body = front.post(url, token, {"ranking": [[first], [bad]], "client_id": f"bad-{number}"})
        assert status == 400 and json.loads(body)["field"] == "ranking", body
    assert not Judgement.objects.filter(project=project).exists()
