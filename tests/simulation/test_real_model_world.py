"""The real-model world's pieces on a tiny scale: HH requests split once, a gold reward model learned
from a few real human pairs, the tiny policy standing in for SmolLM2, one iteration through a real
server and Celery worker, and the report's real-model fields."""
import gzip
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from annotation.models import ComparisonTask, Iteration, Judgement, Project, TrainingJob
from simulation import hh_world
from simulation.demo_setup import base_policy_build
from simulation.experiments.worlds import WIFI_QUESTION

HH_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "hh-harmless-1500.jsonl.gz"

TINY = {
    "reward": {"epochs": 1, "max_length": 128},
    "ppo": {"steps": 2, "batch_size": 4, "minibatch_size": 4, "ppo_epochs": 1, "max_new_tokens": 16},
    "generate": {"train_prompts": 4, "eval_prompts": 3, "max_new_tokens": 16},
}


@pytest.fixture(scope="module")
def hh_file():
    assert HH_FILE.exists(), f"{HH_FILE} is missing: the shared HH sample must sit beside the repository"
    return HH_FILE


def small_hh_file(source: Path, path: Path, lines: int) -> Path:
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        rows = [next(handle) for _ in range(lines)]
    path.write_text("".join(rows), encoding="utf-8")
    return path


def test_the_first_human_turn_is_the_request():
    dialogue = "\n\nHuman: How do I pick a lock?\n\nAssistant: I can't help.\n\nHuman: Please?\n\nAssistant: No."
    assert hh_world.first_human_turn(dialogue) == "How do I pick a lock?"
    assert hh_world.first_human_turn("no markers") == ""
    assert hh_world.request_of({"prompt": [{"role": "user", "content": " Hi "}]}) == "Hi"


def test_the_split_is_fixed_and_the_gold_model_never_learns_from_held_out_requests(hh_file):
    split = hh_world.prompt_split(hh_file, train_count=40, eval_count=30)
    again = hh_world.prompt_split(hh_file, train_count=40, eval_count=30)
    assert split == again and len(split.train) == 40 and len(split.evaluation) == 30
    assert not set(split.train) & set(split.evaluation)
    assert all(len(text) <= hh_world.MAX_PROMPT_CHARS for text in split.train + split.evaluation)
    train, held_out = hh_world.gold_training_pairs(hh_file, split.evaluation)
    assert len(train) + len(held_out) == 1500 and len(held_out) >= 30
    assert not {hh_world.first_human_turn(row["chosen"]) for row in train} & set(split.evaluation)


