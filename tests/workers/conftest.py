"""Fixtures for the training-loop tests: a tiny local policy, a REAL Celery worker process on
Redis consuming `default` and `gpu`, and a project with judged training tasks.

The worker is a separate process, so tests use `django_db(transaction=True)`: it only sees
committed rows. It connects to pytest-django's test database by name.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from annotation.models import Iteration, Membership, Project, Prompt, TrainingJob
from annotation.services.assignments import assignment_next
from annotation.services.judgements import judgement_submit
from annotation.services.tasks import prompt_get_or_create, response_get_or_create, task_create
from simulation.corpus import demo_prompts, demo_tasks
from simulation.processes import ManagedProcess

ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_SECONDS = 90


def _redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory) -> str:
    """A tiny Llama-style policy built once per session (`python -m training tiny-model`)."""
    output = tmp_path_factory.mktemp("models") / "tiny-policy"
    completed = subprocess.run(
        [sys.executable, "-m", "training", "tiny-model", "--output", str(output), "--pretrain-steps", "40",
         "--device", "cpu"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert completed.returncode == 0, f"tiny-model failed: {completed.stderr[-2000:]}"
    return str(output)


@pytest.fixture(scope="session")
def session_artifact_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


class CeleryWorker(ManagedProcess):
    """A `celery -A config worker -Q default,gpu -c 1 --pool prefork` process of its own session
    (process group), so a test can SIGKILL it whole and the next test gets a fresh one."""

    def __init__(self, env: dict, log_path: Path):
        argv = [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-Q", "default,gpu",
                "-c", "1", "--pool", "prefork", "--loglevel", "INFO", "-n", f"test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat"]
        super().__init__(argv, env=env, log_path=log_path)

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + WORKER_READY_SECONDS
        while time.monotonic() < deadline:
            if " ready." in self.log():
                return
            if not self.running():
                break
            time.sleep(0.2)
        raise RuntimeError(f"The Celery worker did not start:\n{self.log_tail()}")

    def ensure_running(self) -> "CeleryWorker":
        if not self.running():
            self.start()
        return self

    def kill(self) -> None:
        """SIGKILL the worker and its pool children: no chance to clean up or report."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def _celery_worker_process(django_db_setup, django_db_blocker, session_artifact_root, tmp_path_factory):
    redis.Redis.from_url(_redis_url()).flushdb()  # this suite's own Redis database: stale messages out
    database = connection.settings_dict
    database_url = (
        f"postgres://{database['USER']}:{database.get('PASSWORD') or ''}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": _redis_url(),
        "ARTIFACT_ROOT": str(session_artifact_root),
        "TRAINING_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    worker = CeleryWorker(env, tmp_path_factory.mktemp("worker") / "worker.log")
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker(_celery_worker_process):
    """A running worker (restarted if an earlier test killed it)."""
    return _celery_worker_process.ensure_running()


@pytest.fixture(autouse=True)
def _loop_settings(settings, session_artifact_root):
    settings.ARTIFACT_ROOT = session_artifact_root
    settings.TRAINING_DEVICE = "cpu"


@pytest.fixture(autouse=True)
def _settle_worker(request):
    """After each test: cancel what is still live, so the worker is idle before the tables are
    flushed (a step writing into a flushed table would disturb the next test)."""
    yield
    if "transactional_db" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        return
    live = list(Iteration.objects.filter(status__in=["queued", "running"]))
    for iteration in live:
        Iteration.objects.filter(pk=iteration.pk).update(status="cancelled")
        TrainingJob.objects.filter(iteration=iteration, status="running").update(status="cancelled")
    deadline = time.monotonic() + 30
    while TrainingJob.objects.filter(subprocess_pid__isnull=False, status="running").exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)


def wait_for(predicate, *, timeout: float, interval: float = 0.3, message: str = "condition"):
    """Polls `predicate` until it returns something truthy; fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s waiting for {message}.")


def judged_project(*, base_policy: str, n_tasks: int = 12, n_eval_prompts: int = 3, **project_fields) -> Project:
    """A pairwise project with `n_tasks` training tasks (demo-corpus prompts and responses), each
    judged by one annotator, plus held-out eval prompts. The better response (by the corpus's
    hidden quality axes) is not needed here: the loop only has to run on real judgements."""
    from django.contrib.auth import get_user_model

    project = Project.objects.create(
        name=f"loop {uuid.uuid4().hex[:8]}", base_policy_path=base_policy, reward_base_model="", **project_fields
    )
    annotator = get_user_model().objects.create_user(username=f"ann-{uuid.uuid4().hex[:8]}", password="pw-123456")
    Membership.objects.create(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    for demo in demo_tasks(tasks_per_prompt=1, seed=7)[:n_tasks]:
        prompt, _ = prompt_get_or_create(project=project, text=demo.prompt.text)
        responses = [response_get_or_create(prompt=prompt, text=r.text) for r in demo.responses]
        task_create(project=project, prompt=prompt, responses=responses)
    for demo in [p for p in demo_prompts(seed=7) if p.split == "eval"][:n_eval_prompts]:
        prompt_get_or_create(project=project, text=demo.text, split=Prompt.Split.EVAL)
    judge(project, annotator, n_tasks)
    return project


def judge(project: Project, annotator, n: int) -> int:
    """The annotator judges up to `n` tasks (prefers the first response shown, strength 3)."""
    done = 0
    for _ in range(n):
        assignment = assignment_next(project=project, annotator=annotator)
        if assignment is None:
            break
        first, second = assignment.display_order[:2]
        judgement_submit(assignment_id=assignment.pk, annotator=annotator, client_id=uuid.uuid4().hex,
                         ranking=[[first], [second]], strength=3)
        done += 1
    return done
