"""One frozen config per command. Each field carries its help text (the CLI is built from it)
and every config validates itself on construction, raising `TrainingUserError`."""
import math
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal, Optional

from training.errors import TrainingUserError

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "bf16"]
PRECISION_HELP = ("auto: bf16 on a CUDA device that supports it or a CPU with native bf16 units (avx512_bf16, "
                  "amx_bf16), else fp32; bf16: autocast with fp32 master weights; fp32: full precision")


def option(default=MISSING, help: str = "", positional: bool = False):
    """A config field with a help text; no default means the flag is required. A `positional`
    field is an optional positional argument instead of a flag."""
    return field(default=default, metadata={"help": help, "positional": positional})


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise TrainingUserError(message)


class _PlatformValue(str):
    """Stands in for a path the orchestrator fills in, so `validate_hyperparameters` can run a
    config's own checks without touching the filesystem; the I/O checks skip it. It ends in
    .npy to pass the embed command's check on its output name."""


_PLATFORM_VALUE = _PlatformValue("set-by-the-platform.npy")


def _existing_file(path: Optional[str], flag: str) -> None:
    if path is not None and not isinstance(path, _PlatformValue):
        _check(Path(path).is_file(), f"{flag}: no such file: {path}")


def _model_reference(reference: str, flag: str) -> None:
    """A local directory must exist; anything else is a built-in name (training/builtin_models.py)
    or taken as a hub id (which fails offline)."""
    if isinstance(reference, _PlatformValue):
        return
    looks_local = reference.startswith((".", "/", "~")) or Path(reference).exists()
    _check(bool(reference.strip()), f"{flag}: empty model reference")
    if looks_local:
        _check(Path(reference).expanduser().is_dir(), f"{flag}: no such model directory: {reference}")


@dataclass(frozen=True, kw_only=True)
class CommonConfig:
    """Fields every command shares."""

    seed: int = option(0, "seed for random, numpy and torch (saved with the output)")
    device: Device = option("auto", "auto: CUDA when available, else CPU")
    models_dir: Optional[str] = option(None, "where built-in models (e.g. smollm2-135m-instruct) are materialized "
                                             "on first use (default: $PREFLOOP_MODELS_DIR or ~/.cache/prefloop/models)")

    def to_dict(self) -> dict:
        return asdict(self)

    def _validate_common(self):
        _check(self.device in ("auto", "cpu", "cuda"), f"--device must be auto, cpu or cuda, not {self.device!r}")
        _check(self.seed >= 0, "--seed must be >= 0")


# Llama-family projections (SmolLM2, the tiny model) and BERT encoders (MiniLM); peft's own
# defaults cover attention only, the QLoRA paper found adapting every linear layer matters.
LORA_TARGETS_HELP = ("comma-separated module names to adapt (default: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,"
                     "down_proj for Llama-family models; query,key,value,dense for BERT encoders)")


@dataclass(frozen=True, kw_only=True)
class TrainerConfig(CommonConfig):
    """Fields of the commands that train a network (sft, reward, dpo, rloo, ppo)."""

    precision: Precision = option("auto", PRECISION_HELP)
    gradient_checkpointing: Literal["auto", "on", "off"] = option(
        "auto", "recompute activations in the backward pass to save memory; auto: on for CUDA, off on CPU "
                "(where memory is not the limit and recomputing only costs time)")
    lora_r: int = option(0, "LoRA rank: train low-rank adapters instead of the weights (0: off, full fine-tuning)")
    lora_alpha: float = option(16.0, "LoRA scaling numerator (the update is scaled by alpha / r)")
    lora_dropout: float = option(0.05, "dropout on the LoRA input")
    lora_target_modules: str = option("", LORA_TARGETS_HELP)
    save_adapter_only: bool = option(False, "with --lora-r: save only the adapter (adapter_config.json, "
                                            "adapter_model.safetensors) pointing at its base, instead of merged weights")
    trainable_layers: int = option(0, "train only the top N transformer blocks, the final norm and the head "
                                      "(0: train everything); faster on CPU")

    def _validate_common(self):
        super()._validate_common()
        _check(self.precision in ("auto", "fp32", "bf16"), f"--precision must be auto, fp32 or bf16, not {self.precision!r}")
        _check(self.gradient_checkpointing in ("auto", "on", "off"), "--gradient-checkpointing must be auto, on or off")
        _check(self.lora_r >= 0, "--lora-r must be >= 0")
        _check(self.lora_alpha > 0, "--lora-alpha must be > 0")
        _check(0 <= self.lora_dropout < 1, "--lora-dropout must be in [0, 1)")
        _check(self.trainable_layers is None or self.trainable_layers >= 0, "--trainable-layers must be >= 0")
        _check(not (self.lora_r and self.trainable_layers), "--lora-r and --trainable-layers exclude each other")
        _check(not self.save_adapter_only or self.lora_r > 0, "--save-adapter-only needs --lora-r > 0")

    @property
    def lora_targets(self) -> list[str]:
        return [name.strip() for name in self.lora_target_modules.split(",") if name.strip()]


