"""Schemathesis over every operation of /api/schema/, against the deployed web server (gunicorn +
uvicorn workers on config.asgi), as the superuser, with path ids pinned to real objects: no answer
is a server error, and every answer conforms to the schema (status, content type, body).

Bounded and deterministic for CI: a few examples per operation and generation mode, derandomized
(the same cases every run), no shrinking. A failure lists every failing case with a curl command.
"""
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotation.models import Iteration, TrainingJob
from annotation.services.assignments import assignment_next
from annotation.services.judgements import judgement_submit
from tests.annotation.factories import add_member, make_project, make_task, make_user, response_ids
from tests.faults.processes import AsgiServer, database_url, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Per operation and generation mode; ~30 operations x 2 modes. Raise locally to search harder.
MAX_EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _pinned_objects() -> tuple[str, dict]:
    """The superuser's token and an id for every path parameter: a pairwise project with tasks, an
    annotator, a live lease, a fresh judgement (within its undo window) and a failed iteration."""
    admin = make_user(superuser=True)
    project = make_project(manager=admin, overlap=3, lease_seconds=3600)
    project.base_policy_path = "tiny-policy"  # never started here: no worker consumes the queue
    project.save(update_fields=["base_policy_path"])
    tasks = [make_task(project) for _ in range(6)]
    annotator = add_member(project)
    judged = assignment_next(project=project, annotator=admin)
    first, second = response_ids(judged.task)
    judgement, _ = judgement_submit(assignment_id=judged.pk, annotator=admin, client_id="fuzz-seed",
                                    ranking=[[first], [second]], strength=2)
    lease = assignment_next(project=project, annotator=admin)
    iteration = Iteration.objects.create(project=project, number=1, algorithm="dpo", status=Iteration.Status.FAILED,
                                         error="reward: a failure for the fuzzer to resume")
    TrainingJob.objects.create(iteration=iteration, step="snapshot", order=0, status=TrainingJob.Status.FAILED)
    return Token.objects.create(user=admin).key, {
        "project_id": project.pk, "task_id": tasks[-1].pk, "user_id": annotator.pk,
        "assignment_id": lease.pk, "judgement_id": judgement.pk, "iteration_id": iteration.pk,
    }


def _fuzz(operation, mode: GenerationMode, *, base_url: str, session: requests.Session, pinned: dict) -> list[str]:
    """Runs MAX_EXAMPLES cases of one operation in one mode; returns a line per failing case."""
    names = {p.name for p in operation.path_parameters}
    strategy = operation.as_strategy(generation_mode=mode, path_parameters={n: pinned[n] for n in names})
    failures: list[str] = []

    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(base_url=base_url, session=session, timeout=60)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as failed:  # kept, to report every failing case at once
            found = failed.exceptions if isinstance(failed, FailureGroup) else [failed]
            titles = "; ".join(f"{f.title}: {f.message.strip()[:300]}" for f in found)
            failures.append(f"{operation.label} [{mode.value}] {response.status_code}: {titles}\n"
                            f"    {response.text[:200]!r}\n    {case.as_curl_command()[:400]}")

    try:
        run()
    except Unsatisfiable:
        # Nothing of this operation could be made invalid: the positive mode has covered it.
        assert mode == GenerationMode.NEGATIVE, operation.label
    return failures


def test_every_operation_answers_without_server_errors_and_as_documented(tmp_path):
    # Given the deployed web server and real objects to point the path ids at
    token, pinned = _pinned_objects()
    with AsgiServer(port=free_port(), database_url=database_url(), log_path=tmp_path / "web.log") as server:
        schema = schemathesis.openapi.from_url(server.url + "/api/schema/")
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        operations = [result.ok() for result in schema.get_all_operations()]
        failures: list[str] = []
        # When every operation gets valid and invalid input
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if mode == GenerationMode.NEGATIVE and not (len(operation.query) or len(operation.body)):
                    continue  # nothing to make invalid but the pinned path: the positive mode covered it
                failures += _fuzz(operation, mode, base_url=server.url, session=session, pinned=pinned)
        log = server.log_tail()

    # Then nothing answered 5xx or off the schema
    assert len(operations) >= 30
    assert not failures, f"{len(failures)} failing cases:\n" + "\n".join(failures[:40]) + f"\n--- server log:\n{log}"
