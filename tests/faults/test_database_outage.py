"""The database goes away under load, then comes back: the deployed web server answers 503
`{detail, code}` with Retry-After while it is gone (the ASGI front's asyncpg pool and Django's
psycopg connections alike), recovers on its own, and nothing half-written remains.

The shared PostgreSQL server cannot be restarted here (others use it), so the outage is made
between the web server and PostgreSQL: the server reaches the test database through a TCP proxy
that resets every connection and refuses new ones for the outage's duration.
"""
import threading
import time

import pytest
import requests
from django.db import connection
from rest_framework.authtoken.models import Token

from annotation.models import ComparisonTask, Judgement, Membership
from tests.annotation.factories import add_member, make_project, make_task, make_user
from tests.faults.clients import Answers, HttpAnnotator, join_all
from tests.faults.invariants import assert_nothing_lost_nothing_doubled
from tests.faults.processes import AsgiServer, TcpProxy, database_url, free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

N_ANNOTATORS = 8
N_TASKS = 60
OVERLAP = 2
THINK_SECONDS = 0.05
# Long enough for every kind of client to meet the outage; a real restart takes a few seconds too.
MIN_OUTAGE_SECONDS = 3.0
IMPORT_BATCH = 4


class ManagerClient(threading.Thread):
    """A manager reading the project (Django's request cycle only) and importing small batches of
    tasks, each batch sent again as it was until it is answered (its content hashes make a repeat
    create nothing twice)."""

    def __init__(self, *, base_url: str, token: str, project_id: int, import_project_id: int, answers: Answers,
                 stop: threading.Event):
        super().__init__(daemon=True)
        self.url = f"{base_url}/api/projects/{project_id}"
        self.import_url = f"{base_url}/api/projects/{import_project_id}/import/"
        self.answers, self.stop = answers, stop
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})
        self.imported_batches: list[list[str]] = []
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            batch_number = 0
            while not self.stop.is_set():
                prompts = [f"outage batch {batch_number} prompt {i}" for i in range(IMPORT_BATCH)]
                records = [{"prompt": p, "responses": [f"{p}: yes", f"{p}: no"]} for p in prompts]
                while not self.stop.is_set():
                    # reads the project before every attempt, so reads meet the outage too, however
                    # the outage falls between a read and the import retries
                    self.call("project", "GET", self.url + "/")
                    answer = self.call("import", "POST", self.import_url,
                                       json={"format": "tasks", "records": records})
                    if answer is not None and answer.status_code == 200:
                        body = answer.json()
                        assert body["errors"] == [] and body["created"] + body["skipped_duplicates"] == IMPORT_BATCH, body
                        self.imported_batches.append(prompts)
                        break
                    self.stop.wait(0.1)
                batch_number += 1
                self.stop.wait(0.05)
        except BaseException as error:  # reported by the test
            self.failure = error

    def call(self, kind: str, method: str, url: str, **kwargs) -> requests.Response | None:
        try:
            answer = self.session.request(method, url, timeout=30, **kwargs)
        except requests.RequestException:
            self.answers.record(kind, "no answer")
            return None
        self.answers.record(kind, answer.status_code)
        if answer.status_code == 503:
            with self.answers.lock:
                self.answers.unavailable_bodies.append((answer.text, answer.headers.get("Retry-After")))
        elif answer.status_code != 200:
            with self.answers.lock:
                self.answers.unexpected.append((kind, answer.status_code, answer.text[:300]))
        return answer


def _statuses_of(answers: Answers, kind: str) -> set:
    with answers.lock:
        return {status for (seen, status) in answers.statuses if seen == kind}


