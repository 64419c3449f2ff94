"""The dataset card (README.md) of a Hub-ready output folder, generated from the run.

:func:`card_data` builds the YAML metadata with huggingface_hub's :class:`~huggingface_hub.DatasetCardData`
(license, language, task categories, tags, size category, ``configs`` with the ``data_files`` of every split, and
``dataset_info`` with the features and row counts, written by ``datasets`` itself so that
``datasets.load_dataset(folder)`` reads them back). :func:`render_card` adds the prose: the input and its revision,
the recipe, the funnel (rows in, removed at each step and why, pairs out), the score plots, the notus-vs-zephyr
"chosen differs" rate, and the decontamination and flag evidence.

The card holds counts only: no timings and no dates, so the same run writes the same card; no secret ever
reaches it (the run has none to give).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from notus_data.report import REASONS as DROP_REASONS

STRATEGY_RULES = {
    "notus": "chosen = the completion with the highest score (the first on a tie for the top); rejected = drawn "
    "uniformly at random among the completions that score strictly lower. A prompt with no strictly lower "
    "completion gives no pair (counted as `tie`).",
    "zephyr": "chosen = the highest score (the first on a tie); rejected = drawn uniformly at random among all the "
    "other scored completions, so pairs with equal scores are kept (unless `drop_ties`).",
    "best-vs-worst": "chosen = the highest score (the first on a tie); rejected = the lowest score among the "
    "strictly lower ones (the first on a tie). No randomness.",
    "best-vs-all": "chosen = the highest score (the first on a tie); one pair with every strictly lower completion "
    "(1-3 pairs a prompt with 4 completions).",
    "all-pairs": "every pair of scored completions with different scores, the higher one chosen.",
}
SCORE_SOURCES = {
    "avg-rating": "the mean of the four aspect ratings (instruction_following, honesty, truthfulness, "
    "helpfulness; 1-5), skipping N/A, not rounded",
    "overall-score": "the critique's `overall_score` (1-10)",
    "fine-grained-score": "the data set's `fine-grained_score` (recomputed from the ratings where absent)",
}
EXTRA_REASONS = {"decontaminated": "the prompt matches a benchmark question (see Decontamination)"}
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
ULTRAFEEDBACK_CITATION = """@misc{cui2023ultrafeedback,
  title={UltraFeedback: Boosting Language Models with High-quality Feedback},
  author={Ganqu Cui and Lifan Yuan and Ning Ding and Guanming Yao and Wei Zhu and Yuan Ni and Guotong Xie
          and Zhiyuan Liu and Maosong Sun},
  year={2023},
  eprint={2310.01377},
  archivePrefix={arXiv}
}"""


@dataclass
class SplitFiles:
    """One split of the output: its rows, its uncompressed size in bytes and its shard files."""

    rows: int
    nbytes: int
    files: list[str]  # relative to the folder, posix
    file_bytes: int = 0


@dataclass
class CardContext:
    """Everything a card says, gathered by the run (:func:`notus_data.recipes.runner.run`)."""

    recipe: Any  # notus_data.recipes.config.Recipe
    report: dict[str, Any]
    source: dict[str, Any]
    splits: dict[str, SplitFiles]
    schema: pa.Schema
    scores: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    flags: dict[str, Any] | None = None
    decontamination: dict[str, Any] | None = None
    plots: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)


def size_category(rows: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if rows < limit:
            return name
    return "1M<n<10M"


def card_data(ctx: CardContext) -> Any:
    """The card's YAML metadata as a :class:`huggingface_hub.DatasetCardData`."""
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    card = ctx.recipe.card
    total = sum(s.rows for s in ctx.splits.values())
    data = DatasetCardData(
        license=card.license,
        language=list(card.language) or None,
        task_categories=list(card.task_categories) or None,
        tags=list(card.tags) or None,
        pretty_name=card.pretty_name or ctx.recipe.name,
        size_categories=[size_category(total)],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": name, "path": f"data/{name}-*"} for name in ctx.splits],
            }
        ]
        if ctx.splits
        else None,
    )
    split_dict = datasets.SplitDict()
    for name, split in ctx.splits.items():
        split_dict.add(datasets.SplitInfo(name=name, num_bytes=split.nbytes, num_examples=split.rows))
    info = datasets.DatasetInfo(
        features=datasets.Features.from_arrow_schema(ctx.schema),
        splits=split_dict,
        download_size=sum(s.file_bytes for s in ctx.splits.values()),
        dataset_size=sum(s.nbytes for s in ctx.splits.values()),
    )
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    return data


