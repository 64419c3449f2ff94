"""Training recipes: the DPO settings of Notus-7B-v1 and of Zephyr-7B-beta (2024), as one dataclass.

A recipe is a :class:`TrainConfig`; :data:`RECIPES` holds the named ones and :func:`resolve_config` builds the
config of a run from a recipe name (or a YAML file) plus overrides. Every field is a ``notus-data train`` option of
the same name (``--learning-rate`` <-> ``learning_rate``). No torch here: this module imports in milliseconds.

>>> resolve_config("notus-v1").beta
0.1
>>> resolve_config("zephyr", learning_rate=1e-6).learning_rate
1e-06
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notus_data.errors import OptionError, check_numbers
from notus_data.train.prompts import LONG_PROMPTS

SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")
LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "robust",
    "exo_pair",
    "bco_pair",
    "sppo_hard",
    "nca_pair",
    "apo_zero",
)
DTYPES = ("float32", "bfloat16", "float16", "auto")
DEVICES = ("auto", "cpu", "cuda")
CHAT_TEMPLATES = ("zephyr", "model")


def _f(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field with its help text (read by the CLI and the docs)."""
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class TrainConfig:
    """The settings of a DPO run. Defaults are the Notus-7B-v1 recipe (see :data:`RECIPES`).

    ``bf16`` and ``gradient_checkpointing`` left at ``None`` follow the device: on with a GPU, off on a CPU (where
    they make training about 20 times slower). Batch sizes are the recipe's on every device; the gradient
    accumulation is ``global_batch_size / (per_device_train_batch_size * number of processes)``.
    """

    # DPO
    beta: float = _f(0.1, "DPO beta: how far the policy may move from the reference (higher = closer).")
    loss_type: str = _f(
        "sigmoid", "DPO loss (TRL loss_type); sigmoid is the loss of the DPO paper.", choices=LOSS_TYPES
    )
    # Optimisation
    learning_rate: float = _f(5e-7, "Peak learning rate.")
    lr_scheduler_type: str = _f("linear", "Learning-rate schedule after warmup.", choices=SCHEDULERS)
    warmup_ratio: float = _f(
        0.1, "Fraction of the training steps spent warming up the learning rate, in [0, 1)."
    )
    num_train_epochs: float = _f(3.0, "Passes over the training split.")
    max_steps: int = _f(-1, "Stop after this many optimizer steps (overrides num_train_epochs when > 0).")
    optim: str = _f("rmsprop", "Optimizer name as transformers knows it (rmsprop, adamw_torch, ...).")
    weight_decay: float = _f(0.0, "Weight decay of the optimizer.")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm.")
    # Batches and lengths
    per_device_train_batch_size: int = _f(8, "Pairs per device per forward pass during training.")
    per_device_eval_batch_size: int = _f(8, "Pairs per device per forward pass during evaluation.")
    global_batch_size: int = _f(
        64, "Pairs per optimizer step over all devices; gradient accumulation makes up the difference."
    )
    max_length: int = _f(1024, "Longest prompt + response in tokens; longer pairs are truncated at the end.")
    max_prompt_length: int = _f(
        512,
        "Longest prompt in tokens (chat template included); longer prompts are handled by long_prompts.",
    )
    long_prompts: str = _f(
        "truncate",
        "truncate: cut a longer prompt's last user turn from its start so it fits max_prompt_length (keeps the "
        "end, as TRL's prompt truncation did for Notus and Zephyr); drop: leave such pairs out. Counted either way.",
        choices=LONG_PROMPTS,
    )
    # Data
    eval_size: int = _f(
        2000,
        "Held-out pairs for evaluation when the dataset has no test split: min(eval_size, rows // 10), "
        "split with the seed (a test split is used as it is); 0 turns evaluation off.",
    )
    max_train_rows: int | None = _f(
        None, "Use only the first N training pairs (after the split); for smoke runs."
    )
    chat_template: str = _f(
        "zephyr",
        "zephyr: always render with the Zephyr template (empty system turn), as Notus did; model: keep the "
        "tokenizer's own template (error if it has none).",
        choices=CHAT_TEMPLATES,
    )
    dataset_num_proc: int | None = _f(None, "Processes for tokenizing the dataset (None = in this process).")
    # Precision and device
    device: str = _f("auto", "auto: the GPU when there is one, else the CPU.", choices=DEVICES)
    bf16: bool | None = _f(None, "bf16 mixed precision (default: on with a GPU, off on the CPU).")
    gradient_checkpointing: bool | None = _f(
        None, "Recompute activations to save memory (default: on with a GPU, off on the CPU)."
    )
    dtype: str = _f(
        "float32",
        "dtype the weights are loaded and kept in; float32 keeps exact master weights under bf16 mixed precision.",
        choices=DTYPES,
    )
    # LoRA
    lora: bool = _f(False, "Train a LoRA adapter instead of all weights (the reference is the base model).")
    lora_r: int = _f(64, "LoRA rank.")
    lora_alpha: int = _f(16, "LoRA alpha (scaling = alpha / r).")
    lora_dropout: float = _f(0.1, "LoRA dropout (active only with --no-disable-dropout).")
    lora_target_modules: str = _f(
        "q_proj,k_proj,v_proj,o_proj", "Comma-separated module names that get adapters."
    )
    disable_dropout: bool = _f(
        True,
        "Turn dropout off in the policy and the reference (TRL's default; this zeroes lora_dropout too).",
    )
    # Bookkeeping
    seed: int = _f(42, "Seed for the held-out split, data order and initialisation.")
    logging_steps: int = _f(10, "Log metrics every N optimizer steps.")
    eval_steps: int = _f(100, "Evaluate on the held-out split every N optimizer steps (and once at the end).")
    save_steps: int = _f(100, "Save a checkpoint every N optimizer steps.")
    save_total_limit: int | None = _f(
        1, "Keep only the newest N checkpoints (None in a YAML recipe keeps all)."
    )
    report_to: str = _f(
        "none", "Experiment trackers to log to, as transformers names them (none, wandb, ...)."
    )

    def __post_init__(self) -> None:
        check_numbers(self)
        problems = []

        def check(ok: bool, name: str, expectation: str) -> None:
            if not ok:
                problems.append(f"{name}={getattr(self, name)!r}: {expectation}")

        check(self.beta > 0, "beta", "must be > 0")
        check(self.learning_rate > 0, "learning_rate", "must be > 0")
        check(0 <= self.warmup_ratio < 1, "warmup_ratio", "must be in [0, 1)")
        check(
            self.num_train_epochs > 0 or self.max_steps > 0,
            "num_train_epochs",
            "must be > 0 (or set max_steps)",
        )
        check(self.max_steps == -1 or self.max_steps > 0, "max_steps", "must be -1 (off) or > 0")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "global_batch_size"):
            check(getattr(self, name) >= 1, name, "must be >= 1")
        check(
            self.global_batch_size % max(self.per_device_train_batch_size, 1) == 0,
            "global_batch_size",
            f"must be a multiple of per_device_train_batch_size={self.per_device_train_batch_size}",
        )
        check(self.max_prompt_length >= 1, "max_prompt_length", "must be >= 1")
        check(
            self.max_length > self.max_prompt_length,
            "max_length",
            f"must be greater than max_prompt_length={self.max_prompt_length} to leave room for the response",
        )
        check(self.long_prompts in LONG_PROMPTS, "long_prompts", f"must be one of {', '.join(LONG_PROMPTS)}")
        check(self.eval_size >= 0, "eval_size", "must be >= 0")
        check(
            self.max_train_rows is None or self.max_train_rows >= 1, "max_train_rows", "must be >= 1 or None"
        )
        check(
            self.lr_scheduler_type in SCHEDULERS,
            "lr_scheduler_type",
            f"must be one of {', '.join(SCHEDULERS)}",
        )
        check(self.loss_type in LOSS_TYPES, "loss_type", f"must be one of {', '.join(LOSS_TYPES)}")
        check(self.dtype in DTYPES, "dtype", f"must be one of {', '.join(DTYPES)}")
        check(self.device in DEVICES, "device", f"must be one of {', '.join(DEVICES)}")
        check(
            self.chat_template in CHAT_TEMPLATES,
            "chat_template",
            f"must be one of {', '.join(CHAT_TEMPLATES)}",
        )
        check(self.lora_r >= 1, "lora_r", "must be >= 1")
        check(0 <= self.lora_dropout < 1, "lora_dropout", "must be in [0, 1)")
        check(bool(self.target_modules), "lora_target_modules", "must name at least one module")
        for name in ("logging_steps", "eval_steps", "save_steps"):
            check(getattr(self, name) >= 1, name, "must be >= 1")
        check(self.save_total_limit is None or self.save_total_limit >= 1, "save_total_limit", "must be >= 1")
        if problems:
            raise OptionError("invalid training options: " + "; ".join(problems))

    @property
    def target_modules(self) -> list[str]:
        """``lora_target_modules`` as a list."""
        return [m.strip() for m in self.lora_target_modules.split(",") if m.strip()]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: The named recipes. notus-v1: RECIPE.md section 6 (8 GPUs x 8 pairs, no accumulation). zephyr: the
