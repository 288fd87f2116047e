"""Command line: `python -m training <command> [flags]`.

Exit status: 0 on success, 2 on a user error (one line on stderr), 1 on anything else.
The last stdout line is always one JSON object with the final metrics; with `--progress-json`
every logged step is also printed to stdout as `{"event": "progress", ...}`.
Everything else (library logs, progress bars) goes to stderr.
"""
import argparse
import contextlib
import json
import logging
import os
import sys
import traceback
import typing
from dataclasses import MISSING

from training.configs import COMMAND_CONFIGS, config_fields
from training.errors import TrainingUserError

DESCRIPTIONS = {
    "base-model": "materialize a built-in pretrained model (or a GGUF file) as a Hugging Face directory",
    "tiny-model": "build and briefly pretrain a tiny Llama-style policy with its own BPE tokenizer",
    "sft": "supervised fine-tuning on demonstrations (TRL SFTTrainer)",
    "reward": "train a Bradley-Terry reward model, or an ensemble (TRL RewardTrainer)",
    "evaluate-reward": "accuracy, loss and ECE of a reward model on pairs",
    "score": "score responses with a reward model (mean and std over an ensemble)",
    "ppo": "PPO with a per-token KL penalty and an adaptive KL controller",
    "dpo": "direct preference optimisation (TRL DPOTrainer)",
    "rloo": "REINFORCE leave-one-out against a reward model (TRL RLOOTrainer)",
    "generate": "sample K responses per prompt",
    "embed": "embed texts with a frozen encoder (mean pooling) into a .npy file",
}


# The commands that run as several processes under `accelerate launch` (README, "Several processes").
MULTI_PROCESS_COMMANDS = frozenset({"sft", "reward", "dpo", "rloo", "ppo"})


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: one line, exit 2
        raise TrainingUserError(f"{self.prog}: {message}")


def _add_config_flags(parser: argparse.ArgumentParser, config_class) -> None:
    hints = typing.get_type_hints(config_class)
    for field in config_fields(config_class):
        flag = "--" + field.name.replace("_", "-")
        kind = hints[field.name]
        help_text = field.metadata.get("help", "")
        kwargs = {"dest": field.name, "help": help_text}
        if field.metadata.get("positional"):
            parser.add_argument(field.name, nargs="?", default=field.default, help=help_text)
            continue
        if field.default is MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = field.default
            kwargs["help"] = f"{help_text} (default: {field.default})"
        origin = typing.get_origin(kind)
        if origin is typing.Literal:
            kwargs["choices"] = list(typing.get_args(kind))
        elif kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            if origin is typing.Union:  # Optional[X]
                kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
            kwargs["type"] = kind
        parser.add_argument(flag, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    # No prefix matching: workers pass a project's hyperparameters as flags, and a prefix such as
    # `--ev` must not reach a flag they set themselves (`--eval`).
    parser = _Parser(prog="python -m training", description=__doc__.splitlines()[0], allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, config_class in COMMAND_CONFIGS.items():
        command = commands.add_parser(name, help=DESCRIPTIONS[name], description=DESCRIPTIONS[name], allow_abbrev=False)
        _add_config_flags(command, config_class)
        command.add_argument("--progress-json", action="store_true",
                             help="print one JSON progress event per logged step on stdout")
    return parser


def _run(command: str, config, on_progress) -> dict:
    """Dispatch to the library entry point; imports are lazy so argument errors come fast."""
    if command == "base-model":
        from training.model_sources import base_model_command

        return base_model_command(config, on_progress)
    if command == "tiny-model":
        from training.tiny_model import build_tiny_model

        return build_tiny_model(config, on_progress).metrics
    if command == "reward":
        from training.reward import train_reward_model_from_files

        return train_reward_model_from_files(config, on_progress).metrics
    if command == "evaluate-reward":
        from training.reward import evaluate_reward_command

        return evaluate_reward_command(config)
    if command == "score":
        from training.reward import score_command

        return score_command(config, on_progress)
    if command == "ppo":
        from training.ppo import train_ppo_from_files

        return train_ppo_from_files(config, on_progress).metrics
    if command == "dpo":
        from training.dpo import train_dpo_from_files

        return train_dpo_from_files(config, on_progress).metrics
    if command == "rloo":
        from training.rloo import train_rloo_from_files

        return train_rloo_from_files(config, on_progress).metrics
    if command == "sft":
        from training.sft import train_sft_from_files

        return train_sft_from_files(config, on_progress).metrics
    if command == "generate":
        from training.generate import generate_command

        return generate_command(config, on_progress)
    if command == "embed":
        from training.embedding import embed_command

        return embed_command(config, on_progress)
    raise TrainingUserError(f"unknown command {command!r}")


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def main(argv=None) -> int:
    from training import distributed
    from training.progress import ProgressReporter

    real_stdout = sys.stdout
    reporter = None
    try:
        arguments = vars(build_parser().parse_args(argv))
        command = arguments.pop("command")
        emit_json = arguments.pop("progress_json")
        config = COMMAND_CONFIGS[command](**arguments)
        _quiet_libraries()
        if distributed.is_distributed() and command not in MULTI_PROCESS_COMMANDS:
            # every rank would write the same output file: these commands are one process
            raise TrainingUserError(f"{command} runs as one process: start it with `python -m training {command}`, "
                                    "not under accelerate launch or torchrun")
        # Under `accelerate launch` every rank runs this; only rank 0 reports (progress and the final line).
        distributed.setup(getattr(config, "device", "auto"))
        reporter = ProgressReporter(command, emit_json=emit_json, stdout=real_stdout,
                                    enabled=distributed.is_main_process())
        # Libraries print to stdout (transformers' log dicts, TRL tables): keep stdout for our JSON.
        with contextlib.redirect_stdout(sys.stderr):
            metrics = _run(command, config, reporter)
        reporter.close()
        distributed.teardown()
    except TrainingUserError as error:
        if reporter:
            reporter.close()
        message = " ".join(str(error).split())
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: keep the traceback for whoever reports it
        traceback.print_exc(file=sys.stderr)
        return 1
    if distributed.is_main_process():
        real_stdout.write(json.dumps(metrics) + "\n")
        real_stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