@dataclass(frozen=True, kw_only=True)
class TinyModelConfig(CommonConfig):
    output: str = option(help="directory to write the model to")
    corpus: Optional[str] = option(None, "UTF-8 text file, one document per line (default: the corpus shipped in training/)")
    vocab_size: int = option(1024, "byte-level BPE vocabulary size")
    hidden_size: int = option(64, "model width")
    num_layers: int = option(2, "decoder layers (2-4 keeps it tiny)")
    num_heads: int = option(4, "attention heads")
    intermediate_size: int = option(256, "MLP width")
    context_length: int = option(256, "maximum positions")
    pretrain_steps: int = option(300, "next-token pretraining steps on the corpus")
    batch_size: int = option(32, "sequences per pretraining step")
    sequence_length: int = option(64, "tokens per pretraining sequence")
    lr: float = option(3e-3, "AdamW learning rate (tuned: 3e-3 gives varied text in 300 steps)")

    def __post_init__(self):
        self._validate_common()
        _existing_file(self.corpus, "--corpus")
        _check(self.vocab_size >= 300, "--vocab-size must be >= 300 (256 bytes plus merges and special tokens)")
        _check(1 <= self.num_layers <= 12, "--num-layers must be between 1 and 12")
        _check(self.hidden_size % self.num_heads == 0, "--hidden-size must be divisible by --num-heads")
        _check(self.pretrain_steps >= 0 and self.batch_size > 0 and self.sequence_length > 1, "steps, batch and length must be positive")
        _check(self.sequence_length <= self.context_length, "--sequence-length must be <= --context-length")
        _check(self.lr > 0, "--lr must be > 0")


@dataclass(frozen=True, kw_only=True)
class SFTConfig(TrainerConfig):
    base_model: str = option(help="policy to fine-tune: local directory or hub id")
    train: str = option(help="demonstrations JSONL: {prompt, completion} or {messages}")
    output: str = option(help="directory to write the fine-tuned model to")
    epochs: float = option(1.0, "passes over the data")
    max_steps: int = option(-1, "stop after this many steps (-1: use --epochs)")
    batch_size: int = option(8, "examples per step")
    lr: float = option(5e-5, "learning rate")
    max_length: int = option(512, "tokens per example (longer ones are truncated)")

    def __post_init__(self):
        self._validate_common()
        _model_reference(self.base_model, "--base-model")
        _existing_file(self.train, "--train")
        _check(self.epochs > 0 and self.batch_size > 0 and self.lr > 0 and self.max_length > 8, "epochs, batch size, lr and max length must be positive")


# Blocks a reward model trains by default (without --lora-r or --trainable-layers).
REWARD_TRAINABLE_LAYERS = 2