#: alignment-handbook's zephyr-7b-beta DPO recipe as of 2024 (8 GPUs x 8 pairs x 2 accumulation steps).
RECIPES: dict[str, TrainConfig] = {
    "notus-v1": TrainConfig(),
    "zephyr": TrainConfig(
        beta=0.01,
        num_train_epochs=1.0,
        optim="adamw_torch",
        lr_scheduler_type="cosine",
        global_batch_size=128,
    ),
}

FIELD_NAMES = tuple(f.name for f in dataclasses.fields(TrainConfig))


def resolve_config(recipe: str | Path | TrainConfig = "notus-v1", **overrides: Any) -> TrainConfig:
    """The config of a run: a recipe (a name in :data:`RECIPES`, a YAML file, or a config) plus overrides.

    A YAML recipe holds field names as keys and may name the recipe it starts from with ``recipe: zephyr``
    (default notus-v1). Overrides set to ``None`` are ignored, except for fields whose value may be None
    (pass them in the YAML file instead). Unknown keys raise :class:`OptionError` naming the valid ones.

    >>> resolve_config("notus-v1", beta=0.2, max_steps=None).beta
    0.2
    """
    if isinstance(recipe, TrainConfig):
        base, name = recipe, "custom"
    elif str(recipe) in RECIPES:
        base, name = RECIPES[str(recipe)], str(recipe)
    else:
        base, name = _load_yaml_recipe(Path(recipe)), str(recipe)
    _check_names(overrides, f"override for recipe {name!r}")
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return dataclasses.replace(base, **values)
    except TypeError as exc:  # pragma: no cover - names are checked above
        raise OptionError(str(exc)) from exc


