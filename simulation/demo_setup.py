"""Setting up the demo: accounts, the demo project, its prompts and first tasks, the base policy.

Every step is idempotent, so `make run` can call `python manage.py demo` on every start.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import Membership, PolicyVersion, Project
from annotation.services.imports import import_run
from annotation.services.projects import member_add, project_create
from training.client import run_training_command
from training.jsonl import write_jsonl

from .corpus import demo_prompts, demo_tasks, pretraining_records
from .pretrained import pretrained_encoder

DEMO_PROJECT_NAME = "Demo: a helpful and harmless assistant"
BASE_POLICY_NAME = "base"
DEMO_GUIDELINES = """\
# Which answer is better?

You see a request and two answers. Pick the answer you would rather receive.

**Helpfulness** — a better answer
- answers the question that was asked (not a different one),
- is clear and to the point: no rambling, no filler, no saying the same thing twice,
- is friendly; rudeness makes an answer worse even when its content is right.

**Harmlessness** — a better answer
- refuses requests to hurt someone, steal, or break the law, and may offer a safe alternative,
- does not refuse harmless requests.

Use the strength scale honestly: *negligibly better / unsure* when you cannot really tell.
Flag anything unsafe you see.
"""


@dataclass(frozen=True)
class DemoAccount:
    """A demo login and what it is for."""

    username: str
    password: str
    role: str  # "admin" (superuser) or a project role
    env_var: str


def demo_accounts() -> list[DemoAccount]:
    """The demo logins; each password can be overridden from the environment."""
    accounts = [
        ("admin", "prefloop-admin", "admin", "PREFLOOP_ADMIN_PASSWORD"),
        ("annotator", "prefloop-annotator", Membership.Role.ANNOTATOR, "PREFLOOP_ANNOTATOR_PASSWORD"),
        ("manager", "prefloop-manager", Membership.Role.MANAGER, "PREFLOOP_MANAGER_PASSWORD"),
        ("engineer", "prefloop-engineer", Membership.Role.ENGINEER, "PREFLOOP_ENGINEER_PASSWORD"),
    ]
    return [DemoAccount(name, os.environ.get(env, default), role, env) for name, default, role, env in accounts]


@dataclass
class DemoSummary:
    """What `demo_setup` found or created."""

    project: Project
    accounts: list[DemoAccount]
    new_accounts: list[str]
    prompts_created: int
    tasks_created: int
    import_errors: list[dict]


@transaction.atomic
def demo_admin_ensure(account: DemoAccount):
    """The demo superuser, created with the demo password if missing (an existing password is
    left alone: someone may have changed it on purpose). Returns (user, created)."""
    User = get_user_model()
    user = User.objects.filter(username=account.username).first()
    if user is not None:
        return user, False
    return User.objects.create_superuser(username=account.username, password=account.password, email=""), True


def demo_project_ensure(*, admin) -> Project:
    """The demo project (pairwise, overlap 2, guidelines, criteria), created if missing.

    It is set up as the loop's runs are (docs/loop-report/README.md): reward models start from the
    pretrained MiniLM encoder, not from the tiny policy's backbone (which learned "shorter wins"
    and led PPO to collapse answers into a few words), and consensus weighs annotators by their
    estimated reliability (`--simulate` includes spammers)."""
    project = Project.objects.filter(name=DEMO_PROJECT_NAME).first()
    if project is not None:
        return project
    return project_create(
        creator=admin,
        name=DEMO_PROJECT_NAME,
        task_type=Project.TaskType.PAIRWISE,
        responses_per_task=2,
        overlap=2,
        guidelines=DEMO_GUIDELINES,
        criteria=["helpfulness", "harmlessness"],
        lease_seconds=600,
        consensus_method=Project.Consensus.RELIABILITY,
        reward_base_model=pretrained_encoder(),
    )


def demo_members_ensure(*, project: Project, admin, accounts: list[DemoAccount]) -> list[str]:
    """Creates the non-admin demo accounts as members of the demo project; returns new usernames."""
    User = get_user_model()
    created = []
    for account in accounts:
        if account.role == "admin":
            continue
        exists = User.objects.filter(username=account.username).exists()
        member_add(
            project=project,
            actor=admin,
            username=account.username,
            role=account.role,
            password=None if exists else account.password,
        )
        if not exists:
            created.append(account.username)
    return created


def user_turn(text: str) -> list[dict]:
    """A prompt as a one-turn conversation: the tiny base policy was pretrained on chat-formatted
    dialogues, so prompts go to it through its chat template."""
    return [{"role": "user", "content": text}]


def demo_content_import(*, project: Project, admin, seed: int = 0, tasks_per_prompt: int = 3):
    """Imports the demo prompts (train and eval) and the first comparison tasks on train prompts.

    Goes through the import service, so content hashes make a re-run create nothing new.
    Returns (prompts_created, tasks_created, errors).
    """
    prompt_records = [
        {"messages": user_turn(prompt.text), "split": prompt.split, "metadata": {"kind": prompt.kind}}
        for prompt in demo_prompts(seed=seed)
    ]
    prompts = import_run(project=project, actor=admin, format="prompts", records=prompt_records)
    task_records = [
        {
            "messages": user_turn(task.prompt.text),
            "split": task.prompt.split,
            "metadata": {"kind": task.prompt.kind},
            "responses": [response.text for response in task.responses],
        }
        for task in demo_tasks(seed=seed, tasks_per_prompt=tasks_per_prompt, split="train")
    ]
    tasks = import_run(project=project, actor=admin, format="tasks", records=task_records)
    return prompts.created, tasks.created, prompts.errors + tasks.errors


def demo_setup(*, seed: int = 0) -> DemoSummary:
    """Accounts, project, prompts and first tasks of the demo (idempotent)."""
    accounts = demo_accounts()
    admin_account = next(account for account in accounts if account.role == "admin")
    admin, admin_created = demo_admin_ensure(admin_account)
    project = demo_project_ensure(admin=admin)
    new_accounts = (["admin"] if admin_created else []) + demo_members_ensure(
        project=project, admin=admin, accounts=accounts
    )
    prompts_created, tasks_created, errors = demo_content_import(project=project, admin=admin, seed=seed)
    return DemoSummary(project, accounts, new_accounts, prompts_created, tasks_created, errors)


# The demo world's base policy: ~0.9M parameters, 800 pretraining steps (about 1-2 minutes on 2 CPU
# cores). The CLI's default (~0.2M, 300 steps) writes mostly broken sentences, so PPO could only
# learn to stop early ("Sure, I am glad to help."); this one writes the corpus's mix of good and bad
# answers (gold -0.60 on held-out prompts against -1.71), which the loop can then reweight.
BASE_POLICY_SHAPE = ("--hidden-size", "128", "--num-layers", "3", "--intermediate-size", "512",
                     "--pretrain-steps", "800")


def base_policy_dir() -> Path:
    """Where the demo's tiny base policy lives."""
    return Path(settings.ARTIFACT_ROOT) / "demo" / "base-policy"


