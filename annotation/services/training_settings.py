"""Checks on a project's training settings: hyperparameters per training command and the model
references (base policy, reward backbone, judge model) the workers hand to `python -m training`.

Both end up as command-line arguments of a training process on the server, so only values of a
known form pass: the options a command's config declares (training.configs is the one source of
truth, and imports no torch), and models given as a built-in name, a hub id or a directory under
the configured model roots.
"""
import importlib.util
import re
from pathlib import Path

from django.conf import settings

from annotation.errors import DomainError
from annotation.input_checks import unstorable_json
from annotation.models import Project
from training.builtin_models import BUILTIN_MODELS, BUILTIN_MODEL_NAMES
from training.configs import HyperparameterError, validate_hyperparameters

ALGORITHMS = tuple(Project.Algorithm.values)
# Sections of `hyperparameters` that are options of a `python -m training <command>`.
SECTION_COMMANDS = {"sft": "sft", "reward": "reward", "generate": "generate", **{a: a for a in ALGORITHMS}}
# Options the workers read themselves (workers/steps.py) rather than pass to a command:
# name -> kind ("count": an integer >= 0; "model": a model reference).
PLATFORM_OPTIONS = {
    "generate": {"train_prompts": "count", "eval_prompts": "count"},
    "rlaif": {"judge_model": "model", "max_tasks": "count"},
}
HYPERPARAMETER_SECTIONS = frozenset(SECTION_COMMANDS) | frozenset(PLATFORM_OPTIONS)
MAX_COUNT = 1_000_000
MAX_MODEL_REFERENCE_CHARS = 500
# Hugging Face repo ids (huggingface_hub's validate_repo_id): "org/name", each part of letters,
# digits, "-", "_", "." not starting or ending with "-" or ".", no "--" or "..", 96 characters at most.
_HUB_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
HUB_ID = re.compile(rf"{_HUB_PART}/{_HUB_PART}")


def _error(field: str, message: str) -> DomainError:
    return DomainError(message, field=field)


def model_roots() -> list[Path]:
    """Directories a model reference may point into (resolved): ARTIFACT_ROOT, the folders of the
    built-in models' packages (the demo's reward backbone is the MiniLM package's directory),
    and MODEL_ROOTS."""
    roots = [Path(settings.ARTIFACT_ROOT), *map(Path, settings.MODEL_ROOTS)]
    for model in BUILTIN_MODELS.values():
        spec = importlib.util.find_spec(model.module)
        if spec is not None and spec.submodule_search_locations:
            roots.append(Path(list(spec.submodule_search_locations)[0]))
    return [root.resolve() for root in roots]


def model_reference_check(value, *, field: str) -> str:
    """`value` if it is empty (the default), a built-in model name, a hub id ("org/name") or an
    existing directory under `model_roots()` (symlinks resolved); else a 400 naming `field`."""
    if not isinstance(value, str):
        raise _error(field, f"{field} must be a string.")
    if value == "" or value in BUILTIN_MODEL_NAMES:
        return value
    problem = unstorable_json(value, field)
    if problem or len(value) > MAX_MODEL_REFERENCE_CHARS:
        raise _error(field, problem or f"{field} is longer than {MAX_MODEL_REFERENCE_CHARS} characters.")
    if not value.startswith("/"):
        if HUB_ID.fullmatch(value) and ".." not in value and "--" not in value:
            return value
        raise _error(field, (
            f"{field} must be a built-in model ({', '.join(sorted(BUILTIN_MODEL_NAMES))}), a hub id such as "
            "'org/name', or an absolute path to a model directory."
        ))
    path = Path(value).resolve()
    roots = model_roots()
    if not any(path == root or path.is_relative_to(root) for root in roots):
        raise _error(field, f"{field}: {value} is not under a model root ({', '.join(map(str, roots))}; "
                            "MODEL_ROOTS adds more).")
    if not path.is_dir():
        raise _error(field, f"{field}: no such model directory: {value}")
    return value


def _count(value, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
        raise _error(field, f"{field} must be an integer from 0 to {MAX_COUNT}.")
    return value


def hyperparameters_validate(hyperparameters) -> dict:
    """Checks `{"seed": int, "<section>": {"option": value, ...}}`; returns a copy with canonical
    option names. A section's options must be options of its training command (types and the
    command's own range checks) or ones the workers read; errors name `hyperparameters.<section>.<option>`."""
    if hyperparameters is None:
        return {}
    if not isinstance(hyperparameters, dict):
        raise _error("hyperparameters", "hyperparameters must be an object of sections.")
    cleaned: dict = {}
    for section, options in hyperparameters.items():
        where = f"hyperparameters.{section}"
        problem = unstorable_json(section, "hyperparameters: a section name")
        if problem:
            raise _error("hyperparameters", problem)
        if section == "seed":
            if not isinstance(options, int) or isinstance(options, bool) or not 0 <= options < 2**31:
                raise _error(where, "hyperparameters.seed must be an integer from 0 to 2**31 - 1.")
            cleaned[section] = options
            continue
        if section not in HYPERPARAMETER_SECTIONS:
            known = ", ".join(sorted(HYPERPARAMETER_SECTIONS | {"seed"}))
            raise _error(where, f"Unknown hyperparameters section {section!r} (known: {known}).")
        if not isinstance(options, dict):
            raise _error(where, f"{where} must be an object of options.")
        problem = unstorable_json(options, where)
        if problem:
            raise _error(where, problem)
        platform = PLATFORM_OPTIONS.get(section, {})
        own = {}
        for name, value in options.items():
            kind = platform.get(name)
            if kind == "count":
                own[name] = _count(value, f"{where}.{name}")
            elif kind == "model":
                own[name] = model_reference_check(value, field=f"{where}.{name}")
        command = SECTION_COMMANDS.get(section)
        rest = {name: value for name, value in options.items() if name not in own}
        if rest and command is None:
            unknown = sorted(rest)[0]
            raise _error(f"{where}.{unknown}", f"{where}.{unknown} is not an option (options: {', '.join(platform)}).")
        if command is not None:
            try:
                rest = validate_hyperparameters(command, rest)
            except HyperparameterError as error:
                field = f"{where}.{error.key}" if error.key else where
                raise _error(field, f"{field}: {error}") from error
        cleaned[section] = {**own, **rest}
    return cleaned
