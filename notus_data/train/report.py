"""The training report: what was trained on what, how fast, and how it ended. JSON and markdown, beside the model.

In: the pieces a run gathers (config, data summary, metrics, throughput, memory). Out:
``training_report.json`` and ``training_report.md`` in the model folder (:func:`write_training_report`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

REPORT_JSON = "training_report.json"
REPORT_MD = "training_report.md"

#: Metrics shown in the markdown summary, in this order (the JSON keeps them all).
KEY_METRICS = (
    "loss",
    "rewards/accuracies",
    "rewards/margins",
    "rewards/chosen",
    "rewards/rejected",
    "logps/chosen",
    "logps/rejected",
)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf as None, numpy scalars as Python numbers, nested containers walked."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_training_report(report: dict[str, Any], output_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report`` as JSON and as a short markdown page in ``output_dir``; returns both paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = output_dir / REPORT_JSON, output_dir / REPORT_MD
    json_path.write_text(json.dumps(_clean(report), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _card_section(funnel: str | None) -> list[str]:
    """The card's funnel under this report's own heading: its heading line becomes a note, deeper headings move
    below this report's level (one "funnel" heading on the page)."""
    if not funnel:
        return ["_The dataset has no card with a funnel section._"]
    lines = funnel.splitlines()
    heading = re.match(r"^#{1,6}\s+(.*)$", lines[0])
    out = [f'From the dataset card\'s section "{heading.group(1).strip()}":'] if heading else [lines[0]]
    for line in lines[1:]:
        sub = re.match(r"^(#{1,6})(\s+.*)$", line)
        out.append("###" + sub.group(2) if sub else line)
    return out


def render_markdown(report: dict[str, Any]) -> str:
    """The report as a markdown page (recipe, data, final metrics, throughput, memory, the card's funnel)."""
    data = report.get("data", {})
    run = report.get("run", {})
    perf = report.get("performance", {})
    lines = [
        "# DPO training report",
        "",
        f"- Model: `{run.get('model')}` -> `{run.get('output_dir')}`"
        + (" (LoRA adapter)" if report.get("config", {}).get("lora") else ""),
        f"- Recipe: **{report.get('recipe')}**; device: {run.get('device')} "
        f"(bf16 {run.get('bf16')}, gradient checkpointing {run.get('gradient_checkpointing')}, "
        f"{run.get('world_size', 1)} process(es), gradient accumulation {run.get('gradient_accumulation_steps')})",
        f"- Steps: {run.get('global_step')}"
        + (f", resumed from `{run['resumed_from']}`" if run.get("resumed_from") else ""),
        "",
        "## Data",
        "",
        f"- Dataset: `{data.get('source')}` (format {data.get('format')}; splits {data.get('splits')})",
        f"- Rows in: {data.get('rows_in')}; train pairs: {data.get('train_rows')}; eval pairs: {data.get('eval_rows')}",
        f"- Evaluation split: {data.get('eval_rule')}",
    ]
    review = [
        line.strip()
        for line in (report.get("dataset_card_funnel") or "").splitlines()
        if line.strip().startswith("Review decisions applied")
    ]
    if review:
        lines.append(f"- {review[0]}")
    elif report.get("dataset_card_funnel"):
        lines.append("- Review decisions: none applied (the dataset card's funnel names none)")
    else:
        lines.append("- Review decisions: not known (the dataset has no card with a funnel section)")
    cut = data.get("prompts_truncated") or {}
    if any(cut.values()):
        lines.append(
            "- Prompts over max_prompt_length, truncated to fit (last user turn cut from its start): "
            + ", ".join(f"{split} {n}" for split, n in cut.items())
        )
    truncated = data.get("truncated_pairs")
    if truncated:
        lines.append(f"- Training pairs longer than max_length (truncated at the end): {truncated}")
    dropped = data.get("dropped") or {}
    by_split = data.get("dropped_by_split") or {}
    if dropped:
        splits = sorted(by_split)
        lines += [
            "",
            "| dropped because | " + " | ".join(splits) + " | total |",
            "|---|" + "---:|" * (len(splits) + 1),
        ]
        for key, value in dropped.items():
            counts = " | ".join(str(by_split[s].get(key, 0)) for s in splits)
            lines.append(f"| {value['why']} (`{key}`) | {counts} | {value['rows']} |")
    else:
        lines.append("- Dropped: none")

    metrics = report.get("metrics", {})
    lines += ["", "## Final metrics", "", "| metric | train (last log) | eval |", "|---|---:|---:|"]
    train_m, eval_m = metrics.get("train_last_log", {}), metrics.get("eval", {})
    for key in KEY_METRICS:
        t, e = train_m.get(key), eval_m.get(f"eval_{key}")
        if t is not None or e is not None:
            lines.append(
                f"| {key} | {_fmt(t) if t is not None else ''} | {_fmt(e) if e is not None else ''} |"
            )
    if "train_loss" in metrics.get("train", {}):
        lines.append(f"\nMean training loss over the run: {_fmt(metrics['train']['train_loss'])}")

    lines += [
        "",
        "## Performance",
        "",
        f"- Throughput: {perf.get('tokens_per_second') or 0:,.0f} tokens/s in training steps "
        f"({perf.get('tokens') or 0:,} tokens, prompt and both responses, in {perf.get('step_seconds') or 0:,.1f} s); "
        f"{perf.get('tokens_per_second_overall') or 0:,.0f} tokens/s over the whole run "
        f"({perf.get('train_seconds') or 0:,.1f} s with evaluation and checkpoints)",
        f"- Peak memory ({perf.get('peak_memory_kind')}): {_bytes(perf.get('peak_memory_bytes'))}",
    ]
    lines += ["", "## Dataset card funnel", ""]
    lines += _card_section(report.get("dataset_card_funnel"))
    lines += [
        "",
        "## Config",
        "",
        "```json",
        json.dumps(_clean(report.get("config", {})), indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)
