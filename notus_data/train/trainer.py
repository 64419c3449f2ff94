"""The DPO training stage: :func:`train` runs TRL's DPOTrainer on a published pair dataset with a recipe.

In: a pair dataset (file, folder or Hub id; see :mod:`notus_data.train.data`), a causal LM (folder or Hub id),
a recipe name and overrides. Out: the trained model (or LoRA adapter) and its tokenizer in ``output_dir``,
checkpoints in ``output_dir/checkpoint-N``, and ``training_report.json`` / ``training_report.md`` beside them.

torch, transformers, trl and peft are imported inside these functions only (``pip install 'notus-data[train]'``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notus_data.errors import NotusDataError, OptionError, require
from notus_data.io import check_not_inputs
from notus_data.train.config import TrainConfig, resolve_config
from notus_data.train.data import HUB_ID, card_funnel, prepare_pairs
from notus_data.train.device import DeviceSetup, peak_memory, resolve_device  # noqa: F401
from notus_data.train.report import write_training_report
from notus_data.train.template import prepare_tokenizer

logger = logging.getLogger("notus_data.train")

RUN_ARGS = "notus_train_args.json"
#: Options that may differ when a run is resumed (they do not change what was already trained).
RESUME_MAY_CHANGE = frozenset(
    {
        "max_steps",
        "num_train_epochs",
        "logging_steps",
        "eval_steps",
        "save_steps",
        "save_total_limit",
        "report_to",
        "dataset_num_proc",
        "per_device_eval_batch_size",
    }
)


@dataclass
class TrainResult:
    """What :func:`train` returns: where the model is, the report (as written to JSON) and its paths.

    Under ``accelerate launch``/``torchrun`` only the main process writes the report; the others get None paths.
    """

    output_dir: Path
    report: dict[str, Any]
    report_json: Path | None
    report_md: Path | None

    @property
    def metrics(self) -> dict[str, Any]:
        return self.report["metrics"]


def _trainer_class() -> type:
    """DPOTrainer plus throughput (tokens/s) and peak memory in every training log line.

    Throughput is the tokens of the batches (prompt and both responses, padding excluded) over the time spent
    inside optimizer steps (forward, backward, optimizer; evaluation, checkpoint saving and setup excluded).
    """
    import torch
    from transformers import TrainerCallback
    from trl import DPOTrainer

    class StepTimer(TrainerCallback):
        def __init__(self, device: str) -> None:
            self.device, self.seconds, self._started = device, 0.0, None

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self._started is not None:
                if self.device == "cuda":
                    torch.cuda.synchronize()
                self.seconds += time.perf_counter() - self._started
                self._started = None

    class NotusDPOTrainer(DPOTrainer):
        def __init__(self, *args: Any, notus_device: str = "cpu", **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.notus_device = notus_device
            self.step_timer = StepTimer(notus_device)
            self.add_callback(self.step_timer)

        @property
        def tokens_seen(self) -> int:
            """Tokens in the training batches of this session (TRL counts them for its num_tokens metric)."""
            return int(getattr(self, "_total_train_tokens", 0) or 0)

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if self.model.training and "loss" in logs:
                if self.tokens_seen and self.step_timer.seconds > 0:
                    logs["tokens_per_second"] = round(self.tokens_seen / self.step_timer.seconds, 1)
                logs["peak_memory_mb"] = round((peak_memory(self.notus_device)[1] or 0) / 2**20, 1)
            super().log(logs, start_time)

    return NotusDPOTrainer


def _check_output_dir(output_dir: Path, resume: bool, run_args: dict[str, Any]) -> str | None:
    """The checkpoint to resume from (None for a fresh run); refuses to mix runs in one folder."""
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if not resume:
        if last is not None:
            raise OptionError(
                f"{output_dir} already holds checkpoints of an earlier run ({Path(last).name}): pass --resume to "
                "continue it, or choose another --output-dir"
            )
        return None
    if last is None:
        raise OptionError(f"--resume: no checkpoint-N folder in {output_dir} to resume from")
    saved_path = output_dir / RUN_ARGS
    if saved_path.is_file():
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        changed = [
            f"{key}: was {saved['config'].get(key)!r}, now {value!r}"
            for key, value in run_args["config"].items()
            if key not in RESUME_MAY_CHANGE and saved["config"].get(key) != value
        ]
        for key in ("dataset", "model"):
            if saved.get(key) != run_args[key]:
                changed.append(f"{key}: was {saved.get(key)!r}, now {run_args[key]!r}")
        if changed:
            raise OptionError(
                f"--resume: the run in {output_dir} used other settings ({'; '.join(changed)}); "
                "resume with the same options or start a new --output-dir"
            )
    return last


def _truncated_pairs(dataset: Any, max_length: int) -> int:
    """Pairs whose prompt + chosen or prompt + rejected exceeds ``max_length`` tokens (the collator cuts them)."""
    import numpy as np
    import pyarrow.compute as pc

    if dataset is None or dataset.num_rows == 0:
        return 0
    table = dataset.with_format("arrow")[:]
    prompt = pc.list_value_length(table.column("prompt_ids")).to_numpy(zero_copy_only=False)
    longest = np.maximum(
        pc.list_value_length(table.column("chosen_ids")).to_numpy(zero_copy_only=False),
        pc.list_value_length(table.column("rejected_ids")).to_numpy(zero_copy_only=False),
    )
    return int(((prompt + longest) > max_length).sum())


def _final_eval(trainer: Any) -> dict[str, Any]:
    """Metrics on the held-out split at the last step: transformers evaluates there at the end of a step-based
    schedule, so reuse that log entry; evaluate only when it is missing."""
    if trainer.eval_dataset is None:
        return {}
    step = trainer.state.global_step
    for entry in reversed(trainer.state.log_history):
        if "eval_loss" in entry and entry.get("step") == step:
            return {k: v for k, v in entry.items() if k != "step"}
    return trainer.evaluate()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("notus-data", "torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def train(
    dataset: str | Path,
    model: str | Path,
    *,
    recipe: str | Path | TrainConfig = "notus-v1",
    output_dir: str | Path = "notus-dpo",
    resume: bool = False,
    dataset_revision: str | None = None,
    model_revision: str | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train ``model`` with DPO on the pairs in ``dataset`` and save it to ``output_dir``.

    ``recipe`` is ``"notus-v1"`` (default), ``"zephyr"``, a YAML file or a :class:`TrainConfig`; ``overrides``
    are :class:`TrainConfig` fields (``beta=0.2``, ``lora=True``, ...). ``resume=True`` continues from the last
    ``checkpoint-N`` in ``output_dir``. Returns a :class:`TrainResult`; raises :class:`NotusDataError` for bad
    input (unknown option, unreadable dataset, no pairs left, missing ``notus-data[train]``).

    Example (a tiny run on a CPU)::

        train("pairs.parquet", "my-sft-model", output_dir="out", max_steps=10, global_batch_size=8,
              per_device_train_batch_size=8)
    """
    config = resolve_config(recipe, **overrides)
    recipe_name = (
        recipe if isinstance(recipe, str) else ("custom" if isinstance(recipe, TrainConfig) else str(recipe))
    )
    require("torch", "train")
    require("transformers", "train")
    require("trl", "train")
    require("accelerate", "train")
    if config.lora:
        require("peft", "train")
    from transformers import AutoTokenizer
    from trl import DPOConfig

    output_dir = Path(output_dir)
    model_path = Path(str(model)).expanduser()
    model_id = str(model_path) if model_path.exists() else str(model)
    if not model_path.exists() and not HUB_ID.match(model_id):
        raise NotusDataError(f"model {model_id!r}: no such folder (and not a Hub id like owner/name)")
    run_args = {"recipe": recipe_name, "dataset": str(dataset), "model": model_id, "config": config.to_dict()}
    check_not_inputs([output_dir], [str(dataset), model_id])
    resume_from = _check_output_dir(output_dir, resume, run_args)
    setup = resolve_device(config)

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, revision=model_revision)
    except Exception as exc:
        raise NotusDataError(
            f"could not load the tokenizer of model {model_id!r}: {type(exc).__name__}: {exc}"
        ) from exc
    prepare_tokenizer(tokenizer, config.chat_template)

    pairs = prepare_pairs(
        dataset,
        tokenizer,
        max_prompt_length=config.max_prompt_length,
        long_prompts=config.long_prompts,
        eval_size=config.eval_size,
        seed=config.seed,
        max_train_rows=config.max_train_rows,
        revision=dataset_revision,
    )
    summary = pairs.summary
    logger.info(
        "data: %s (%s): %d train pairs, %d eval pairs, dropped %s",
        summary.source,
        summary.format,
        summary.train_rows,
        summary.eval_rows,
        dict(summary.dropped) or "none",
    )

    # transformers 5.2x renamed gradient_checkpointing to activation_checkpointing (the old name warns).
    names = {f.name for f in dataclasses.fields(DPOConfig)}
    checkpointing = (
        "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    )
    model_init_kwargs: dict[str, Any] = {"dtype": config.dtype}
    if model_revision:
        model_init_kwargs["revision"] = model_revision
    try:
        args = DPOConfig(
            output_dir=str(output_dir),
            beta=config.beta,
            loss_type=[config.loss_type],
            learning_rate=config.learning_rate,
            lr_scheduler_type=config.lr_scheduler_type,
            warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the training steps
            num_train_epochs=config.num_train_epochs,
            max_steps=config.max_steps,
            optim=config.optim,
            weight_decay=config.weight_decay,
            max_grad_norm=config.max_grad_norm,
            per_device_train_batch_size=config.per_device_train_batch_size,
            per_device_eval_batch_size=config.per_device_eval_batch_size,
            gradient_accumulation_steps=setup.gradient_accumulation_steps,
            max_length=config.max_length,
            bf16=setup.bf16,
            fp16=False,
            use_cpu=setup.device == "cpu",
            seed=config.seed,
            logging_steps=config.logging_steps,
            eval_strategy="steps" if pairs.eval is not None else "no",
            eval_steps=config.eval_steps,
            save_strategy="steps",
            save_steps=config.save_steps,
            save_total_limit=config.save_total_limit,
            report_to=config.report_to,
            dataset_num_proc=config.dataset_num_proc,
            model_init_kwargs=model_init_kwargs,
            disable_dropout=config.disable_dropout,
            **{checkpointing: setup.gradient_checkpointing},
        )
    except ValueError as exc:  # transformers validates optim, report_to, bf16 support, ...
        raise OptionError(f"invalid training options: {exc}") from exc

    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=config.target_modules,
            bias="none",
            task_type="CAUSAL_LM",
        )

    trainer_cls = _trainer_class()
    try:
        trainer = trainer_cls(
            model=model_id,
            args=args,
            train_dataset=pairs.train,
            eval_dataset=pairs.eval,
            processing_class=tokenizer,
            peft_config=peft_config,
            notus_device=setup.device,
        )
    except (OSError, ValueError) as exc:
        raise NotusDataError(
            f"could not set up training of model {model_id!r}: {type(exc).__name__}: {exc}"
        ) from exc

    # TRL drops pairs whose prompt alone fills max_length; every prompt fits max_prompt_length already, so this
    # is 0 unless tokenization differs, and it is counted either way.
    for split, before, after in (
        ("train", pairs.train, trainer.train_dataset),
        ("test", pairs.eval, trainer.eval_dataset),
    ):
        if before is not None and after is not None and after.num_rows < before.num_rows:
            summary.drop(split, "prompt_fills_max_length", before.num_rows - after.num_rows)
            if split == "train":
                summary.train_rows = after.num_rows
            else:
                summary.eval_rows = after.num_rows
    truncated = _truncated_pairs(trainer.train_dataset, config.max_length)

    main_process = trainer.is_world_process_zero()
    if main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / RUN_ARGS).write_text(json.dumps(run_args, indent=2) + "\n", encoding="utf-8")

    train_output = trainer.train(resume_from_checkpoint=resume_from)
    trainer.save_model(str(output_dir))
    trainer.save_state()
    eval_metrics = _final_eval(trainer)

    runtime = float(train_output.metrics.get("train_runtime") or 0.0)
    step_seconds = trainer.step_timer.seconds
    tokens = trainer.tokens_seen
    memory_kind, memory_bytes = peak_memory(setup.device)
    train_logs = [h for h in trainer.state.log_history if "loss" in h and "train_runtime" not in h]
    data = summary.to_dict()
    data["truncated_pairs"] = truncated
    report = {
        "recipe": recipe_name,
        "config": config.to_dict(),
        "run": {
            "model": model_id,
            "output_dir": str(output_dir),
            "device": setup.device,
            "bf16": setup.bf16,
            "gradient_checkpointing": setup.gradient_checkpointing,
            "world_size": setup.world_size,
            "gradient_accumulation_steps": setup.gradient_accumulation_steps,
            "global_step": trainer.state.global_step,
            "resumed_from": resume_from,
            "saved": "LoRA adapter" if config.lora else "full model",
        },
        "data": data,
        "dataset_card_funnel": card_funnel(dataset, revision=dataset_revision),
        "metrics": {
            "train": dict(train_output.metrics),
            "train_first_log": train_logs[0] if train_logs else {},
            "train_last_log": train_logs[-1] if train_logs else {},
            "eval": dict(eval_metrics),
        },
        "performance": {
            "tokens": tokens,
            "step_seconds": step_seconds,
            "tokens_per_second": tokens / step_seconds if step_seconds > 0 else None,
            "train_seconds": runtime,
            "tokens_per_second_overall": tokens / runtime if runtime > 0 else None,
            "peak_memory_kind": memory_kind,
            "peak_memory_bytes": memory_bytes,
        },
        "versions": _versions(),
    }
    if not main_process:  # under accelerate/torchrun only the main process writes the report
        return TrainResult(output_dir=output_dir, report=report, report_json=None, report_md=None)
    json_path, md_path = write_training_report(report, output_dir)
    logger.info(
        "trained %d steps: %.0f tokens/s, peak memory %.1f MiB; model and report in %s",
        trainer.state.global_step,
        report["performance"]["tokens_per_second"] or 0.0,
        (memory_bytes or 0) / 2**20,
        output_dir,
    )
    return TrainResult(
        output_dir=output_dir,
        report=json.loads(json_path.read_text()),
        report_json=json_path,
        report_md=md_path,
    )