def write_pretraining_corpus(path: Path, *, seed: int = 0) -> int:
    """Writes the corpus the tiny base policy pretrains on (JSONL: text, prompt, completion)."""
    records = pretraining_records(seed=seed)
    write_jsonl(path, records)
    return len(records)


def base_policy_build(*, output: Path, seed: int = 0, stream=None, extra_args: list[str] | None = None) -> Path:
    """Builds the tiny base policy with `python -m training tiny-model` (skipped if present).
    `extra_args` come last, so they override `BASE_POLICY_SHAPE` (tests build a smaller one).

    Builds into a temporary directory next to `output` and renames it into place, so a build
    interrupted half-way never looks finished. The trainer's output (its progress bar) goes to
    `stream`. Raises `TrainingCommandError` (a RuntimeError) saying why if it fails.
    """
    if (output / "config.json").exists():
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".base-policy-", dir=output.parent))
    try:
        corpus = staging / "corpus.jsonl"
        write_pretraining_corpus(corpus, seed=seed)
        model_dir = staging / "model"
        run_training_command(
            "tiny-model", ["--corpus", str(corpus), "--output", str(model_dir), "--seed", str(seed),
                           *BASE_POLICY_SHAPE, *(extra_args or [])],
            cwd=settings.BASE_DIR, on_output=None if stream is None else partial(_echo, stream),
        )
        shutil.copy(corpus, model_dir / "pretraining-corpus.jsonl")
        if output.exists():
            shutil.rmtree(output)
        model_dir.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output


def _echo(stream, _name: str, line: str) -> None:
    stream.write(line + "\n")
    stream.flush()


@transaction.atomic
def base_policy_register(*, project: Project, path: Path) -> PolicyVersion:
    """Registers `path` as the project's reference policy and its base policy (idempotent)."""
    policy, _ = PolicyVersion.objects.get_or_create(
        project=project, name=BASE_POLICY_NAME, defaults={"path": str(path), "is_reference": True}
    )
    if policy.path != str(path) or not policy.is_reference:
        policy.path, policy.is_reference = str(path), True
        policy.save(update_fields=["path", "is_reference"])
    if project.base_policy_path != str(path):
        project.base_policy_path = str(path)
        project.save(update_fields=["base_policy_path"])
    return policy
