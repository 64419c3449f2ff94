"""The prose sections of a card about the data itself: its structure, its source, how it was made, the funnel,
the scores, and the notus-vs-zephyr comparison. Each is a function of the :class:`CardContext` alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from notus_data.card.context import (
    DRAW_RULES,
    SCORE_SOURCES,
    STRATEGY_RULES,
    CardContext,
    pct,
    table,
    thousands,
)
from notus_data.card.review import pull_report, review_sentence
from notus_data.report import funnel


def funnel_lines(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(label, rows, why) per funnel line, in run order: rows in, removed at each step and why, pairs out (the
    words of the terminal's table, :func:`notus_data.report.funnel`)."""
    return funnel(report)


def schema_name(src: dict) -> str:
    """The data set whose schema the input has (openbmb/UltraFeedback unless a source format says otherwise)."""
    from notus_data.sources import DESCRIPTIONS

    fmt = src.get("source_format")
    return DESCRIPTIONS[fmt][0] if fmt in DESCRIPTIONS else "openbmb/UltraFeedback"


def input_note(ctx: CardContext) -> str:
    """The sentence under the title that says what the data was made from (the recipe's description says how)."""
    src = ctx.source
    schema = schema_name(src)
    origin = src.get("input")
    if src.get("kind") == "hub":
        return f"Made from the Hub data set `{origin}` (revision `{src.get('revision') or 'main'}`)."
    name = Path(str(origin)).name
    if src.get("synthetic"):
        return (
            f"> **Made from `{name}`, a synthetic sample** in the schema of {schema}, not from the real "
            "data set: its figures show what the recipe does, not what the real data holds. See Source data."
        )
    return f"Made from the local {src.get('kind', 'file')} `{name}`, in the schema of {schema}."


def source_section(ctx: CardContext) -> str:
    src = ctx.source
    lines = ["## Source data", ""]
    origin = src.get("input")
    if src.get("kind") == "hub":
        lines.append(f"- Input: [`{origin}`](https://huggingface.co/datasets/{origin}) (Hub dataset)")
        lines.append(f"- Revision: `{src.get('revision') or 'main'}`")
    else:
        lines.append(f"- Input: local {src.get('kind', 'file')} `{Path(str(origin)).name}`")
        if src.get("synthetic"):
            lines.append(
                f"- **Synthetic data**, not {schema_name(src)} itself: {src.get('description', '')}".rstrip(
                    ": "
                )
            )
        elif src.get("description"):
            lines.append(f"- Made as: {src['description']}")
        if src.get("sha256"):
            lines.append(f"- Content sha256: `{src['sha256']}`")
    if src.get("source_format"):
        from notus_data.sources import DESCRIPTIONS

        rule = DESCRIPTIONS.get(src["source_format"], ("", ""))[1]
        lines.append(f"- Source format: `{src['source_format']}` ({rule}; see notus-data's docs/sources.md)")
    lines.append(
        f"- Split read: `{src.get('split', 'train')}`; rows read: {thousands(ctx.report['rows_in'])}"
    )
    problems = ctx.report.get("problems", {}).get("counts", {})
    if problems:
        found = ", ".join(f"{kind} ({thousands(n)})" for kind, n in sorted(problems.items()))
        lines.append(
            f"- Problems found in the input and handled by a stated rule: {found} "
            "(see `report.json` for examples naming the row and field)"
        )
    return "\n".join(lines)


def recipe_section(ctx: CardContext) -> str:
    recipe = ctx.recipe
    b = recipe.binarize
    lines = ["## How it was made", ""]
    lines.append(
        f"Made with notus-data, recipe **{recipe.name}**: "
        "load -> "
        + ("apply review decisions -> " if recipe.review.decisions else "")
        + "score -> "
        + ("flag -> " if recipe.flag is not None else "")
        + ("decontaminate -> " if recipe.decontaminate is not None else "")
        + "binarize -> split -> write."
    )
    lines.append("")
    lines.append(f"- Score: {SCORE_SOURCES.get(b.score, b.score)} (`score: {b.score}`).")
    lines.append(f"- Pairs (`strategy: {b.strategy}`): {STRATEGY_RULES.get(b.strategy, b.strategy)}")
    if b.strategy in DRAW_RULES:
        lines.append(f"- Draw: {DRAW_RULES[b.strategy]}")
    filters = []
    if b.min_margin:
        filters.append(f"`min_margin: {b.min_margin}`")
    if b.min_chosen_score is not None:
        filters.append(f"`min_chosen_score: {b.min_chosen_score}`")
    if b.drop_identical_text:
        filters.append("`drop_identical_text`")
    if b.drop_ties:
        filters.append("`drop_ties`")
    if b.max_length_ratio is not None:
        filters.append(
            f"`max_length_ratio: {b.max_length_ratio}` (no chosen more than that many times as long)"
        )
    if filters:
        lines.append(f"- Filters: {', '.join(filters)}.")
    lines.append(
        f"- Random draws: a function of (seed {b.seed}, prompt_id) alone, so the pairs do not depend on batch size "
        "or row order."
    )
    split = recipe.split
    if split.splits == "train":
        lines.append("- Splits: one split, `train`.")
    else:
        lines.append(
            f"- Splits (`splits: {split.splits}`): by prompt, from sha256(seed, prompt_id); the test split takes "
            f"{thousands(split.test_size)} prompts, at most {split.max_test_fraction:.0%} of them"
            + (
                f"; test_sft / test_gen take {thousands(split.test_sft_size)} of the test prompts, scaled the same way"
                if split.splits == "h4"
                else ""
            )
            + "."
        )
    if split.splits == "h4":
        lines.append(
            "- `*_prefs` and `*_sft` hold the pairs (`messages` = the chosen conversation); `*_gen` hold the "
            "same prompts with `messages` cut before the last assistant turn."
        )
    if recipe.review.decisions:
        review = ctx.report.get("steps", {}).get("review", {})
        lines.append(f"- {review_sentence(review, pull_report(recipe.review.decisions))}")
    if "recipe" in ctx.files:
        lines.append(
            f"\nThe resolved recipe is saved as [`{ctx.files['recipe']}`]({ctx.files['recipe']}) (its paths are "
            f"relative to it); run it again, from any folder, with `{ctx.rerun}` (FOLDER: this folder)."
        )
    return "\n".join(lines)