def test_a_database_outage_answers_503_and_leaves_nothing_half_written(tmp_path):
    # Given annotators judging and a manager reading and importing, through the deployed web
    # server, whose way to the database is a proxy
    project = make_project(overlap=OVERLAP, lease_seconds=600)
    for _ in range(N_TASKS):
        make_task(project)
    tokens = [Token.objects.create(user=add_member(project)).key for _ in range(N_ANNOTATORS)]
    manager = add_member(project, make_user(staff=True), role=Membership.Role.MANAGER)
    import_project = make_project(manager=manager)  # its tasks stay out of the annotators' way
    manager_token = Token.objects.create(user=manager).key
    database = connection.settings_dict
    proxy = TcpProxy(target_host=database.get("HOST") or "127.0.0.1", target_port=int(database.get("PORT") or 5432))
    answers, stop = Answers(), threading.Event()
    with proxy:
        server = AsgiServer(port=free_port(), database_url=database_url(port=proxy.port), log_path=tmp_path / "web.log")
        with server:
            annotators = [HttpAnnotator(base_url=server.url, token=token, project_id=project.pk, answers=answers,
                                        stop=stop, think_seconds=THINK_SECONDS) for token in tokens]
            manager = ManagerClient(base_url=server.url, token=manager_token, project_id=project.pk,
                                    import_project_id=import_project.pk, answers=answers, stop=stop)
            try:
                for client in [*annotators, manager]:
                    client.start()
                wait_for(lambda: Judgement.objects.filter(project=project).count() >= 20 and manager.imported_batches,
                         timeout=120, message="the load to get going")

                # When every connection to the database is reset and new ones are refused for a while
                proxy.cut()
                outage_began = time.monotonic()
                # (the hot path: `next` and judgement, both first tried by the front's asyncpg pool)
                wait_for(lambda: 503 in _statuses_of(answers, "next") | _statuses_of(answers, "judgement")
                         and {503} <= _statuses_of(answers, "project")
                         and {503} <= _statuses_of(answers, "import")
                         and time.monotonic() - outage_began >= MIN_OUTAGE_SECONDS,
                         timeout=120, message="503 answers on the hot path, reads and imports",
                         context=lambda: f"{answers.statuses}\n{server.log_tail()}")
                health_during = requests.get(server.url + "/api/health/", timeout=30).status_code
                judged_during = Judgement.objects.filter(project=project).count()
                proxy.restore()

                # Then the server recovers by itself and the clients finish their work
                join_all(annotators, timeout=120)
            finally:
                stop.set()
                join_all([*annotators, manager], timeout=30)
        assert proxy.connections_cut >= 1

    failures = [c.failure for c in [*annotators, manager] if c.failure]
    assert not failures, failures
    # No 500, nothing but the answers a working server gives, and 503 while the database was away
    assert not answers.unexpected, answers.unexpected
    assert health_during == 503
    assert answers.unavailable_bodies
    for body, retry_after in answers.unavailable_bodies:
        assert body.startswith("{") and '"code":"database_unavailable"' in body.replace(" ", ""), body
        assert '"detail"' in body and retry_after == "5"
    assert all(a.finished for a in annotators), f"annotators still working: {answers.statuses}\n{server.log_tail()}"
    assert judged_during < N_TASKS * OVERLAP
    # Nothing lost, doubled or half-written: every judgement a client was answered for exists once...
    assert Judgement.objects.filter(project=project).count() == N_TASKS * OVERLAP
    assert_nothing_lost_nothing_doubled(project, answers.accepted, all_answered=True)
    # ...every imported line is one whole task with both its responses, and no other task appeared
    imported = [prompt for batch in manager.imported_batches for prompt in batch]
    tasks = ComparisonTask.objects.filter(project=import_project)
    assert sorted(tasks.values_list("prompt__text", flat=True)) == sorted(imported)
    for task in ComparisonTask.objects.filter(project__in=[project, import_project]):
        assert task.task_responses.count() == 2, f"task {task.pk} was left without its responses"


def test_a_connection_error_outside_a_view_answers_503_too(rf):
    # Given a database error raised where no view catches it (a middleware saving the session)
    from django.db import OperationalError

    from annotation.api.unavailable import server_error_or_unavailable

    request = rf.get("/api/me/")
    # When Django asks handler500 for the answer while handling it
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        unavailable = server_error_or_unavailable(request)
    try:
        raise ValueError("a bug")
    except ValueError:
        bug = server_error_or_unavailable(request)
    # Then the connection error is a 503 with Retry-After, and anything else stays a 500
    assert unavailable.status_code == 503 and unavailable["Retry-After"] == "5"
    assert b'"code": "database_unavailable"' in unavailable.content
    assert bug.status_code == 500
