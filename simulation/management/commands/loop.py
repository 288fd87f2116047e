"""`python manage.py loop --iterations K --annotators N`: the whole RLHF loop, headless, measured.

`--world synthetic` (the default) runs it on templated text with a tiny policy; `--world real-model`
on SmolLM2-135M-Instruct with LoRA answering real human requests, judged against a gold reward
model learned from real human preferences (simulation/experiments/worlds.py).

Starts a web server and a Celery worker on the configured database and broker, lets N simulated
annotators judge through the REST API, runs K iterations, measures every reward model and policy
against the hidden gold reward, and writes a report folder (report.json, PNG plots, summary.md).
"""
import json
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotation.models import Project
from annotation.services.iterations import hyperparameters_merge
from simulation.experiments.loop_runner import REWARD_BACKBONES, LoopConfig, LoopRun
from simulation.experiments.worlds import WORLDS

# A deliberately over-optimized run (Gao et al.): no KL penalty, many optimizer steps, a reward
# model trained on few labels. The report should show proxy reward up and gold reward down.
OVEROPTIMIZE = {
    "ppo": {"kl_control": "fixed", "init_kl_coef": 0.0, "max_kl": 0, "steps": 60, "lr": 1e-3},
    # A small reward model: the tiny policy's own backbone (see --reward-backbone), on 24 pairs.
    "reward": {"max_train_pairs": 24, "epochs": 2, "lr": 1e-3, "trainable_layers": 0},
}

# The same on the real model: no KL penalty or cap, 16 steps at 4x the LoRA learning rate, and a
# proxy trained on few pairs (its MiniLM backbone frozen but for the top block).
REAL_MODEL_OVEROPTIMIZE = {
    "ppo": {"kl_control": "fixed", "init_kl_coef": 0.0, "max_kl": 0, "steps": 16, "lr": 2e-3},
    "reward": {"max_train_pairs": 24, "epochs": 2, "trainable_layers": 1},
}

DEFAULT_ITERATIONS = 3
REAL_MODEL_ITERATIONS = 2
# Sampling SmolLM2 costs about 1,000x the tiny policy, so sizes are small. 6 first tasks per train
# request (288 tasks on 48 requests, 576 judgements; with 2 the first proxy learned from ~90 pairs)
# and 4 samples per held-out request (128 on 32: each policy's mean gold has an SE near 0.05) keep
# a run near 45 minutes with three runs sharing 2 cores (docs/loop-report/real-model).
REAL_MODEL_SIZES = {"tasks_per_prompt": 6, "samples_per_prompt": 4}
# Two over-optimized iterations: the second lets the platform's monitor compare the reward model's
# agreement with annotators against the first one's, besides reward-vs-win-rate.
OVEROPTIMIZE_ITERATIONS = 2


