"""Small builders for annotation tests (given: a project, members, tasks)."""
import itertools

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Membership, Project
from annotation.services.projects import project_create
from annotation.services.tasks import prompt_get_or_create, response_get_or_create, task_create

_counter = itertools.count(1)


def make_user(username: str | None = None, *, staff: bool = False, superuser: bool = False, password: str = "pw-123456"):
    username = username or f"user{next(_counter)}"
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(username=username, password=password)
    return User.objects.create_user(username=username, password=password, is_staff=staff)


def make_project(*, manager=None, name: str | None = None, **settings) -> Project:
    manager = manager or make_user(staff=True)
    return project_create(creator=manager, name=name or f"project {next(_counter)}", **settings)


def add_member(project: Project, user=None, role: str = Membership.Role.ANNOTATOR, **extra) -> object:
    user = user or make_user()
    Membership.objects.create(project=project, user=user, role=role, **extra)
    return user


def make_task(project: Project, *, n_responses: int | None = None, purpose: str = "training", priority: int = 0,
              gold_ranking_positions=None, prompt_text: str | None = None, random_key: float | None = None,
              uncertainty: float | None = None):
    """A task with `n_responses` imported responses (default: the project's responses_per_task)."""
    n = project.responses_per_task if n_responses is None else n_responses
    prompt, _ = prompt_get_or_create(project=project, text=prompt_text or f"prompt {next(_counter)}")
    responses = [response_get_or_create(prompt=prompt, text=f"answer {i} to {prompt.text}") for i in range(n)]
    gold = [[responses[p].pk for p in tier] for tier in gold_ranking_positions] if gold_ranking_positions else None
    task, _ = task_create(project=project, prompt=prompt, responses=responses, purpose=purpose,
                          priority=priority, gold_ranking=gold)
    if random_key is not None or uncertainty is not None:
        task.random_key = random_key if random_key is not None else task.random_key
        task.uncertainty = uncertainty
        task.save(update_fields=["random_key", "uncertainty"])
    return task


def response_ids(task) -> list[int]:
    return list(task.task_responses.order_by("position").values_list("response_id", flat=True))


def client_for(user, *, token: bool = True) -> APIClient:
    client = APIClient()
    if token:
        key, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key.key}")
    else:
        client.force_authenticate(user)
    return client