def _check_names(values: dict[str, Any], where: str) -> None:
    unknown = sorted(set(values) - set(FIELD_NAMES))
    if unknown:
        raise OptionError(
            f"unknown training option(s) {', '.join(unknown)} in {where}; valid options: {', '.join(FIELD_NAMES)}"
        )


def _load_yaml_recipe(path: Path) -> TrainConfig:
    if not path.is_file():
        raise OptionError(
            f"recipe {str(path)!r} is neither a known recipe ({', '.join(RECIPES)}) nor a YAML file that exists"
        )
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise OptionError(f"recipe file {path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise OptionError(f"recipe file {path}: expected a mapping of option names to values")
    base_name = data.pop("recipe", "notus-v1")
    if base_name not in RECIPES:
        raise OptionError(f"recipe file {path}: recipe: {base_name!r} is not one of {', '.join(RECIPES)}")
    _check_names(data, f"recipe file {path}")
    values = {name: _coerce(name, value, path) for name, value in data.items()}
    return dataclasses.replace(RECIPES[base_name], **values)


_TYPES = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, value: Any, path: Path) -> Any:
    """Read a YAML value as the field's type (YAML reads ``5e-7`` as a string, lists for module names)."""
    kind = _TYPES[name]
    if value is None:
        return None
    try:
        if kind.startswith("float"):
            return float(value)
        if kind.startswith("int") and not isinstance(value, bool):
            if float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            raise ValueError
        if name == "lora_target_modules" and isinstance(value, (list, tuple)):
            return ",".join(str(v) for v in value)
        if kind == "str":
            return str(value)
    except (TypeError, ValueError):
        raise OptionError(f"recipe file {path}: {name}: {value!r} is not a valid {kind}") from None
    return value
