"""Many annotators at once against PostgreSQL: no task over its overlap, nobody sees a task twice,
no judgement lost or doubled (retries of the same client_id included)."""
import random
import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Count

from annotation.errors import DomainError
from annotation.models import Assignment, ComparisonTask, Judgement
from rest_framework.authtoken.models import Token

from annotation.services.assignments import assignment_next
from annotation.services.judgements import judgement_submit
from tests.annotation.factories import add_member, make_project, make_task

N_ANNOTATORS = 32
N_DOUBLE_CLICKERS = 4  # annotators driven by two threads at once
N_TASKS = 40
OVERLAP = 3


pytestmark = pytest.mark.usefixtures("hot_path_impl")  # the Python services' way and the SQL functions'


def lease_next(project, annotator):
    assignment = assignment_next(project=project, annotator=annotator)
    return None if assignment is None else (assignment.pk, list(assignment.display_order))


def submit(annotator, assignment_id, ranking, client_id):
    judgement, created = judgement_submit(assignment_id=assignment_id, annotator=annotator, ranking=ranking,
                                          client_id=client_id)
    return judgement.pk, created


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_respect_every_rule(dropped_connections_closed):
    assert connection.vendor == "postgresql"
    project = make_project(overlap=OVERLAP, lease_seconds=600)
    for _ in range(N_TASKS):
        make_task(project)
    annotators = [add_member(project) for _ in range(N_ANNOTATORS)]
    for annotator in annotators:
        Token.objects.get_or_create(user=annotator)
    drivers = annotators + annotators[:N_DOUBLE_CLICKERS]
    barrier = threading.Barrier(len(drivers))
    lock = threading.Lock()
    accepted: dict[str, int] = {}  # client_id -> judgement id, as the clients saw it
    retried: list[tuple[str, int, int]] = []
    failures: list[BaseException] = []

    def annotate(annotator, seed):
        rng = random.Random(seed)
        try:
            barrier.wait()
            while True:
                lease = lease_next(project, annotator)
                if lease is None:
                    return
                assignment_id, order = lease
                rng.shuffle(order)
                client_id = f"{annotator.pk}-{assignment_id}-{seed}"
                try:
                    judgement_id, _ = submit(annotator, assignment_id, [[i] for i in order], client_id)
                except DomainError as error:
                    # The other thread of a double-clicker judged this assignment first.
                    assert error.http_status == 409, error.message
                    continue
                with lock:
                    accepted[client_id] = judgement_id
                if rng.random() < 0.3:  # a network retry of the same POST
                    again_id, created = submit(annotator, assignment_id, [[i] for i in order], client_id)
                    with lock:
                        retried.append((client_id, judgement_id, again_id))
                    assert not created
        except BaseException as error:  # reported below with the thread's context
            with lock:
                failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=annotate, args=(a, i)) for i, a in enumerate(drivers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    assert not failures, failures

    judgements = Judgement.objects.filter(project=project)
    # Nothing lost, nothing doubled: every accepted submit is exactly one row, and no extra rows.
    assert judgements.count() == len(accepted) == len(set(accepted.values())) == N_TASKS * OVERLAP
    assert set(judgements.values_list("pk", flat=True)) == set(accepted.values())
    assert all(first == again for _, first, again in retried) and retried
    # Nobody saw a task twice.
    pairs = Counter(Assignment.objects.filter(project=project).values_list("task_id", "annotator_id"))
    assert max(pairs.values()) == 1
    # No task over its overlap, and every task's counter equals its judgements.
    per_task = dict(judgements.values("task").annotate(n=Count("id")).values_list("task", "n"))
    for task in ComparisonTask.objects.filter(project=project):
        assert task.judgement_count == per_task.get(task.pk, 0) == OVERLAP
        assert task.is_complete
    live = Assignment.objects.filter(project=project, state=Assignment.State.ACTIVE).count()
    assert live == 0


@pytest.mark.django_db(transaction=True)
def test_one_client_id_raced_onto_two_assignments_gives_one_judgement_and_one_409():
    project = make_project(overlap=2)
    outcomes: list[str] = []
    for round_number in range(5):
        task = make_task(project)
        first, second = add_member(project), add_member(project)
        leases = [assignment_next(project=project, annotator=a) for a in (first, second)]
        assert {lease.task_id for lease in leases} == {task.pk}
        barrier = threading.Barrier(2)

        def submit(lease):
            try:
                barrier.wait()
                judgement_submit(assignment_id=lease.pk, annotator=lease.annotator,
                                 ranking=[[i] for i in lease.display_order], client_id=f"shared-{round_number}")
                outcomes.append("created")
            except DomainError as error:
                outcomes.append(str(error.http_status))
            except BaseException as error:  # an IntegrityError here would be a 500
                outcomes.append(repr(error))
            finally:
                connection.close()

        threads = [threading.Thread(target=submit, args=(lease,)) for lease in leases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(outcomes) == ["409"] * 5 + ["created"] * 5, outcomes
    assert Judgement.objects.filter(project=project).count() == 5