# ---------------------------------------------------------------------------------------------------- prose


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def funnel_lines(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(label, rows, why) per funnel line, in run order: rows in, removed at each step and why, pairs out."""
    rows_in = report["rows_in"]
    dropped = report.get("dropped", {})
    lines = [("rows in", rows_in, "input rows read")]
    steps = report.get("steps", {})
    if "decontaminate" in steps or "decontaminated" in dropped:
        lines.append(
            ("removed: decontaminated", dropped.get("decontaminated", 0), EXTRA_REASONS["decontaminated"])
        )
    for reason in DROP_REASONS:
        if dropped.get(reason):
            lines.append((f"no pair: {reason}", dropped[reason], DROP_REASONS[reason]))
    for reason, count in sorted(dropped.items()):
        if reason not in DROP_REASONS and reason not in EXTRA_REASONS:
            lines.append((f"no pair: {reason}", count, reason))
    lines.append(("rows with pairs", report["rows_with_pairs"], "rows that gave at least one pair"))
    lines.append(("pairs out", report["rows_out"], "chosen/rejected pairs written"))
    return lines


def _source_section(ctx: CardContext) -> str:
    src = ctx.source
    lines = ["## Source data", ""]
    origin = src.get("input")
    if src.get("kind") == "hub":
        lines.append(f"- Input: [`{origin}`](https://huggingface.co/datasets/{origin}) (Hub dataset)")
        lines.append(f"- Revision: `{src.get('revision') or 'main'}`")
    else:
        lines.append(f"- Input: local {src.get('kind', 'file')} `{Path(str(origin)).name}`")
        if src.get("sha256"):
            lines.append(f"- Content sha256: `{src['sha256']}`")
    lines.append(f"- Split read: `{src.get('split', 'train')}`; rows read: {_n(ctx.report['rows_in'])}")
    problems = ctx.report.get("problems", {}).get("counts", {})
    if problems:
        found = ", ".join(f"{kind} ({_n(n)})" for kind, n in sorted(problems.items()))
        lines.append(
            f"- Problems found in the input and handled by a stated rule: {found} "
            "(see `report.json` for examples naming the row and field)"
        )
    return "\n".join(lines)


def _recipe_section(ctx: CardContext) -> str:
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
    filters = []
    if b.min_margin:
        filters.append(f"`min_margin: {b.min_margin}`")
    if b.min_chosen_score is not None:
        filters.append(f"`min_chosen_score: {b.min_chosen_score}`")
    if b.drop_identical_text:
        filters.append("`drop_identical_text`")
    if b.drop_ties:
        filters.append("`drop_ties`")
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
            f"{_n(split.test_size)} prompts, at most {split.max_test_fraction:.0%} of them"
            + (
                f"; test_sft / test_gen take {_n(split.test_sft_size)} of the test prompts, scaled the same way"
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
        order = (
            "decisions",
            "decisions_matched",
            "confirmed",
            "score_corrected",
            "discarded",
            "text_differs",
        )
        keys = [k for k in order if k in review] + sorted(k for k in review if k not in order)
        changes = ", ".join(f"{k}: {_n(review[k])}" for k in keys if isinstance(review[k], int))
        lines.append(f"- Review decisions applied before scoring ({changes or 'no change'}).")
    if "recipe" in ctx.files:
        lines.append(
            f"\nThe resolved recipe is saved as [`{ctx.files['recipe']}`]({ctx.files['recipe']}); "
            f"run it again with `notus-data run {ctx.files['recipe']} --input ...`."
        )
    return "\n".join(lines)


def _structure_section(ctx: CardContext) -> str:
    lines = ["## Dataset structure", ""]
    rows = [[f"`{name}`", _n(s.rows), len(s.files)] for name, s in ctx.splits.items()]
    lines.append(_table(["split", "rows", "parquet files"], rows) if rows else "No pairs: the run made none.")
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


def _funnel_section(ctx: CardContext) -> str:
    report = ctx.report
    rows_in = report["rows_in"]
    lines = ["## Funnel", "", "Every input row is in the output or counted here with the reason it left.", ""]
    rows = [[label, _n(n), _pct(n, rows_in) if i else "100%", why] for i, (label, n, why) in
            enumerate(funnel_lines(report))]  # fmt: skip
    rows[-1][2] = "-"  # pairs are not rows
    lines.append(_table(["step", "rows", "share of rows in", "why"], rows))
    by_source = report.get("dropped_by_source", {})
    if by_source:
        reasons = sorted({r for counts in by_source.values() for r in counts})
        lines += ["", "Rows that left, by source and reason:", ""]
        lines.append(
            _table(
                ["source", *reasons],
                [[s, *(_n(c.get(r, 0)) for r in reasons)] for s, c in sorted(by_source.items())],
            )
        )
    flag_step = report.get("steps", {}).get("flag")
    if flag_step:
        lines += [
            "",
            f"The flag step marked {_n(flag_step.get('completions_flagged', 0))} of "
            f"{_n(flag_step.get('completions', 0))} completions for review; it removes nothing (see Flagged "
            "completions).",
        ]
    split_step = report.get("steps", {}).get("split")
    if split_step and split_step.get("prompts") is not None:
        lines += ["", f"Distinct prompts among the pairs: {_n(split_step['prompts'])}."]
    return "\n".join(lines)


def _hist_mean(hist: dict[str, Any]) -> float | None:
    counts = hist["counts"]
    total = sum(counts)
    if not total:
        return None
    edges = hist["edges"]
    return sum((edges[i] + edges[i + 1]) / 2 * c for i, c in enumerate(counts)) / total


def _scores_section(ctx: CardContext) -> str:
    if not ctx.scores:
        return ""
    pairs = ctx.scores["pairs"]
    lines = ["## Scores", ""]
    n_pairs, ties = pairs["count"], pairs["ties"]
    chosen_mean, rejected_mean = _hist_mean(pairs["chosen"]), _hist_mean(pairs["rejected"])
    lines.append(
        f"Pair scores are `{ctx.scores['pair_score_source']}`. Pairs whose chosen and rejected score the same: "
        f"{_n(ties)} of {_n(n_pairs)} ({_pct(ties, n_pairs)})."
        + (
            f" Mean chosen score {chosen_mean:.2f}, mean rejected score {rejected_mean:.2f} (from the histograms)."
            if chosen_mean is not None and rejected_mean is not None
            else ""
        )
    )
    lines.append("")
    for title, path in ctx.plots:
        lines.append(f"![{title}]({path})")
        lines.append("")
    return "\n".join(lines).rstrip()


def _comparison_section(ctx: CardContext) -> str:
    cmp = ctx.comparison
    if not cmp:
        return ""
    lines = ["## Notus vs Zephyr binarization", ""]
    rate = "n/a" if cmp.get("rate") is None else f"{cmp['rate']:.1%}"
    lines.append(
        f"On the rows that reached the binarizer, binarizing by **{cmp['a']}** and by **{cmp['b']}** chose a "
        f"different response in **{_n(cmp['chosen_differs'])} of {_n(cmp['both'])} prompts ({rate})** that both "
        f"paired (different text: {_n(cmp['chosen_text_differs'])}). Paired only by the first: {_n(cmp['only_a'])}; "
        f"only by the second: {_n(cmp['only_b'])}; by neither: {_n(cmp['neither'])}. The Notus authors reported "
        "about 50% on openbmb/UltraFeedback."
    )
    by_source = cmp.get("by_source", {})
    if by_source:
        lines.append("")
        rows = [
            [s, _n(c["both"]), _n(c["chosen_differs"]), "-" if c["rate"] is None else f"{c['rate']:.1%}"]
            for s, c in by_source.items()
        ]
        lines.append(_table(["source", "paired by both", "chosen differs", "rate"], rows))
    return "\n".join(lines)


def _benchmark_label(benchmark: Any) -> str:
    """`truthfulqa` (817 questions, from questions.jsonl) for a benchmark entry of the decontaminate step."""
    if not isinstance(benchmark, dict):
        return f"`{benchmark}`"
    where = benchmark.get("file") or benchmark.get("hub_id")
    origin = f", from `{Path(str(where)).name if benchmark.get('file') else where}`" if where else ""
    count = f"{_n(benchmark['questions'])} questions" if benchmark.get("questions") is not None else ""
    detail = ", ".join(x for x in (count, origin.lstrip(", ")) if x)
    return f"`{benchmark.get('name', '?')}`" + (f" ({detail})" if detail else "")


def _decontamination_section(ctx: CardContext) -> str:
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
            f" ({_n(step['questions'])} questions)"
            if step.get("questions") and not any(isinstance(b, dict) for b in step.get("benchmarks") or [])
            else ""
        )
        + (f" with the methods {', '.join(f'`{m}`' for m in step['methods'])}" if step.get("methods") else "")
        + (
            f"; rows whose source is {', '.join(f'`{s}`' for s in step['source_filter'])} are removed as well"
            if step.get("source_filter")
            else ""
        )
        + f". Rows removed: **{_n(ev['rows'])}**."
    )
    if ev.get("by_kind"):
        lines += ["", _table(["method", "rows"], [[f"`{k}`", _n(v)] for k, v in ev["by_kind"].items()])]
    if ev.get("by_source"):
        lines += ["", "By source:", ""]
        lines.append(
            _table(["source", "rows"], [[s, _n(sum(c.values()))] for s, c in ev["by_source"].items()])
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


def _flags_section(ctx: CardContext) -> str:
    if ctx.recipe.flag is None or not ctx.flags:
        return ""
    ev = ctx.flags
    lines = ["## Flagged completions", ""]
    lines.append(
        f"{_n(ev['rows'])} completions look mis-scored (critique vs ratings, RECIPE section 4). They were kept; "
        "review them with `notus-data review push`, then re-run with `--decisions`."
    )
    if ev.get("by_kind"):
        lines += [
            "",
            _table(["reason", "completions"], [[f"`{k}`", _n(v)] for k, v in ev["by_kind"].items()]),
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


def render_card(ctx: CardContext) -> str:
    """The whole README.md: YAML metadata, then the prose sections."""
    data = card_data(ctx)
    title = ctx.recipe.card.pretty_name or ctx.recipe.name
    intro = ctx.recipe.description.strip() or "Preference pairs made from UltraFeedback-shaped data."
    sections = [
        f"# {title}",
        intro,
        _structure_section(ctx),
        _source_section(ctx),
        _recipe_section(ctx),
        _funnel_section(ctx),
        _scores_section(ctx),
        _comparison_section(ctx),
        _decontamination_section(ctx),
        _flags_section(ctx),
        "## License and citation\n\n"
        f"Released under `{ctx.recipe.card.license}`; the source data's license applies to its text. "
        f"UltraFeedback:\n\n```bibtex\n{ULTRAFEEDBACK_CITATION}\n```",
    ]
    body = "\n\n".join(s for s in sections if s)
    return f"---\n{data.to_yaml()}\n---\n\n{body}\n"


def write_card(folder: str | os.PathLike, ctx: CardContext) -> Path:
    """Write ``README.md`` into ``folder``; returns its path."""
    path = Path(folder) / "README.md"
    path.write_text(render_card(ctx), encoding="utf-8")
    return path
