"""A headless run of the whole loop in the synthetic world, measured against the gold reward.

Per iteration: the simulated crowd judges every open task through the REST API of a real server
(training tasks, and the previous iteration's blind evaluation tasks); the platform's own
iteration runs on a Celery worker (snapshot -> reward model -> policy optimization -> new tasks);
then the new reward model and policy are measured against the hidden gold reward. The platform
never sees the gold reward: it learns only from the crowd's judgements.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone as dt_timezone
from functools import partial
from pathlib import Path

from django.contrib.auth import get_user_model
from tqdm import tqdm

from annotation.models import Iteration, PolicyVersion, Project, TrainingJob
from annotation.selectors.agreement import project_agreement
from annotation.services.iterations import hyperparameters_merge, iteration_evaluation_record, iteration_start
from annotation.services.projects import member_add, project_create
from simulation.demo_setup import DEMO_GUIDELINES, base_policy_register, demo_admin_ensure, demo_accounts
from simulation.processes import CeleryWorker, WebServer, child_environment, free_port
from simulation.simulated_annotators import DEFAULT_PASSWORD, SimulatedCrowd, default_profiles
from training.jsonl import read_jsonl, write_jsonl

from .active_selection import LOOP_SCALE, PLATFORM_AS_BUILT, active_selection_experiment
from .measure import MeanEstimate, overoptimization_detected
from .measurement import measure_policy, proxy_mean, reward_model_gold_accuracy
from .report import verdict, write_report
from .showcase import gold_win_rate, showcase_samples
from .worlds import WORLDS, world_for

# Tokens per response wherever the loop samples a policy: PPO's rollouts, the generate step's
# samples for annotators, and the gold measurement.
RESPONSE_TOKENS = 48

REWARD_BACKBONES = ("minilm", "policy")
FINAL_STATES = (Iteration.Status.SUCCEEDED, Iteration.Status.FAILED, Iteration.Status.CANCELLED)


@dataclass(frozen=True)
class LoopConfig:
    """What one headless loop run does (the `manage.py loop` options)."""

    output: Path
    iterations: int = 3
    annotators: int = 8
    seed: int = 0
    algorithm: str = "ppo"
    kl_budget: float = 8.0  # nats per response, to the reference policy, at the end of the run
    # First candidate tasks per train prompt (x 32 prompts x overlap 2 = 1,024 first-round judgements):
    # with 8, the first reward model's gold accuracy ranged 0.73-0.92 over seeds and 2 of 6 runs
    # missed the bar; with 16 it was 0.84-0.92 and all runs in the loop report passed.
    tasks_per_prompt: int = 16
    labels_per_iteration: int = 0  # cap on judgements per annotation phase (0: every open task)
    # Gold measurement: samples per held-out prompt (10 prompts). 96 gives each policy's mean gold an
    # SE of about 0.07; generating them takes seconds.
    samples_per_prompt: int = 96
    hyperparameters: dict = field(default_factory=dict)  # overrides of the project's training settings
    reward_backbone: str = "minilm"  # "minilm": the pretrained encoder; "policy": the tiny policy's own
    base_url: str = ""  # an already running server; empty: start gunicorn
    port_range: tuple[int, int] = (0, 0)  # where to start it ((0, 0): any free port)
    start_worker: bool = True  # False when a worker already consumes this broker
    iteration_timeout_s: float = 3600.0
    settings_module: str = ""  # for the server and worker ("" : this process's)
    active_selection: bool = False  # also measure labels needed: uncertainty vs random selection
    world: str = "synthetic"  # "synthetic" or "real-model" (see worlds.py)
    # The real-model world: where requests and the gold reward's pairs come from (default: the
    # shared HH sample), the policy, and how many requests train and how many are held out.
    prompts_file: str = ""
    gold_pairs_file: str = ""
    policy: str = "smollm2-135m-instruct"
    train_prompts: int = 48
    eval_prompts: int = 32

    def __post_init__(self):
        if self.iterations < 1:
            raise ValueError("--iterations must be at least 1")
        if self.annotators < 1:
            raise ValueError("--annotators must be at least 1")
        if self.kl_budget <= 0:
            raise ValueError("--kl-budget must be positive")
        if self.world not in WORLDS:
            raise ValueError(f"--world must be one of {', '.join(WORLDS)}")
        if self.train_prompts < 2 or self.eval_prompts < 2:
            raise ValueError("--train-prompts and --eval-prompts must be at least 2")
        if self.reward_backbone not in REWARD_BACKBONES:
            raise ValueError(f"--reward-backbone must be one of {', '.join(REWARD_BACKBONES)}")


def default_hyperparameters(config: LoopConfig) -> dict:
    """Training settings for tiny local models (tuned on this CPU; see the loop report).

    PPO's KL target and cap change per iteration (`ppo_kl_schedule`); these are the final ones.
    """
    if config.world == "real-model":
        return real_model_hyperparameters(config)
    return {
        "seed": config.seed,
        # MiniLM with its top 2 blocks trained (see loop_project_create): 2e-4 suits that few
        # trainable layers on a few hundred pairs.
        "reward": {"lr": 2e-4, "epochs": 4, "batch_size": 16, "max_length": 192, "trainable_layers": 2},
        # 64 rollouts per step: with 16 the batch's mean reward swung by +-1.5 from step to step
        # and PPO hardly moved the reward in 20 steps.
        "ppo": {"steps": 20, "batch_size": 64, "minibatch_size": 16, "lr": 1e-4, "init_kl_coef": 0.3,
                "kl_horizon": 1000,
                **ppo_kl_schedule(config, config.iterations), "max_new_tokens": RESPONSE_TOKENS},
        "dpo": {"lr": 1e-3, "epochs": 2, "beta": 0.1},
        "rloo": {"lr": 1e-4, "steps": 30},
        "generate": {"train_prompts": 16, "eval_prompts": 10, "max_new_tokens": RESPONSE_TOKENS},
    }


# Tokens per response in the real-model world: refusals and short answers fit, and a PPO step on
# 16 requests stays near 20 s on 2 cores.
REAL_MODEL_RESPONSE_TOKENS = 32
LORA = {"lora_r": 16, "lora_alpha": 32}


def real_model_hyperparameters(config: LoopConfig) -> dict:
    """SmolLM2-135M-Instruct with LoRA adapters, proxy reward models from MiniLM (see
    docs/loop-report/real-model/README.md for how these were chosen on 2 cores)."""
    return {
        "seed": config.seed,
        "reward": {"lr": 2e-4, "epochs": 4, "batch_size": 16, "max_length": 192, "trainable_layers": 2},
        "ppo": {"steps": 10, "batch_size": 16, "minibatch_size": 8, "ppo_epochs": 2, "lr": 5e-4, **LORA,
                "init_kl_coef": 0.1, "kl_control": "adaptive", "kl_horizon": 200, "max_prompt_length": 128,
                "missing_eos_penalty": 0.0,
                # one batch of 16 misreads the KL by about 1 nat (per-response SD 3-4 nats): stop when
                # it is over the cap by more than 1 SE, not at the first noisy reading over it
                "max_kl_margin_se": 1.0,
                **ppo_kl_schedule(config, config.iterations), "max_new_tokens": REAL_MODEL_RESPONSE_TOKENS},
        "dpo": {"lr": 2e-4, "epochs": 2, "beta": 0.1, "batch_size": 8, "max_length": 192, **LORA},
        "generate": {"train_prompts": 16, "eval_prompts": 8, "max_new_tokens": REAL_MODEL_RESPONSE_TOKENS},
    }


# PPO's KL is estimated on its own rollouts (train prompts, one batch); the report measures the
# final policy on held-out prompts. Stopping a little short of the budget absorbs the difference.
KL_SAFETY = 0.85


def ppo_kl_schedule(config: LoopConfig, number: int) -> dict:
    """PPO's KL target and hard cap (to the reference policy) for iteration `number`.

    The budget opens in equal parts: iteration i of K may reach i/K of it. The first reward models
    have the fewest labels, so they get the least room to be exploited.
    """
    allowed = round(KL_SAFETY * config.kl_budget * number / config.iterations, 3)
    return {"target_kl": allowed, "max_kl": allowed}


def loop_project_create(config: LoopConfig, *, admin, world) -> Project:
    """A fresh project for this run (its own name), with the world's prompts and first tasks."""
    stamp = datetime.now(dt_timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    name = f"Loop run {stamp} (seed {config.seed})"
    suffix = 1
    while Project.objects.filter(name=name).exists():
        suffix += 1
        name = f"Loop run {stamp} (seed {config.seed}) #{suffix}"
    hyperparameters = hyperparameters_merge(default_hyperparameters(config), config.hyperparameters)
    project = project_create(
        creator=admin, name=name, task_type=Project.TaskType.PAIRWISE, responses_per_task=2, overlap=2,
        guidelines=DEMO_GUIDELINES, criteria=[], lease_seconds=300,
        # The crowd includes spammers: weight annotators by their estimated reliability.
        consensus_method=Project.Consensus.RELIABILITY,
        # A reward model trained from the tiny policy's own backbone learned "shorter wins" from the
        # corpus (gold accuracy 0.72, Spearman with gold on policy samples 0.22) and PPO collapsed
        # answers into a few words; pretrained MiniLM on the same pairs reaches 0.84 and 0.45, and
        # scores those collapsed answers below the base policy's (docs/loop-report/README.md).
        # ("policy": the project's default, the small reward model of the over-optimized run.)
        reward_base_model=world.reward_base_model(),
        algorithm=config.algorithm, hyperparameters=hyperparameters,
    )
    world.content_import(project=project, admin=admin)
    return project


@dataclass
class PhaseResult:
    judged: int
    errors: list[str]
    seconds: float


def annotation_phase(*, project: Project, base_url: str, profiles, seed: int, cap: int, label: str,
                     world) -> PhaseResult:
    """The crowd judges until nothing is left for any of them (or the cap is reached)."""
    started = time.monotonic()
    world.before_annotation(project)
    each = math.ceil(cap / len(profiles)) if cap else None
    bar = tqdm(desc=label, unit="judgement", leave=True, dynamic_ncols=True)
    crowd = SimulatedCrowd(profiles, base_url=base_url, project_id=project.pk, seed=seed,
                           max_judgements_each=each, on_judgement=lambda _name: bar.update(1),
                           gold=world.annotator_gold())
    stats = crowd.run()
    bar.close()
    errors = [f"{s.username}: {e}" for s in stats for e in s.errors]
    return PhaseResult(sum(s.judged for s in stats), errors, time.monotonic() - started)


def wait_for_iteration(iteration: Iteration, *, timeout_s: float) -> Iteration:
    """Polls the iteration until it ends, with a progress bar over its steps."""
    deadline = time.monotonic() + timeout_s
    bar = tqdm(total=100, desc=f"iteration {iteration.number}", unit="%", leave=True, dynamic_ncols=True)
    try:
        while True:
            iteration.refresh_from_db()
            jobs = list(iteration.jobs.order_by("order"))
            done = sum(1.0 if job.status == TrainingJob.Status.SUCCEEDED else job.progress for job in jobs)
            running = next((job.step for job in jobs if job.status == TrainingJob.Status.RUNNING), "")
            bar.n = int(100 * done / max(1, len(jobs)))
            bar.set_postfix_str(f"{iteration.status} {running}".strip(), refresh=False)
            bar.refresh()
            if iteration.status in FINAL_STATES:
                return iteration
            if time.monotonic() > deadline:
                raise TimeoutError(f"Iteration {iteration.number} did not finish within {timeout_s:.0f} s "
                                   f"(is a Celery worker consuming the default and gpu queues?)")
            time.sleep(1.0)
    finally:
        bar.close()


def step_history(iteration: Iteration) -> list[dict]:
    """The policy optimizer's logged steps: {step, kl, proxy_reward} (whatever it logged)."""
    job = iteration.jobs.filter(step=iteration.algorithm).first()
    rows = []
    for entry in (job.metrics_history if job else []) or []:
        kl = entry.get("kl", entry.get("objective/kl"))
        reward = entry.get("reward_mean", entry.get("reward", entry.get("score")))
        if entry.get("step") is not None:
            rows.append({"step": entry["step"], "kl": kl, "proxy_reward": reward})
    return rows


def _job_seconds(job: TrainingJob) -> float | None:
    if job.started_at and job.finished_at:
        return round((job.finished_at - job.started_at).total_seconds(), 1)
    return None


def _as_win_rate(row: dict | None) -> dict | None:
    """The platform's win-rate row in the report's WinRate shape (win_rate, CI, wins/ties/losses, n)."""
    if not row or not row.get("n_judgements"):
        return None
    return {"win_rate": row["win_rate"], "ci_low": row["ci_low"], "ci_high": row["ci_high"], "wins": row["wins"],
            "ties": row["ties"], "losses": row["losses"], "n": row["n_judgements"], "n_tasks": row["n_tasks"],
            "opponent": row["opponent"]}


def platform_evaluation(iteration: Iteration) -> dict:
    """The platform's own human evaluation of the iteration, refreshed now that its blind evaluation
    tasks are judged: the same service the beat runs every minute (win-rates with bootstrap CIs,
    the reward model's agreement with annotators, the overoptimization flag on the iteration).

    Returns the report's `human_eval` ({"vs_previous", "vs_reference", "reward_model_agreement"})."""
    evaluation = iteration_evaluation_record(iteration=iteration)
    by_opponent = {row["opponent"]: row for row in evaluation["win_rates"]}
    reference = PolicyVersion.objects.filter(project=iteration.project, is_reference=True).order_by("pk").first()
    return {
        "source": "platform (annotation.services.iterations.iteration_evaluation_record)",
        "vs_previous": _as_win_rate(by_opponent.get(iteration.policy_before.name)) if iteration.policy_before else None,
        "vs_reference": _as_win_rate(by_opponent.get(reference.name)) if reference else None,
        "reward_model_agreement": evaluation["reward_model_agreement"],
    }


def agreement_now(project: Project) -> tuple[float | None, dict]:
    """Percent agreement of the crowd so far, and the platform's agreement report."""
    report = project_agreement(project=project, use_cache=False)
    return report.get("percent_agreement"), report


class LoopRun:
    """One headless run: set-up, K iterations with measurement, the report."""

    def __init__(self, config: LoopConfig, *, log=print):
        self.config = config
        self.log = log
        self.output = Path(config.output)
        self.results: dict = {}

    def run(self) -> dict:
        config = self.config
        self.output.mkdir(parents=True, exist_ok=True)
        admin_account = next(a for a in demo_accounts() if a.role == "admin")
        admin, _ = demo_admin_ensure(admin_account)
        self.world = world = world_for(config, log=self.log)
        base_dir = world.base_policy(self.log)
        project = loop_project_create(config, admin=admin, world=world)
        self.log(f"Project #{project.pk} {project.name!r}: {project.tasks.count()} first tasks.")
        reference = base_policy_register(project=project, path=base_dir)
        profiles = default_profiles(config.annotators, seed=config.seed)
        User = get_user_model()
        for profile in profiles:
            exists = User.objects.filter(username=profile.username).exists()
            member_add(project=project, actor=admin, username=profile.username, role="annotator",
                       password=None if exists else DEFAULT_PASSWORD)

        measure_dir = self.output / "measurements"
        prompts_file = write_jsonl(measure_dir / "heldout-prompts.jsonl", world.evaluation_prompt_rows())
        # Policies are measured as the platform samples them for annotators: as many tokens as the
        # generate step writes (and PPO trains on). Longer samples run into text no step ever
        # trained or penalised, where a few samples' KL reaches 100+ nats.
        generate = project.hyperparameters.get("generate") or {}
        self.measure = partial(measure_policy, reference=reference.path, prompts_file=prompts_file,
                               samples_per_prompt=config.samples_per_prompt, seed=config.seed,
                               max_new_tokens=int(generate.get("max_new_tokens", RESPONSE_TOKENS)),
                               gold_scores=world.gold_scores)
        self.log("Measuring the base policy against the gold reward...")
        measure_started = time.monotonic()
        base = self.measure(policy=reference.path, output_dir=measure_dir / "base")
        pairs_file = write_jsonl(measure_dir / "gold-labelled-pairs.jsonl",
                                 world.gold_labelled_pairs(read_jsonl(base.samples_file)))
        self.results = {
            "config": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
                       "project_id": project.pk, "project": project.name,
                       "hyperparameters": project.hyperparameters,
                       "annotator_profiles": [asdict(p) for p in profiles]},
            "world": world.name,
            "base": {"policy": reference.name, **base.as_dict(),
                     "measure_seconds": round(time.monotonic() - measure_started, 1)},
            "iterations": [],
            "agreement_timeline": [],
        }
        env_overrides = {"DJANGO_SETTINGS_MODULE": config.settings_module} if config.settings_module else {}
        env = child_environment(DATABASE_CONN_MAX_AGE="0", **env_overrides)
        server = worker = None
        try:
            if config.base_url:
                base_url = config.base_url
            else:
                server = WebServer(port=free_port(*config.port_range), env=env, log_path=self.output / "logs" / "web.log")
                server.start()
                base_url = server.url
            if config.start_worker:
                worker = CeleryWorker(env=env, log_path=self.output / "logs" / "worker.log")
                worker.start()
            self._iterate(project, profiles, base_url, reference, base, prompts_file, pairs_file, measure_dir)
            self._showcase(reference, measure_dir)
        finally:
            for process in (worker, server):
                if process is not None:
                    process.stop()
        if config.active_selection:
            self.log("Measuring active pair selection (active strategies vs random, 8 seeds at the loop's scale, "
                     "refitted after every batch and ranked once per iteration as the platform does)...")
            # Its own reward model (a linear head on frozen MiniLM embeddings): see active_selection.py.
            for key, setting in (("active_selection", LOOP_SCALE), ("active_selection_as_built", PLATFORM_AS_BUILT)):
                self.results[key] = active_selection_experiment(
                    directory=self.output / "active-selection", seeds=range(config.seed, config.seed + 8),
                    annotators=config.annotators, **setting)
        if hasattr(world, "gold_record"):
            self.results["gold_model"] = world.gold_record()
        self.results["finished_at"] = datetime.now(dt_timezone.utc).isoformat()
        self.results["verdict"] = verdict(self.results)
        write_report(self.results, self.output)
        return self.results

    def _iterate(self, project, profiles, base_url, reference, base, prompts_file, pairs_file, measure_dir):
        config = self.config
        previous_gold: MeanEstimate = base.gold
        previous_samples = base.samples_file
        self.last_policy = None
        judged_total = 0
        for number in range(1, config.iterations + 1):
            started = time.monotonic()
            phase = annotation_phase(project=project, base_url=base_url, profiles=profiles, seed=config.seed + number,
                                     cap=config.labels_per_iteration, label=f"annotating before iteration {number}",
                                     world=self.world)
            judged_total += phase.judged
            agreement, _ = agreement_now(project)
            self.results["agreement_timeline"].append({"judgements": judged_total, "agreement": agreement})
            entry: dict = {"number": number, "judgements": phase.judged, "judgements_total": judged_total,
                           "agreement": agreement, "annotation_errors": phase.errors[:5],
                           "annotation_seconds": round(phase.seconds, 1)}
            self.results["iterations"].append(entry)
            # An explicit --hyperparameters value wins over the schedule (the over-optimized run turns it off).
            overrides = hyperparameters_merge({"ppo": ppo_kl_schedule(config, number)}, config.hyperparameters)
            started_iteration = iteration_start(project=project, algorithm=config.algorithm, trigger="loop",
                                                hyperparameters=overrides if config.algorithm == "ppo" else None)
            iteration = wait_for_iteration(started_iteration.iteration, timeout_s=config.iteration_timeout_s)
            entry["status"] = iteration.status
            entry["iteration_id"] = iteration.pk
            entry["steps"] = {job.step: {"status": job.status, "metrics": job.metrics, "error": job.error,
                                         "seconds": _job_seconds(job)}
                              for job in iteration.jobs.order_by("order")}
            if iteration.status != Iteration.Status.SUCCEEDED:
                entry["error"] = iteration.error or next(
                    (job.error for job in iteration.jobs.all() if job.error), "")
                self.log(f"Iteration {number} {iteration.status}: {entry['error']}")
                break
            reward_model = iteration.reward_model
            entry["reward_model"] = {"n_pairs": reward_model.n_pairs if reward_model else None}
            if reward_model is not None:
                accuracy = reward_model_gold_accuracy(reward_model=reward_model.path, pairs_file=pairs_file)
                entry["reward_model"].update({"gold_accuracy": accuracy["accuracy"], "n_eval_pairs": accuracy["n"],
                                              "ece": accuracy["ece"]})
            policy = iteration.policy_after
            measure_started = time.monotonic()
            measured = self.measure(policy=policy.path, output_dir=measure_dir / f"iteration-{number}",
                                    reward_model=reward_model.path if reward_model else None)
            entry["policy"] = {"name": policy.name, **measured.as_dict(),
                               "gold_win_rate_vs_base": gold_win_rate(read_jsonl(measured.samples_file),
                                                                      read_jsonl(base.samples_file))}
            # The proxy of the previous policy under THIS reward model: the fair "before" for
            # the Gao et al. check (proxies of different reward models are not on one scale).
            # Its samples are the ones measured before (same prompts, same seed).
            before_proxy = proxy_mean(previous_samples, reward_model.path,
                                      measure_dir / f"iteration-{number}-before-proxy.jsonl") if reward_model else None
            flagged, reason = (False, "")
            if before_proxy is not None and measured.proxy_mean is not None:
                flagged, reason = overoptimization_detected(
                    proxy_before=before_proxy, proxy_after=measured.proxy_mean,
                    gold_before=previous_gold, gold_after=measured.gold)
                entry["policy"]["proxy_mean_before"] = before_proxy
            entry["policy"]["measure_seconds"] = round(time.monotonic() - measure_started, 1)
            entry["gold_overoptimization"] = {"flag": flagged, "reason": reason}
            entry["ppo_steps"] = step_history(iteration)
            entry["duration_s"] = round(time.monotonic() - started, 1)
            previous_gold = measured.gold
            previous_samples = measured.samples_file
            self.last_policy = policy
            self.log(f"Iteration {number}: gold {measured.gold.mean:.3f} ± {measured.gold.standard_error:.3f}, "
                     f"KL {measured.kl_to_reference}, RM gold accuracy {entry['reward_model'].get('gold_accuracy')}")
        # The last iteration's blind evaluation tasks are judged too, so its win-rates exist.
        phase = annotation_phase(project=project, base_url=base_url, profiles=profiles, seed=config.seed + 1000,
                                 cap=config.labels_per_iteration, label="annotating the last evaluation",
                                 world=self.world)
        judged_total += phase.judged
        agreement, report = agreement_now(project)
        self.results["agreement_timeline"].append({"judgements": judged_total, "agreement": agreement})
        self.results["judgements_total"] = judged_total
        self.results["annotators"] = self._annotator_quality(report)
        for entry in self.results["iterations"]:
            iteration = Iteration.objects.filter(pk=entry.get("iteration_id")).first()
            if iteration is None:
                continue
            entry["human_eval"] = platform_evaluation(iteration)
            iteration.refresh_from_db(fields=["overoptimization_flag", "overoptimization_reason"])
            gold_check = entry.get("gold_overoptimization") or {"flag": False, "reason": ""}
            # `flag` is the platform's monitor, from the platform's own evidence (reward-model
            # scores and human judgements); the world's gold check is reported beside it.
            entry["overoptimization"] = {
                "flag": iteration.overoptimization_flag,
                "reason": iteration.overoptimization_reason,
                "platform_flag": iteration.overoptimization_flag,
                "platform_reason": iteration.overoptimization_reason,
                "gold_flag": gold_check["flag"],
                "gold_reason": gold_check["reason"],
            }

    def _showcase(self, reference, measure_dir: Path) -> None:
        """Before and after, side by side: one sample of the base and of the last policy to each of
        the world's showcase requests, with their gold rewards."""
        prompts = self.world.showcase_prompts()
        if not prompts or self.last_policy is None:
            return
        self.results["samples_table"] = showcase_samples(
            prompts=prompts, before=reference.path, after=self.last_policy.path, directory=measure_dir / "showcase",
            seed=self.config.seed, gold_scores=self.world.gold_scores)

    def _annotator_quality(self, report: dict) -> list[dict]:
        """What the platform's quality control concluded about each simulated annotator, next to
        how that annotator really behaves (known only here)."""
        profiles = {p["username"]: p for p in self.results["config"]["annotator_profiles"]}
        rows = []
        for row in report.get("annotators", []):
            name = row.get("username")
            if name not in profiles:
                continue
            rows.append({"username": name, "behavior": profiles[name]["behavior"],
                         "temperature": profiles[name]["temperature"],
                         "position_bias": profiles[name]["position_bias"], "n": row.get("n"),
                         "agreement_with_majority": row.get("agreement_with_majority"),
                         "left_rate": row.get("left_rate"), "flagged_reasons": row.get("flagged_reasons")})
        return rows
