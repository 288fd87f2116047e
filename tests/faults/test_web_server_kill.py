"""kill -9 of the deployed web server (gunicorn + uvicorn workers on config.asgi, the annotate loop
by SQL function calls) in the middle of 16 annotators' submits: after a restart and the clients'
retries with the same client_id, nothing is lost and nothing doubled."""
import threading

import pytest
from rest_framework.authtoken.models import Token

from annotation.models import Judgement
from tests.annotation.factories import add_member, make_project, make_task
from tests.faults.clients import Answers, HttpAnnotator, join_all
from tests.faults.invariants import assert_nothing_lost_nothing_doubled
from tests.faults.processes import AsgiServer, database_url, free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

N_ANNOTATORS = 16
N_TASKS = 80
OVERLAP = 3
# Annotators read each task for a moment: the load then lasts seconds, and the kill falls inside it.
THINK_SECONDS = 0.15
KILL_AFTER_JUDGEMENTS = 40


def test_judgements_survive_a_killed_web_server(tmp_path):
    # Given a project with 80 tasks judged 3 times each, 16 annotators, and the deployed web server
    project = make_project(overlap=OVERLAP, lease_seconds=600)
    for _ in range(N_TASKS):
        make_task(project)
    tokens = [Token.objects.create(user=add_member(project)).key for _ in range(N_ANNOTATORS)]
    server = AsgiServer(port=free_port(), database_url=database_url(), log_path=tmp_path / "web.log", workers=2)
    answers, stop = Answers(), threading.Event()
    annotators = [HttpAnnotator(base_url=server.url, token=token, project_id=project.pk, answers=answers, stop=stop,
                                think_seconds=THINK_SECONDS)
                  for token in tokens]
    with server:
        for annotator in annotators:
            annotator.start()
        try:
            # When the server is SIGKILLed while they submit, then started again on the same port
            wait_for(lambda: Judgement.objects.filter(project=project).count() >= KILL_AFTER_JUDGEMENTS,
                     timeout=90, message=f"{KILL_AFTER_JUDGEMENTS} judgements before the kill")
            server.kill()
            judged_at_kill = Judgement.objects.filter(project=project).count()
            server.start()
            join_all(annotators, timeout=150)
        finally:
            stop.set()
            join_all(annotators, timeout=30)

    # Then every client finished its work (it retried through the outage) ...
    failures = [a.failure for a in annotators if a.failure]
    assert not failures, failures
    assert not answers.unexpected, answers.unexpected
    assert all(a.finished for a in annotators), f"clients still working: {answers.statuses}\n{server.log_tail()}"
    # ... the kill really cut requests of the load, and the load went on after the restart ...
    assert answers.count("no answer") >= 1, answers.statuses
    assert judged_at_kill < N_TASKS * OVERLAP
    # ... every task got its overlap, and nothing was lost, doubled or double-leased
    assert Judgement.objects.filter(project=project).count() == N_TASKS * OVERLAP
    assert len(answers.accepted) == N_TASKS * OVERLAP
    assert_nothing_lost_nothing_doubled(project, answers.accepted, all_answered=True)