@dataclass(frozen=True, kw_only=True)
class RewardConfig(TrainerConfig):
    base_model: str = option(help="backbone: local directory or hub id (e.g. the MiniLM encoder or the policy)")
    train: str = option(help="pairs JSONL: {prompt, chosen, rejected, margin?} (HH dialogues are split)")
    output: str = option(help="directory to write the reward model (or ensemble) to")
    eval: Optional[str] = option(None, "held-out pairs JSONL for accuracy, loss and ECE")
    # The defaults won a 5-fold cross-validation on the shared HH pairs (training/README.md): MiniLM's
    # top 2 blocks at lr 2e-4 for 2 epochs on the last 384 tokens held out 0.641 +- 0.013 (0.624 on the
    # last 256), every block at 3e-5 for 1 epoch 0.594 +- 0.014.
    epochs: float = option(2.0, "passes over the data")
    max_steps: int = option(-1, "stop after this many steps (-1: use --epochs)")
    batch_size: int = option(16, "pairs per step")
    lr: float = option(2e-4, "learning rate (2e-4 suits the top blocks or LoRA; all of MiniLM wants ~3e-5, "
                             "tiny models ~1e-3)")
    max_length: int = option(384, "tokens per text; longer texts lose their beginning (left truncation)")
    ensemble: int = option(1, "members trained with different seeds and data order, scored as mean and std")
    max_train_pairs: int = option(0, "use at most this many training pairs (0: all)")
    logging_steps: int = option(5, "steps between progress reports")
    trainable_layers: Optional[int] = option(
        None, f"train only the top N transformer blocks, the final norm and the head (0: train everything; "
              f"default: the top {REWARD_TRAINABLE_LAYERS}, every block of a smaller model, or the adapters alone "
              f"with --lora-r)")

    def __post_init__(self):
        self._validate_common()
        _model_reference(self.base_model, "--base-model")
        _existing_file(self.train, "--train")
        _existing_file(self.eval, "--eval")
        _check(self.epochs > 0, "--epochs must be > 0")
        _check(self.batch_size > 0 and self.lr > 0, "--batch-size and --lr must be positive")
        _check(self.max_length >= 8, "--max-length must be >= 8")
        _check(1 <= self.ensemble <= 16, "--ensemble must be between 1 and 16")
        _check(self.max_train_pairs >= 0 and self.logging_steps > 0, "--max-train-pairs >= 0, --logging-steps > 0")
        _check(not self.save_adapter_only, "--save-adapter-only: reward models are always saved with the adapter merged")


@dataclass(frozen=True, kw_only=True)
class EvaluateRewardConfig(CommonConfig):
    model: str = option(help="reward model (or ensemble) directory")
    data: str = option(help="pairs JSONL to evaluate on")
    output: Optional[str] = option(None, "also write the metrics JSON to this file")
    batch_size: int = option(32, "texts per forward pass")

    def __post_init__(self):
        self._validate_common()
        _model_reference(self.model, "--model")
        _existing_file(self.data, "--data")
        _check(self.batch_size > 0, "--batch-size must be > 0")


@dataclass(frozen=True, kw_only=True)
class ScoreConfig(CommonConfig):
    reward_model: str = option(help="reward model (or ensemble) directory")
    data: str = option(help="responses JSONL: {prompt, response, ...}")
    output: str = option(help="JSONL file to write (input lines plus reward and reward_std)")
    batch_size: int = option(32, "texts per forward pass")

    def __post_init__(self):
        self._validate_common()
        _model_reference(self.reward_model, "--reward-model")
        _existing_file(self.data, "--data")
        _check(self.batch_size > 0, "--batch-size must be > 0")


