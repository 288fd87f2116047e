"""`GET /api/me/workload/` answers what the OpenAPI schema at /api/schema/ says it does."""
import jsonschema
import pytest

from tests.annotation.factories import add_member, client_for, make_project, make_task, make_user

pytestmark = pytest.mark.django_db


def response_schema(client, path: str) -> dict:
    document = client.get("/api/schema/?format=json").json()
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


@pytest.mark.parametrize("superuser", [False, True])
def test_my_workload_matches_its_schema(superuser):
    project = make_project()
    make_task(project)
    user = make_user(superuser=superuser)
    if not superuser:
        add_member(project, user=user, paused=True, paused_reason="gold accuracy")
    client = client_for(user)
    answer = client.get("/api/me/workload/")
    assert answer.status_code == 200
    body = answer.json()
    assert body and body[0]["project"]["id"] == project.pk
    jsonschema.validate(body, response_schema(client, "/api/me/workload/"))
    # The schema describes the rows, not a free-form object.
    assert response_schema(client, "/api/me/workload/")["type"] == "array"