def structure_section(ctx: CardContext) -> str:
    lines = ["## Dataset structure", ""]
    rows = [[f"`{name}`", thousands(s.rows), len(s.files)] for name, s in ctx.splits.items()]
    lines.append(table(["split", "rows", "parquet files"], rows) if rows else "No pairs: the run made none.")
    planned = ctx.report.get("steps", {}).get("split", {}).get("rows", {})
    empty = [name for name, n in planned.items() if not n]
    if empty:
        lines.append("")
        lines.append(
            f"Left out, no rows: {', '.join(f'`{n}`' for n in empty)} (the input is too small for a test split "
            "by the size rule below)."
        )
    lines.append("")
    lines.append("Columns:")
    lines.append("")
    for f in ctx.schema:
        lines.append(f"- `{f.name}`: {f.type}")
    lines.append("")
    lines.append("```python\nfrom datasets import load_dataset\n\nds = load_dataset(\"<owner>/<name>\")  "
                 "# or the path of a local copy of this folder\n```")  # fmt: skip
    return "\n".join(lines)


def funnel_section(ctx: CardContext) -> str:
    report = ctx.report
    rows_in = report["rows_in"]
    lines = ["## Funnel", "", "Every input row is in the output or counted here with the reason it left.", ""]
    rows = [[label, thousands(n), pct(n, rows_in) if i else "100%", why] for i, (label, n, why) in
            enumerate(funnel_lines(report))]  # fmt: skip
    rows[-1][2] = "-"  # pairs are not rows
    lines.append(table(["step", "rows", "share of rows in", "why"], rows))
    by_source = report.get("dropped_by_source", {})
    if by_source:
        reasons = sorted({r for counts in by_source.values() for r in counts})
        lines += ["", "Rows that left, by source and reason:", ""]
        lines.append(
            table(
                ["source", *reasons],
                [[s, *(thousands(c.get(r, 0)) for r in reasons)] for s, c in sorted(by_source.items())],
            )
        )
    flag_step = report.get("steps", {}).get("flag")
    if flag_step:
        lines += [
            "",
            f"The flag step marked {thousands(flag_step.get('completions_flagged', 0))} of "
            f"{thousands(flag_step.get('completions', 0))} completions for review; it removes nothing (see Flagged "
            "completions).",
        ]
    if ctx.recipe.review.decisions:
        review = report.get("steps", {}).get("review", {})
        lines += ["", review_sentence(review, pull_report(ctx.recipe.review.decisions))]
    split_step = report.get("steps", {}).get("split")
    if split_step and split_step.get("prompts") is not None:
        lines += ["", f"Distinct prompts among the pairs: {thousands(split_step['prompts'])}."]
    return "\n".join(lines)


def scores_section(ctx: CardContext) -> str:
    if not ctx.scores:
        return ""
    pairs = ctx.scores["pairs"]
    lines = ["## Scores", ""]
    n_pairs, ties = pairs["count"], pairs["ties"]
    chosen_mean, rejected_mean = pairs.get("chosen_mean"), pairs.get("rejected_mean")
    lines.append(
        f"Pair scores are `{ctx.scores['pair_score_source']}`. Pairs whose chosen and rejected score the same: "
        f"{thousands(ties)} of {thousands(n_pairs)} ({pct(ties, n_pairs)})."
        + (
            f" Mean chosen score {chosen_mean:.2f}, mean rejected score {rejected_mean:.2f}."
            if chosen_mean is not None and rejected_mean is not None
            else ""
        )
    )
    lines.append("")
    for title, path in ctx.plots:
        lines.append(f"![{title}]({path})")
        lines.append("")
    return "\n".join(lines).rstrip()


def comparison_section(ctx: CardContext) -> str:
    cmp = ctx.comparison
    if not cmp:
        return ""
    lines = ["## Notus vs Zephyr binarization", ""]
    rate = "n/a" if cmp.get("rate") is None else f"{cmp['rate']:.1%}"
    lines.append(
        f"On the rows that reached the binarizer, binarizing by **{cmp['a']}** and by **{cmp['b']}** chose a "
        f"different response in **{thousands(cmp['chosen_differs'])} of {thousands(cmp['both'])} prompts ({rate})** that both "
        f"paired (different text: {thousands(cmp['chosen_text_differs'])}). Paired only by the first: {thousands(cmp['only_a'])}; "
        f"only by the second: {thousands(cmp['only_b'])}; by neither: {thousands(cmp['neither'])}. The Notus authors reported "
        "about 50% on openbmb/UltraFeedback."
    )
    by_source = cmp.get("by_source", {})
    if by_source:
        lines.append("")
        rows = [
            [
                s,
                thousands(c["both"]),
                thousands(c["chosen_differs"]),
                "-" if c["rate"] is None else f"{c['rate']:.1%}",
            ]
            for s, c in by_source.items()
        ]
        lines.append(table(["source", "paired by both", "chosen differs", "rate"], rows))
    return "\n".join(lines)
