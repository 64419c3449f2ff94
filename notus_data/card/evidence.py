"""The evidence sections of a card: what decontamination removed and what the flag step marked for review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from notus_data.card.context import CardContext, table, thousands


def _benchmark_label(benchmark: Any) -> str:
    """`truthfulqa` (817 questions, from questions.jsonl) for a benchmark entry of the decontaminate step."""
    if not isinstance(benchmark, dict):
        return f"`{benchmark}`"
    where = benchmark.get("file") or benchmark.get("hub_id") or benchmark.get("bundled")
    named = Path(str(where)).name if benchmark.get("file") else where
    origin = f", from `{named}`" if where else ""
    if benchmark.get("bundled"):
        origin += " bundled with notus-data"
    count = f"{thousands(benchmark['questions'])} questions" if benchmark.get("questions") is not None else ""
    detail = ", ".join(x for x in (count, origin.lstrip(", ")) if x)
    return f"`{benchmark.get('name', '?')}`" + (f" ({detail})" if detail else "")


def decontamination_section(ctx: CardContext) -> str:
    if ctx.recipe.decontaminate is None:
        return ""
    ev = ctx.decontamination or {
        "rows": 0,
        "by_kind": {},
        "by_source": {},
        "by_benchmark": {},
        "examples": [],
    }
    step = ctx.report.get("steps", {}).get("decontaminate", {})
    lines = ["## Decontamination", ""]
    benchmarks = [_benchmark_label(b) for b in step.get("benchmarks") or sorted(ev.get("by_benchmark", {}))]
    lines.append(
        f"Prompts checked against {', '.join(benchmarks) or 'the configured benchmarks'}"
        + (
            f" ({thousands(step['questions'])} questions)"
            if step.get("questions") and not any(isinstance(b, dict) for b in step.get("benchmarks") or [])
            else ""
        )
        + (f" with the methods {', '.join(f'`{m}`' for m in step['methods'])}" if step.get("methods") else "")
        + (
            f"; rows whose source is {', '.join(f'`{s}`' for s in step['source_filter'])} are removed as well"
            if step.get("source_filter")
            else ""
        )
        + f". Rows removed: **{thousands(ev['rows'])}**."
    )
    if ev.get("by_kind"):
        lines += ["", table(["method", "rows"], [[f"`{k}`", thousands(v)] for k, v in ev["by_kind"].items()])]
    names = [b.get("name") if isinstance(b, dict) else b for b in step.get("benchmarks") or []]
    if len(names) > 1:  # one benchmark: its count is the rows removed
        counts = ev.get("by_benchmark", {})
        lines += ["", "By benchmark:", ""]
        lines.append(table(["benchmark", "rows"], [[f"`{n}`", thousands(counts.get(n, 0))] for n in names]))
    if ev.get("by_source"):
        lines += ["", "By source:", ""]
        lines.append(
            table(["source", "rows"], [[s, thousands(sum(c.values()))] for s, c in ev["by_source"].items()])
        )
    if ev.get("examples"):
        lines += [
            "",
            "First rows removed by matching, outside the benchmarks' own sources (prompt excerpt -> matched "
            "question):",
            "",
        ]
        for ex in ev["examples"]:
            score = ex.get("score")
            score_text = f", score {score:.2f}" if isinstance(score, float) else ""
            lines.append(
                f"- row {ex.get('row_index')} ({ex.get('source')}, `{ex.get('method')}`{score_text}): "
                f'"{ex.get("prompt", "")}" -> "{ex.get("question", "")}"'
            )
    if "decontamination" in ctx.files:
        lines += [
            "",
            f"Every removed row, with the benchmark, the matched question, the method and its score: "
            f"[`{ctx.files['decontamination']}`]({ctx.files['decontamination']}).",
        ]
    return "\n".join(lines)


def flags_section(ctx: CardContext) -> str:
    if ctx.recipe.flag is None or not ctx.flags:
        return ""
    ev = ctx.flags
    lines = ["## Flagged completions", ""]
    if ctx.recipe.review.decisions:
        lines.append(
            f"{thousands(ev['rows'])} completions look mis-scored (critique vs ratings, RECIPE section 4) after the "
            "review decisions were applied (see Funnel: what the review changed, and how much the reviewers "
            "agreed). They were kept."
        )
    else:
        lines.append(
            f"{thousands(ev['rows'])} completions look mis-scored (critique vs ratings, RECIPE section 4). They "
            "were kept; review them with `notus-data review push`, then re-run with `--decisions`."
        )
    if ev.get("by_kind"):
        lines += [
            "",
            table(["reason", "completions"], [[f"`{k}`", thousands(v)] for k, v in ev["by_kind"].items()]),
        ]
    if ev.get("examples"):
        lines += ["", "First flagged completions:", ""]
        for ex in ev["examples"]:
            lines.append(
                f"- row {ex['row_index']} ({ex['source']}, {ex['model']}): overall_score {ex['overall_score']}, "
                f'mean rating {ex["avg_rating"]}, {", ".join(ex["reasons"])}. Critique: "{ex["critique"]}"'
            )
    if "flags" in ctx.files:
        lines += ["", f"All flagged completions: [`{ctx.files['flags']}`]({ctx.files['flags']})."]
    return "\n".join(lines)
