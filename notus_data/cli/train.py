"""``notus-data train``: a thin wrapper over :func:`notus_data.train.train`."""

from __future__ import annotations

import logging

import click
from click.core import ParameterSource

from notus_data.cli._common import handle_errors, options_from
from notus_data.train.config import TrainConfig


@click.command("train")
@click.option(
    "--dataset", required=True, help="Pairs to train on: a .parquet/.jsonl file, a folder or a Hub id."
)
@click.option("--model", required=True, help="Causal LM to train (an SFT model): a folder or a Hub id.")
@click.option(
    "--recipe",
    default="notus-v1",
    show_default=True,
    help="notus-v1, zephyr, or a YAML file of options (optionally 'recipe: zephyr' to start from zephyr).",
)
@click.option(
    "--output-dir", default="notus-dpo", show_default=True, help="Folder for checkpoints, model, report."
)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint-N in --output-dir.")
@click.option("--dataset-revision", default=None, help="Hub revision (commit, tag, branch) of the dataset.")
@click.option("--model-revision", default=None, help="Hub revision (commit, tag, branch) of the model.")
@options_from(TrainConfig)
@handle_errors
def train_command(
    dataset: str,
    model: str,
    recipe: str,
    output_dir: str,
    resume: bool,
    dataset_revision: str | None,
    model_revision: str | None,
    **options: object,
) -> None:
    """Train --model with DPO (TRL) on the pairs in --dataset, with the Notus-7B-v1 recipe by default.

    Option defaults shown below are the notus-v1 recipe's; with --recipe zephyr the zephyr values apply, and
    only the options you give override the recipe. On a GPU: bf16, gradient checkpointing, the recipe's batch
    sizes; on a CPU both are off. The model, checkpoints and training_report.{json,md} go to --output-dir.

    \b
    Examples:
      notus-data train --dataset out/h4 --model alignment-handbook/zephyr-7b-sft-full
      notus-data train --recipe zephyr --dataset pairs.parquet --model ./sft --lora --output-dir dpo-lora
      notus-data train --dataset pairs.parquet --model ./tiny --max-steps 20 \\
          --per-device-train-batch-size 4 --global-batch-size 4 --output-dir /tmp/dpo
      notus-data train --dataset pairs.parquet --model ./tiny --output-dir /tmp/dpo --resume
    """
    from notus_data.train.trainer import train

    ctx = click.get_current_context()
    overrides = {
        k: v for k, v in options.items() if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT
    }
    _show_progress_logs()
    result = train(
        dataset,
        model,
        recipe=recipe,
        output_dir=output_dir,
        resume=resume,
        dataset_revision=dataset_revision,
        model_revision=model_revision,
        **overrides,
    )
    perf = result.report["performance"]
    eval_metrics = result.metrics.get("eval", {})
    accuracy = eval_metrics.get("eval_rewards/accuracies")
    click.echo(
        f"trained {result.report['run']['global_step']} steps on {result.report['data']['train_rows']:,} pairs: "
        f"{(perf['tokens_per_second'] or 0):,.0f} tokens/s, peak memory {(perf['peak_memory_bytes'] or 0) / 2**20:,.0f} MiB"
        + (f", eval reward accuracy {accuracy:.3f}" if accuracy is not None else ""),
        err=True,
    )
    click.echo(f"model: {result.output_dir}  report: {result.report_md}", err=True)


def _show_progress_logs() -> None:
    """Print the stage's own log lines (data accounting, throughput) on stderr."""
    log = logging.getLogger("notus_data.train")
    if not any(getattr(h, "_notus_cli", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("notus-data train: %(message)s"))
        handler._notus_cli = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.INFO)


@click.command("tiny-model")
@click.argument("output")
@click.option(
    "--dataset", default=None, help="Pairs whose texts train the tokenizer (any format train reads)."
)
@click.option("--vocab-size", default=400, show_default=True, type=int, help="Tokenizer vocabulary size.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random weights.")
@handle_errors
def tiny_model_command(output: str, dataset: str | None, vocab_size: int, seed: int) -> None:
    """Build a tiny 2-layer Llama and a BPE tokenizer in OUTPUT, to try `notus-data train` on a CPU offline.

    \b
    Example:
      notus-data tiny-model ./small-model --dataset out/zephyr
    """
    from notus_data.train.tiny import make_tiny_model

    folder = make_tiny_model(output, dataset=dataset, vocab_size=vocab_size, seed=seed)
    click.echo(f"tiny model and tokenizer: {folder}", err=True)