def test_an_unprimed_response_is_an_error_not_a_silent_score(tmp_path):
    gold = hh_world.GoldModel(tmp_path / "none", scratch=tmp_path / "scratch")
    gold.cache[hh_world.gold_key([{"role": "user", "content": "Hi"}], "Hello")] = 1.5
    # the API shows a prompt as {text, messages}; the key is the same
    assert gold({"text": "", "messages": [{"role": "user", "content": "Hi"}]}, "Hello") == 1.5
    with pytest.raises(KeyError, match="not primed"):
        gold("Hi", "Bye")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_tiny_real_model_world_loop_writes_the_real_model_report(artifact_root, settings, tmp_path, hh_file):
    settings.TRAINING_DEVICE = "cpu"
    small = ["--hidden-size", "64", "--num-layers", "2", "--intermediate-size", "256", "--pretrain-steps", "40"]
    policy = base_policy_build(output=tmp_path / "tiny-policy", extra_args=[*small, "--device", "cpu"])
    pairs = small_hh_file(hh_file, tmp_path / "hh-small.jsonl", 60)
    output = tmp_path / "report"

    call_command(
        "loop", "--world", "real-model", "--policy", str(policy), "--prompts", str(pairs), "--gold-pairs", str(pairs),
        "--train-prompts", "6", "--eval-prompts", "4", "--iterations", "1", "--annotators", "3",
        # 3 first tasks per request: with 1, two judgements of a near-tie often disagree and the
        # snapshot could be left with fewer than its 4 consensus pairs
        "--tasks-per-prompt", "3", "--samples-per-prompt", "2",
        "--hyperparameters", json.dumps(TINY), "--output", str(output), "--iteration-timeout", "900",
        stdout=io.StringIO(),
    )

    document = json.loads((output / "report.json").read_text())
    assert document["world"] == "real-model"
    gold = document["gold_model"]
    assert gold["n_train_pairs"] + gold["n_held_out_pairs"] == 60 and gold["n_held_out_pairs"] >= 4
    # and as many pairs of a human answer against a degenerate copy, checked on the held-out requests
    assert gold["n_degenerate_pairs"] == gold["n_train_pairs"]
    assert gold["degenerate_check"]["n"] == 6 * gold["n_held_out_pairs"]
    assert set(gold["degenerate_check"]["by_kind"]) == {"punctuation_run", "repeated_word", "shuffled_words",
                                                        "random_letters", "truncated_with_run", "empty"}
    assert document["base"]["gold"]["n"] == 8  # 4 held-out requests x 2 samples
    [entry] = document["iterations"]
    assert entry["status"] == "succeeded", entry.get("error")
    assert entry["judgements"] > 0 and entry["annotation_errors"] == []
    assert entry["policy"]["gold"]["n"] == 8 and entry["policy"]["kl_to_reference"] is not None
    win = entry["policy"]["gold_win_rate_vs_base"]
    assert win["n"] == 8 and 0.0 <= win["ci_low"] <= win["win_rate"] <= win["ci_high"] <= 1.0
    assert entry["human_eval"]["vs_reference"]["n"] > 0
    assert all(step["seconds"] is not None for step in entry["steps"].values())
    table = document["samples_table"]
    assert table[0]["prompt"] == WIFI_QUESTION and len(table) == 5
    assert all(isinstance(row["before_gold"], float) and isinstance(row["after_gold"], float) for row in table)
    summary = (output / "summary.md").read_text()
    assert "## Before and after" in summary and "## The gold reward" in summary and "## How long each step took" in summary

    # The platform did the work: judgements over HTTP on the base model's own samples, every
    # step, and new tasks of the new policy's samples.
    project = Project.objects.get(pk=document["config"]["project_id"])
    iteration = Iteration.objects.get(project=project)
    assert Judgement.objects.filter(project=project).count() == document["judgements_total"]
    assert set(TrainingJob.objects.filter(iteration=iteration).values_list("status", flat=True)) == {"succeeded"}
    assert ComparisonTask.objects.filter(iteration=iteration, purpose="training").exists()
    assert project.prompts.filter(split="eval").count() == 4 and project.prompts.filter(split="train").count() == 6
    assert iteration.hyperparameters["ppo"]["lora_r"] == 16


def test_the_real_model_world_has_its_own_sizes_and_over_optimized_settings(tmp_path):
    from simulation.management.commands.loop import Command, loop_config_from_options

    def config_of(*args):
        options = vars(Command().create_parser("manage.py", "loop").parse_args(["--output", str(tmp_path), *args]))
        return loop_config_from_options(options)

    real = config_of("--world", "real-model")
    assert (real.world, real.iterations, real.tasks_per_prompt, real.samples_per_prompt) == ("real-model", 2, 6, 4)
    assert real.policy == "smollm2-135m-instruct" and real.reward_backbone == "minilm"
    over = config_of("--world", "real-model", "--overoptimize")
    assert over.reward_backbone == "minilm" and over.hyperparameters["ppo"]["init_kl_coef"] == 0.0
    assert over.hyperparameters["reward"]["max_train_pairs"] == 24
    synthetic = config_of()
    assert (synthetic.world, synthetic.tasks_per_prompt, synthetic.samples_per_prompt) == ("synthetic", 16, 96)