@dataclass(frozen=True, kw_only=True)
class PPOConfig(TrainerConfig):
    policy: str = option(help="starting policy: local directory or hub id")
    reward_model: str = option(help="reward model (or ensemble) directory; may use another tokenizer")
    prompts: str = option(help="prompts JSONL: {prompt, id?}")
    output: str = option(help="directory to write the trained policy (and value head) to")
    reference: Optional[str] = option(None, "KL reference policy, same tokenizer (default: the starting policy); "
                                            "give the SFT/base policy when starting from an earlier PPO run")
    max_kl: float = option(0.0, "stop at the first rollout whose KL to the reference exceeds this and keep the "
                                "last policy within it (nats per response; 0: run every step)")
    max_kl_margin_se: float = option(0.0, "with --max-kl: stop only when a rollout's mean KL is over it by more than "
                                          "this many standard errors of that mean (one batch misreads a widely "
                                          "spread KL; 0: stop at the first mean over it)")
    steps: int = option(20, "PPO iterations (rollout, then optimisation epochs)")
    batch_size: int = option(16, "prompts per rollout")
    minibatch_size: int = option(8, "rollouts per gradient step")
    ppo_epochs: int = option(4, "optimisation passes over each rollout batch")
    lr: float = option(1e-5, "Adam learning rate (tiny models want ~1e-4..1e-3)")
    init_kl_coef: float = option(0.2, "initial coefficient of the per-token KL penalty")
    target_kl: float = option(6.0, "target KL (nats per response) of the adaptive controller")
    kl_horizon: int = option(10000, "adaptive controller horizon (Ziegler et al.: 10000)")
    kl_control: Literal["adaptive", "fixed"] = option("adaptive", "adaptive: steer the coefficient toward --target-kl; fixed: keep --init-kl-coef")
    gamma: float = option(1.0, "discount")
    lam: float = option(0.95, "GAE lambda")
    cliprange: float = option(0.2, "policy ratio clip")
    cliprange_value: float = option(0.2, "value clip")
    vf_coef: float = option(0.1, "value loss weight")
    max_new_tokens: int = option(32, "tokens generated per response")
    max_prompt_length: int = option(256, "prompt tokens kept (longer prompts lose their beginning)")
    temperature: float = option(1.0, "sampling temperature of rollouts")
    top_p: float = option(1.0, "nucleus sampling of rollouts (1.0: off, keeps the KL estimate honest)")
    missing_eos_penalty: float = option(1.0, "subtracted from the score of a response that does not end with EOS")
    uncertainty_penalty: float = option(0.0, "with a reward-model ensemble: optimise mean - this x std of the members "
                                             "(a conservative reward that distrusts what they disagree on; 0: the mean)")
    whiten_rewards: bool = option(False, "whiten the per-token rewards before GAE")
    max_grad_norm: float = option(1.0, "gradient clipping")

    def __post_init__(self):
        self._validate_common()
        _model_reference(self.policy, "--policy")
        _model_reference(self.reward_model, "--reward-model")
        if self.reference is not None:
            _model_reference(self.reference, "--reference")
        _existing_file(self.prompts, "--prompts")
        _check(self.max_kl >= 0, "--max-kl must be >= 0")
        _check(self.max_kl_margin_se >= 0, "--max-kl-margin-se must be >= 0")
        _check(self.steps > 0 and self.batch_size > 0 and self.ppo_epochs > 0, "--steps, --batch-size, --ppo-epochs must be > 0")
        _check(0 < self.minibatch_size <= self.batch_size, "--minibatch-size must be between 1 and --batch-size")
        _check(self.lr > 0, "--lr must be > 0")
        _check(self.init_kl_coef >= 0, "--init-kl-coef must be >= 0")
        _check(self.target_kl > 0 and self.kl_horizon > 0, "--target-kl and --kl-horizon must be > 0")
        _check(self.kl_control in ("adaptive", "fixed"), "--kl-control must be adaptive or fixed")
        _check(0 <= self.gamma <= 1 and 0 <= self.lam <= 1, "--gamma and --lam must be in [0, 1]")
        _check(self.cliprange > 0 and self.cliprange_value > 0, "clip ranges must be > 0")
        _check(self.max_new_tokens > 0 and self.max_prompt_length > 0, "token limits must be > 0")
        _check(self.temperature > 0 and 0 < self.top_p <= 1, "--temperature > 0, 0 < --top-p <= 1")
        _check(self.missing_eos_penalty >= 0, "--missing-eos-penalty must be >= 0")
        _check(self.uncertainty_penalty >= 0, "--uncertainty-penalty must be >= 0")


@dataclass(frozen=True, kw_only=True)
class DPOConfig(TrainerConfig):
    policy: str = option(help="starting policy (also the reference): local directory or hub id")
    train: str = option(help="pairs JSONL: {prompt, chosen, rejected}")
    output: str = option(help="directory to write the trained policy to")
    eval: Optional[str] = option(None, "held-out pairs JSONL (reward accuracy and margin)")
    beta: float = option(0.1, "DPO temperature: larger keeps the policy nearer the reference")
    epochs: float = option(1.0, "passes over the data")
    max_steps: int = option(-1, "stop after this many steps (-1: use --epochs)")
    batch_size: int = option(8, "pairs per step")
    lr: float = option(5e-6, "learning rate (tiny models want ~1e-3)")
    max_length: int = option(512, "tokens of prompt plus response (prompt truncated from the left)")
    logging_steps: int = option(5, "steps between progress reports")

    def __post_init__(self):
        self._validate_common()
        _model_reference(self.policy, "--policy")
        _existing_file(self.train, "--train")
        _existing_file(self.eval, "--eval")
        _check(self.beta > 0 and self.epochs > 0 and self.batch_size > 0 and self.lr > 0, "beta, epochs, batch size and lr must be positive")
        _check(self.max_length >= 8 and self.logging_steps > 0, "--max-length >= 8, --logging-steps > 0")