class Command(BaseCommand):
    help = "Runs K iterations of the loop with simulated annotators and writes a measured report."

    def add_arguments(self, parser):
        parser.add_argument("--world", choices=WORLDS, default="synthetic",
                            help="synthetic: templated text, a tiny policy, a hand-written gold reward; "
                                 "real-model: SmolLM2 on real human requests, a gold reward model learned "
                                 "from real human preferences")
        parser.add_argument("--prompts", default="",
                            help="real-model world: the requests (HH pairs, their first human turns, or a "
                                 "prompts JSONL; default ../shared/data/hh-harmless-1500.jsonl.gz)")
        parser.add_argument("--gold-pairs", default="",
                            help="real-model world: HH pairs the gold reward model learns from (default: the same file)")
        parser.add_argument("--policy", default=LoopConfig.policy,
                            help="real-model world: the built-in chat model to start from")
        parser.add_argument("--train-prompts", type=int, default=LoopConfig.train_prompts,
                            help="real-model world: requests the platform trains on")
        parser.add_argument("--eval-prompts", type=int, default=LoopConfig.eval_prompts,
                            help="real-model world: held-out requests the report measures on")
        parser.add_argument("--iterations", type=int, default=None,
                            help=f"iterations to run (default {DEFAULT_ITERATIONS}; {REAL_MODEL_ITERATIONS} in the real-model world; "
                                 f"{OVEROPTIMIZE_ITERATIONS} with --overoptimize)")
        parser.add_argument("--annotators", type=int, default=8, help="simulated annotators")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--algorithm", choices=[c for c, _ in Project.Algorithm.choices], default="ppo")
        parser.add_argument("--kl-budget", type=float, default=8.0,
                            help="KL to the reference allowed at the end (nats per response)")
        parser.add_argument("--tasks-per-prompt", type=int, default=None,
                            help=f"first candidate tasks per train prompt (default {LoopConfig.tasks_per_prompt}; "
                                 f"{REAL_MODEL_SIZES['tasks_per_prompt']} in the real-model world)")
        parser.add_argument("--labels-per-iteration", type=int, default=0,
                            help="cap on judgements per annotation phase (0: every open task)")
        parser.add_argument("--samples-per-prompt", type=int, default=None,
                            help="samples per held-out prompt when measuring gold reward")
        parser.add_argument("--hyperparameters", default="{}",
                            help='JSON overrides of the training settings, e.g. \'{"ppo": {"steps": 10}}\'')
        parser.add_argument("--reward-backbone", choices=REWARD_BACKBONES, default=None,
                            help="reward models start from the pretrained MiniLM encoder (default) or from the "
                                 "tiny policy's own backbone (the default with --overoptimize)")
        parser.add_argument("--overoptimize", action="store_true",
                            help="KL penalty off, many steps, a small reward model (shows overoptimization)")
        parser.add_argument("--output", default="", help="report folder (default: ARTIFACT_ROOT/reports/<time>)")
        parser.add_argument("--url", default="", help="use this running server instead of starting one")
        parser.add_argument("--port", type=int, default=0, help="port for the server it starts (0: any free)")
        parser.add_argument("--no-worker", action="store_true",
                            help="do not start a Celery worker (one already consumes the broker)")
        parser.add_argument("--active-selection", action="store_true",
                            help="also measure labels needed by active vs random pair selection "
                                 "(8 seeds at the loop's scale, refitted after every batch and ranked once "
                                 "per iteration as the platform does; about 15 minutes)")
        parser.add_argument("--iteration-timeout", type=float, default=3600.0, help="seconds per iteration")

    def handle(self, *args, **options):
        config = loop_config_from_options(options)
        try:
            results = LoopRun(config, log=lambda line: self.stdout.write(line)).run()
        except (TimeoutError, RuntimeError) as error:  # RuntimeError: also a failed training command
            raise CommandError(str(error)) from error
        verdict = results.get("verdict") or {}
        self.stdout.write(f"Report: {config.output / 'summary.md'}")
        if verdict:
            self.stdout.write(verdict.get("reason", ""))


def loop_config_from_options(options: dict) -> LoopConfig:
    """The run the command's options describe (--overoptimize fills in its own defaults)."""
    try:
        overrides = json.loads(options["hyperparameters"])
    except json.JSONDecodeError as error:
        raise CommandError(f"--hyperparameters is not valid JSON: {error.msg}") from error
    if not isinstance(overrides, dict):
        raise CommandError("--hyperparameters must be a JSON object of sections.")
    if options["overoptimize"]:
        overrides = hyperparameters_merge(
            REAL_MODEL_OVEROPTIMIZE if options["world"] == "real-model" else OVEROPTIMIZE, overrides)
    iterations = options["iterations"]
    if iterations is None:
        iterations = (OVEROPTIMIZE_ITERATIONS if options["overoptimize"]
                      else REAL_MODEL_ITERATIONS if options["world"] == "real-model" else DEFAULT_ITERATIONS)
    sizes = REAL_MODEL_SIZES if options["world"] == "real-model" else {
        "tasks_per_prompt": LoopConfig.tasks_per_prompt, "samples_per_prompt": LoopConfig.samples_per_prompt}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    output = Path(options["output"] or Path(settings.ARTIFACT_ROOT) / "reports" / f"loop-{stamp}")
    try:
        return LoopConfig(
            output=output, iterations=iterations, annotators=options["annotators"],
            seed=options["seed"], algorithm=options["algorithm"], kl_budget=options["kl_budget"],
            tasks_per_prompt=options["tasks_per_prompt"] or sizes["tasks_per_prompt"],
            labels_per_iteration=options["labels_per_iteration"],
            samples_per_prompt=options["samples_per_prompt"] or sizes["samples_per_prompt"], hyperparameters=overrides,
            base_url=options["url"], port_range=(options["port"], options["port"]) if options["port"] else (0, 0),
            start_worker=not options["no_worker"], iteration_timeout_s=options["iteration_timeout"],
            active_selection=options["active_selection"],
            reward_backbone=options["reward_backbone"] or (
                "policy" if options["overoptimize"] and options["world"] == "synthetic" else "minilm"),
            world=options["world"], prompts_file=options["prompts"], gold_pairs_file=options["gold_pairs"],
            policy=options["policy"], train_prompts=options["train_prompts"], eval_prompts=options["eval_prompts"],
        )
    except ValueError as error:
        raise CommandError(str(error)) from error
