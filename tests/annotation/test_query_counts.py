"""The annotate loop stays a handful of queries per request, whatever the project's size."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.annotation.factories import add_member, client_for, make_project, make_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hot_path_impl")]

# Includes authentication (token lookup) and the transaction's own statements (savepoint and
# release here, BEGIN and COMMIT in production). next: token, lock the membership with the
# project, live lease or candidate with its responses, lease if room. submit: token, lock the
# assignment with its project and any judgement holding the client_id, record.
MAX_QUERIES_NEXT = 6
MAX_QUERIES_SUBMIT = 5


def cycle_queries(client, project):
    with CaptureQueriesContext(connection) as next_queries:
        body = client.post(f"/api/projects/{project.pk}/next/").json()
    ids = [r["id"] for r in body["task"]["responses"]]
    with CaptureQueriesContext(connection) as submit_queries:
        answer = client.post(f"/api/assignments/{body['assignment']['id']}/judgement/",
                             {"ranking": [[i] for i in ids], "strength": 2, "client_id": f"q{body['assignment']['id']}"},
                             format="json")
    assert answer.status_code == 201
    return next_queries, submit_queries


@pytest.mark.parametrize("n_tasks", [3, 60])
def test_next_and_submit_use_few_queries(n_tasks):
    project = make_project(overlap=2)
    for _ in range(n_tasks):
        make_task(project)
    client = client_for(add_member(project))
    cycle_queries(client, project)  # warm-up (token, content types)
    next_queries, submit_queries = cycle_queries(client, project)
    assert len(next_queries) <= MAX_QUERIES_NEXT, "\n".join(q["sql"][:150] for q in next_queries)
    assert len(submit_queries) <= MAX_QUERIES_SUBMIT, "\n".join(q["sql"][:150] for q in submit_queries)


def test_on_postgresql_each_request_is_one_function_call(hot_path_impl):
    """With the SQL functions on; with them off, the services' statements and no function call."""
    project = make_project(overlap=2)
    for _ in range(3):
        make_task(project)
    client = client_for(add_member(project))
    cycle_queries(client, project)
    for queries, function in zip(cycle_queries(client, project), ("prefloop_next", "prefloop_submit")):
        # The test's transaction wraps the call in a savepoint; in production it is autocommit.
        statements = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
        if hot_path_impl == "sql":
            assert len(statements) == 1 and function in statements[0], statements
        else:
            assert len(statements) > 1 and not any("prefloop_" in s for s in statements), statements