@dataclass(frozen=True, kw_only=True)
class RLOOConfig(TrainerConfig):
    policy: str = option(help="starting policy (also the reference): local directory or hub id")
    reward_model: str = option(help="reward model (or ensemble) directory")
    prompts: str = option(help="prompts JSONL: {prompt, id?}")
    output: str = option(help="directory to write the trained policy to")
    steps: int = option(20, "optimisation steps")
    batch_size: int = option(8, "completions per step (a multiple of --num-generations)")
    num_generations: int = option(4, "completions per prompt (the leave-one-out baseline needs >= 2)")
    lr: float = option(1e-6, "learning rate (tiny models want ~1e-4)")
    beta: float = option(0.05, "KL coefficient to the reference")
    max_new_tokens: int = option(32, "tokens generated per completion")
    max_prompt_length: int = option(256, "prompt tokens kept (longer prompts lose their beginning)")
    temperature: float = option(1.0, "sampling temperature")

    def __post_init__(self):
        self._validate_common()
        _model_reference(self.policy, "--policy")
        _model_reference(self.reward_model, "--reward-model")
        _existing_file(self.prompts, "--prompts")
        _check(self.steps > 0 and self.lr > 0 and self.max_new_tokens > 0 and self.temperature > 0 and self.max_prompt_length > 0,
               "steps, lr, tokens and temperature must be positive")
        _check(self.num_generations >= 2, "--num-generations must be >= 2")
        _check(self.batch_size % self.num_generations == 0, "--batch-size must be a multiple of --num-generations")
        _check(self.beta >= 0, "--beta must be >= 0")


@dataclass(frozen=True, kw_only=True)
class GenerateConfig(CommonConfig):
    policy: str = option(help="policy to sample from: local directory or hub id")
    prompts: str = option(help="prompts JSONL: {prompt, id?}")
    output: str = option(help="JSONL file to write: {id, prompt, response, model, kl?}")
    n: int = option(1, "samples per prompt")
    temperature: float = option(1.0, "sampling temperature")
    top_p: float = option(1.0, "nucleus sampling threshold")
    max_new_tokens: int = option(64, "tokens per response")
    batch_size: int = option(16, "prompts per generate call")
    max_prompt_length: int = option(1024, "prompt tokens kept (longer prompts lose their beginning)")
    reference: Optional[str] = option(None, "reference policy: adds kl = log p_policy - log p_ref of each sample")
    model_name: Optional[str] = option(None, "name written to the 'model' field (default: the policy path)")

    def __post_init__(self):
        self._validate_common()
        _model_reference(self.policy, "--policy")
        _existing_file(self.prompts, "--prompts")
        if self.reference is not None:
            _model_reference(self.reference, "--reference")
        _check(self.n >= 1 and self.batch_size >= 1 and self.max_new_tokens >= 1 and self.max_prompt_length >= 1,
               "--n, --batch-size, --max-new-tokens, --max-prompt-length must be >= 1")
        _check(self.temperature > 0 and 0 < self.top_p <= 1, "--temperature > 0, 0 < --top-p <= 1")


@dataclass(frozen=True, kw_only=True)
class EmbedConfig(CommonConfig):
    model: str = option(help="encoder: local directory or hub id (e.g. the MiniLM encoder)")
    data: str = option(help="texts JSONL: {\"text\": ...} per line")
    output: str = option(help=".npy file to write: (n, hidden) float32, L2-normalised mean pooling")
    batch_size: int = option(64, "texts per forward pass")
    max_length: int = option(256, "tokens per text (longer texts are truncated)")
    layer: int = option(-1, "hidden states to pool: 0 = the token embeddings, K = after layer K, -1 = the last layer")

    def __post_init__(self):
        self._validate_common()
        _model_reference(self.model, "--model")
        _existing_file(self.data, "--data")
        _check(self.output.endswith(".npy"), "--output must end with .npy")
        _check(self.batch_size > 0, "--batch-size must be > 0")
        _check(self.max_length > 0, "--max-length must be > 0")


@dataclass(frozen=True, kw_only=True)
class BaseModelConfig(CommonConfig):
    name: Optional[str] = option(None, "built-in model to materialize (smollm2-135m-instruct, all-minilm-l6-v2)",
                                 positional=True)
    gguf: Optional[str] = option(None, "instead of a built-in name: a Llama-family GGUF file to convert")
    output: str = option(help="directory to write the Hugging Face model to")
    dtype: Literal["fp32", "bf16"] = option("fp32", "weights dtype of the written model")

    def __post_init__(self):
        from training.builtin_models import BUILTIN_MODELS

        self._validate_common()
        _check((self.name is None) != (self.gguf is None), "give a built-in model name or --gguf FILE (one of them)")
        if self.name is not None:
            _check(self.name in BUILTIN_MODELS, f"unknown built-in model {self.name!r} (known: {', '.join(sorted(BUILTIN_MODELS))})")
        _existing_file(self.gguf, "--gguf")
        _check(self.dtype in ("fp32", "bf16"), "--dtype must be fp32 or bf16")


