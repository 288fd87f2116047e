"""An ML engineer starts an iteration of the RLHF loop from the browser, watches its steps progress
live (a real Celery worker trains tiny local models), and cancels it."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.db import connection
from playwright.sync_api import expect

from annotation.models import Iteration, Membership, TrainingJob
from tests.annotation.factories import make_user
from tests.browser.conftest import login
from tests.workers.conftest import CeleryWorker, judged_project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-123456"
# Small enough that snapshot, SFT and the reward model finish in well under a minute on 2 cores.
TINY = {
    "seed": 1,
    "sft": {"max_steps": 2, "batch_size": 2, "max_length": 64},
    "reward": {"epochs": 2, "batch_size": 4, "lr": 1e-3, "logging_steps": 1, "max_length": 64},
    "ppo": {"steps": 40, "batch_size": 4, "minibatch_size": 2, "ppo_epochs": 1, "lr": 1e-4, "max_new_tokens": 8},
    "generate": {"train_prompts": 4, "eval_prompts": 3, "max_new_tokens": 12},
}


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory) -> str:
    output = tmp_path_factory.mktemp("browser-models") / "tiny-policy"
    completed = subprocess.run(
        [sys.executable, "-m", "training", "tiny-model", "--output", str(output), "--pretrain-steps", "5",
         "--device", "cpu"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert completed.returncode == 0, f"tiny-model failed: {completed.stderr[-2000:]}"
    return str(output)


@pytest.fixture
def worker(live_server, tmp_path, settings):
    """A real worker process on this test's database and Redis, stopped when the test ends."""
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    redis.Redis.from_url(redis_url).flushdb()
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.TRAINING_DEVICE = "cpu"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
                        f"{db['PORT'] or 5432}/{db['NAME']}",
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": redis_url,
        "ARTIFACT_ROOT": str(settings.ARTIFACT_ROOT),
        "TRAINING_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    process = CeleryWorker(env, tmp_path / "worker.log")
    process.start()
    yield process
    # Leave nothing running into the next test's flushed tables.
    Iteration.objects.filter(status__in=["queued", "running"]).update(status="cancelled")
    TrainingJob.objects.filter(status="running").update(status="cancelled")
    process.stop()


def test_engineer_starts_an_iteration_and_watches_it(tiny_policy, worker, page_factory, screenshot):
    project = judged_project(base_policy=tiny_policy, n_tasks=12, n_eval_prompts=3, hyperparameters=TINY)
    engineer = make_user("erin", password=PASSWORD)
    Membership.objects.create(project=project, user=engineer, role=Membership.Role.ENGINEER)

    page, watch = page_factory()
    login(page, "erin", PASSWORD)
    page.get_by_role("link", name="Iterations").click()
    page.get_by_role("heading", name="Start an iteration").wait_for()
    hyperparameters = page.get_by_label("Hyperparameters (JSON)")
    expect(hyperparameters).to_have_value(re.compile('"reward"'))  # the project's settings, once loaded
    assert json.loads(hyperparameters.input_value())["reward"]["epochs"] == 2
    page.get_by_label("PPO: iterations").fill("30")  # a main hyperparameter, edited in its field
    assert json.loads(hyperparameters.input_value())["ppo"]["steps"] == 30
    screenshot(page, "12-start-iteration")
    page.get_by_role("button", name="Start iteration").click()

    # The detail page polls: the first steps finish, the reward model's curves appear.
    page.wait_for_url("**/iterations/*")
    status = page.get_by_test_id("iteration-status")
    status.wait_for()
    reward = page.get_by_test_id("step-reward")
    try:
        reward.locator(".status-succeeded").wait_for(timeout=180_000)
    except Exception:
        raise AssertionError(f"the reward step did not finish; worker log:\n{worker.log()[-3000:]}")
    assert page.get_by_test_id("step-snapshot").locator(".status-succeeded").count() == 1
    assert reward.locator("figure.chart svg path").count() >= 1, "reward-model metric curves are drawn"
    assert page.get_by_role("progressbar", name="Progress of reward").get_attribute("aria-valuenow") == "100"
    assert status.inner_text() == "running"
    screenshot(page, "11-iteration")
    phone, phone_watch = page_factory(width=390, height=844)
    login(phone, "erin", PASSWORD)
    phone.goto(page.url)
    phone.get_by_test_id("step-reward").locator(".status-succeeded").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone_watch.assert_clean()

    # Cancel stops it; the page shows the final state without a reload.
    page.get_by_role("button", name="Cancel iteration").click()
    page.wait_for_function("() => document.querySelector('[data-testid=iteration-status]').textContent === 'cancelled'",
                           timeout=30_000)
    iteration = Iteration.objects.get(project=project)
    assert iteration.status == Iteration.Status.CANCELLED
    assert iteration.created_by == engineer
    assert iteration.hyperparameters["ppo"]["steps"] == 30 and iteration.hyperparameters["reward"]["epochs"] == 2
    assert TrainingJob.objects.get(iteration=iteration, step="reward").status == TrainingJob.Status.SUCCEEDED
    watch.assert_clean()
