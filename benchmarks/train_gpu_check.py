"""A short real DPO run through ``notus_data.train.train``: prints tokens/s and peak memory.

Meant for a machine with a GPU (bf16, gradient checkpointing and the recipe's batch sizes are picked up there), and
runs on a CPU as well for a baseline. Everything is offline: the pairs come from the team's real sample
(``../shared/data/ultrafeedback-pairs/train_clean.jsonl``, converted to the h4 parquet notus-data publishes) and the
model is either ``--model PATH`` or a randomly initialised Llama built here with a byte-level BPE tokenizer trained on
the pairs (its loss says nothing about quality; its speed and memory are real).

Examples::

    python benchmarks/train_gpu_check.py                           # GPU: ~50M-parameter model, 300 pairs
    python benchmarks/train_gpu_check.py --model /models/zephyr-sft --rows 300 --lora
    python benchmarks/train_gpu_check.py --device cpu --hidden 128 --layers 2 --steps 4 \\
        --per-device-train-batch-size 4 --global-batch-size 8     # CPU baseline

Prints one JSON object (device, steps, tokens/s, peak memory, first/last loss, eval reward accuracy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from notus_data.train.tiny import make_tiny_model  # noqa: E402

DEFAULT_PAIRS = ROOT.parent / "shared" / "data" / "ultrafeedback-pairs" / "train_clean.jsonl"


def write_h4(pairs: Path, rows: int, out: Path) -> list[str]:
    """The first ``rows`` real pairs as an h4 parquet file; returns the texts (for the tokenizer)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from notus_data.train.data import CONVERSATION

    records = [json.loads(line) for line in pairs.open(encoding="utf-8").readlines()[:rows]]

    def conv(prompt: str, answer: str) -> list[dict]:
        return [{"content": prompt, "role": "user"}, {"content": answer, "role": "assistant"}]

    table = pa.table(
        {
            "prompt": [r["prompt"] for r in records],
            "prompt_id": [str(i) for i in range(len(records))],
            "chosen": pa.array([conv(r["prompt"], r["chosen"]) for r in records], CONVERSATION),
            "rejected": pa.array([conv(r["prompt"], r["rejected"]) for r in records], CONVERSATION),
            "score_chosen": [float(r["metadata"]["score_chosen"]) for r in records],
            "score_rejected": [float(r["metadata"]["score_rejected"]) for r in records],
        }
    )
    table = table.append_column("messages", table.column("chosen"))
    pq.write_table(table, out)
    return [r["prompt"] + "\n" + r["chosen"] + "\n" + r["rejected"] for r in records]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pairs", type=Path, default=DEFAULT_PAIRS, help="real pairs (jsonl, trl-lib format)"
    )
    parser.add_argument("--rows", type=int, default=300, help="pairs to use (10%% are held out for eval)")
    parser.add_argument("--model", default=None, help="a local model folder; default: build a random Llama")
    parser.add_argument("--hidden", type=int, default=512, help="hidden size of the built model")
    parser.add_argument("--layers", type=int, default=8, help="layers of the built model")
    parser.add_argument("--vocab", type=int, default=8000, help="vocabulary of the built tokenizer")
    parser.add_argument("--recipe", default="notus-v1")
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps (max_steps)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--per-device-train-batch-size", type=int, default=None, help="default: the recipe's (8)"
    )
    parser.add_argument("--global-batch-size", type=int, default=None, help="default: the recipe's (64)")
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="default: the recipe's (1024); max_prompt_length is half of it",
    )
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "_work" / "train_gpu_check")
    args = parser.parse_args(argv)
    if not args.pairs.is_file():
        parser.error(f"no pairs at {args.pairs}; pass --pairs")

    import shutil

    import torch

    from notus_data.train import train

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    dataset = args.work / "pairs.parquet"
    texts = write_h4(args.pairs, args.rows, dataset)
    model = args.model or make_tiny_model(
        args.work / "model",
        texts=texts,
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        num_layers=args.layers,
    )

    overrides = {
        "max_steps": args.steps,
        "device": args.device,
        "logging_steps": 1,
        "eval_steps": 10_000,
        "save_steps": 10_000,
        "lora": args.lora,
        "learning_rate": 1e-5 if args.model else 1e-4,
    }
    for name in ("per_device_train_batch_size", "global_batch_size", "max_length"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.max_length is not None:
        overrides["max_prompt_length"] = args.max_length // 2
    started = time.perf_counter()
    result = train(dataset, model, recipe=args.recipe, output_dir=args.work / "out", **overrides)
    wall = time.perf_counter() - started
    report = result.report
    n_params = None
    if not args.model:
        n_params = args.hidden * args.hidden * 12 * args.layers + 2 * args.hidden * args.vocab
    figures = {
        "device": report["run"]["device"],
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "model": str(args.model or f"random Llama hidden {args.hidden} x {args.layers} layers"),
        "approx_params": n_params,
        "bf16": report["run"]["bf16"],
        "gradient_checkpointing": report["run"]["gradient_checkpointing"],
        "per_device_train_batch_size": report["config"]["per_device_train_batch_size"],
        "gradient_accumulation_steps": report["run"]["gradient_accumulation_steps"],
        "steps": report["run"]["global_step"],
        "train_pairs": report["data"]["train_rows"],
        "tokens": report["performance"]["tokens"],
        "step_seconds": round(report["performance"]["step_seconds"], 2),
        "tokens_per_second": round(report["performance"]["tokens_per_second"] or 0, 1),
        "train_seconds_incl_eval_and_saves": report["performance"]["train_seconds"],
        "tokens_per_second_overall": round(report["performance"]["tokens_per_second_overall"] or 0, 1),
        "peak_memory_kind": report["performance"]["peak_memory_kind"],
        "peak_memory_gib": round((report["performance"]["peak_memory_bytes"] or 0) / 2**30, 3),
        "first_loss": report["metrics"]["train_first_log"].get("loss"),
        "last_loss": report["metrics"]["train_last_log"].get("loss"),
        "eval_reward_accuracy": report["metrics"]["eval"].get("eval_rewards/accuracies"),
        "wall_seconds_incl_setup": round(wall, 1),
    }
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