COMMAND_CONFIGS = {
    "base-model": BaseModelConfig,
    "tiny-model": TinyModelConfig,
    "sft": SFTConfig,
    "reward": RewardConfig,
    "evaluate-reward": EvaluateRewardConfig,
    "score": ScoreConfig,
    "ppo": PPOConfig,
    "dpo": DPOConfig,
    "rloo": RLOOConfig,
    "generate": GenerateConfig,
    "embed": EmbedConfig,
}


def config_fields(config_class):
    """The dataclass fields of a config, in declaration order (command-specific ones first)."""
    shared = ("precision", "gradient_checkpointing", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules",
              "save_adapter_only", "trainable_layers", "seed", "device", "models_dir")
    specific = [f for f in fields(config_class) if f.name not in shared]
    common = [f for f in fields(config_class) if f.name in shared]
    return specific + common


# Fields the orchestrator sets itself (inputs, outputs, models, seed, device, names): never taken
# from a project's hyperparameters. Everything else a command's config declares is tunable.
PLATFORM_SET_FIELDS = frozenset({
    "policy", "base_model", "reward_model", "reference", "model", "train", "eval", "prompts", "data",
    "corpus", "output", "model_name", "seed", "device", "models_dir",
})


class HyperparameterError(TrainingUserError):
    """A hyperparameter a command does not take, or a value it would refuse; `key` names it."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class TunableField:
    """A config field a project may set: its type (int, float, bool or str), the choices of a
    Literal, its default and help text."""

    name: str
    kind: type
    choices: tuple = ()
    default: object = None
    help: str = ""


def _tunable_field(config_field, hint) -> TunableField:
    origin = typing.get_origin(hint)
    if origin is typing.Union:  # Optional[X]
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        origin = typing.get_origin(hint)
    choices = tuple(typing.get_args(hint)) if origin is typing.Literal else ()
    kind = type(choices[0]) if choices else hint
    default = None if config_field.default is MISSING else config_field.default
    return TunableField(config_field.name, kind, choices, default, config_field.metadata.get("help", ""))


def tunable_fields(command: str) -> dict[str, TunableField]:
    """The fields of `command`'s config that hyperparameters may set, by name (all but
    PLATFORM_SET_FIELDS, so a field added to a config is tunable without further edits)."""
    config_class = COMMAND_CONFIGS[command]
    hints = typing.get_type_hints(config_class)
    return {
        f.name: _tunable_field(f, hints[f.name])
        for f in config_fields(config_class) if f.name not in PLATFORM_SET_FIELDS
    }


def _check_type(spec: TunableField, value) -> str | None:
    """Why `value` does not fit `spec`, or None."""
    if spec.choices:
        return None if value in spec.choices else f"must be one of {', '.join(map(str, spec.choices))}"
    if spec.kind is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if spec.kind is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if spec.kind is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return "must be a number"
        return None if math.isfinite(value) else "must be a finite number"
    if spec.kind is str:
        return None if isinstance(value, str) and len(value) <= 500 else "must be a string of at most 500 characters"
    return f"has a type ({spec.kind}) hyperparameters cannot set"


def validate_hyperparameters(command: str, values: dict) -> dict:
    """Checks options for `command` as the CLI would; returns them with canonical (snake_case) names.

    Option names may use dashes or underscores. Each must be a tunable field of the command's
    config with a value of its type; then the config is built with placeholder paths, so its own
    range checks run without touching the filesystem. Raises HyperparameterError naming the key.
    """
    tunable = tunable_fields(command)
    cleaned = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name in PLATFORM_SET_FIELDS:
            raise HyperparameterError(key, f"{key} is set by the platform, not by hyperparameters.")
        if name not in tunable:
            raise HyperparameterError(key, f"{key} is not an option of {command} (options: {', '.join(sorted(tunable))}).")
        problem = _check_type(tunable[name], value)
        if problem:
            raise HyperparameterError(key, f"{key} {problem}.")
        cleaned[name] = value
    config_class = COMMAND_CONFIGS[command]
    placeholders = {
        f.name: _PLATFORM_VALUE for f in fields(config_class)
        if f.name in PLATFORM_SET_FIELDS and f.default is MISSING
    }
    try:
        config_class(**placeholders, **cleaned)
    except TrainingUserError as error:
        message = str(error)
        named = [key for key in values if "--" + str(key).replace("_", "-") in message]
        raise HyperparameterError(named[0] if named else "", message) from error
    except ArithmeticError as error:  # a check that divides by a value of 0
        raise HyperparameterError("", f"these values do not fit together ({error}).") from error
    return cleaned
