"""``explain``: why a published pairs set differs from ours, prompt by prompt, and which draw rule it followed.

OURS is a run's output (a run's folder or a pairs file) or UltraFeedback-shaped input. Input is binarized afresh
with a recipe (``notus-v1`` unless told; its review, decontaminate and binarize sections, which the options
override), every input row traced (:mod:`notus_data.steps.trace`), so that every row we removed is known with the
step and the reason. PUBLISHED is a pairs set in any format the trainer reads, from a file, a folder or the Hub
(:mod:`notus_data.jobs.explain_read`).

The two are joined on the normalized prompt (:func:`~notus_data.steps.trace.normalize_text`: NFKC, straight
quotes, white space collapsed; case and punctuation kept) and every pair of OURS, every row of PUBLISHED and
every input row without a pair gets one attribution row (:mod:`notus_data.jobs.explain_match`). With a fresh
binarization, :mod:`notus_data.jobs.explain_rules` tests which draw rule PUBLISHED followed. ``docs/explain.md``
has the method.

>>> result = explain("data/ultrafeedback-sample.parquet", "out/notus-v1", "out/explain.parquet")  # doctest: +SKIP
>>> result.counts["only_ours"], result.rule_test.verdict  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from notus_data.errors import OptionError, check_numbers
from notus_data.io.atomic import atomic_path, write_table
from notus_data.io.paths import DEFAULT_BATCH_SIZE, guard_outputs, output_kind, sidecar_path
from notus_data.io.sinks import MemorySink
from notus_data.io.sources import DEFAULT_HUB_ID, input_paths, load_ultrafeedback
from notus_data.jobs.common import check_path
from notus_data.jobs.explain_match import CATEGORIES, REASONS, attribute
from notus_data.jobs.explain_read import SIDE_SCHEMA, Side, ours_kind, read_side, removed_by_ours, run_report
from notus_data.jobs.explain_rules import RuleTest, render_rule_test, rule_test
from notus_data.pipeline import Pipeline
from notus_data.steps.binarize import BinarizeStep
from notus_data.steps.trace import PAIRS_SCHEMA, TRACE_SCHEMA, BinarizeTrace, RemovalTrace

JOIN_RULE = (
    "prompts joined on their normalized text: Unicode NFKC, curly quotes made straight, every run of white space "
    "one space, trimmed (case and punctuation kept); responses compared the same way, their inner white space kept"
)
DEFAULT_RECIPE = "notus-v1"


@dataclass
class ExplainOptions:
    """What ``explain`` compares. Every field is also a ``notus-data explain`` option of the same name."""

    recipe: str | None = field(
        default=None,
        metadata={
            "help": "how OURS is binarized when it is raw UltraFeedback: a bundled recipe or a YAML file "
            f"(default {DEFAULT_RECIPE}); the binarize, review and decontaminate options override it"
        },
    )
    published_split: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "splits of PUBLISHED to read, comma-separated (default: its train and test splits)"
        },
    )
    published_revision: str | None = field(default=None, metadata={"help": "Hub revision of PUBLISHED"})

    def __post_init__(self) -> None:
        check_numbers(self)
        if isinstance(self.published_split, str):
            self.published_split = tuple(s.strip() for s in self.published_split.split(",") if s.strip())
        self.published_split = tuple(self.published_split or ())


@dataclass
class Explanation:
    """What ``explain`` found: the two sides, the attribution (one row per pair, published row and unpaired input
    row), its counts by category and reason, and the rule test (None unless OURS was binarized afresh)."""

    ours: dict[str, Any]
    published: dict[str, Any]
    attribution: pa.Table
    rule_test: RuleTest | None = None
    output: str | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pairs = Counter(
            zip(self.attribution["category"].to_pylist(), self.attribution["reason"].to_pylist(), strict=True)
        )
        self.counts = {c: {r: pairs[(c, r)] for r in REASONS[c] if pairs[(c, r)]} for c in CATEGORIES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": "explain",
            "ours": self.ours,
            "published": self.published,
            "join": JOIN_RULE,
            "rows": self.attribution.num_rows,
            "counts": self.counts,
            "rule_test": None if self.rule_test is None else self.rule_test.to_dict(),
            "output": self.output,
        }

    def render(self, console: Any = None) -> None:
        """Print the counts and the rule test as tables on the terminal (rich)."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console(stderr=True)
        table = Table(title="notus-data explain: where every prompt went", header_style="bold")
        for name in ("count", "category", "reason", "what it means"):
            table.add_column(name, justify="right" if name == "count" else "left")
        for category in CATEGORIES:
            for reason, n in self.counts[category].items():
                table.add_row(f"{n:,}", category, reason, REASONS[category][reason])
        console.print(table)
        console.print(f"OURS: {_summary(self.ours)}\nPUBLISHED: {_summary(self.published)}\n{JOIN_RULE}")
        if self.rule_test is not None:
            render_rule_test(self.rule_test, console)
        else:
            console.print(
                "rule test: needs OURS as the raw input (notus-data explain INPUT PUBLISHED --recipe ...)"
            )


def _summary(side: dict[str, Any]) -> str:
    parts = [str(side.get("location"))]
    if side.get("kind") == "input":
        parts.append(
            f"binarized afresh, recipe {side['recipe']} (strategy {side['strategy']}, seed {side['seed']})"
        )
        parts.append(f"{side['rows_in']:,} rows, {side['pairs']:,} pairs")
    else:
        parts.append(f"format {side.get('format')}")
        parts.append(", ".join(f"{s} {n:,}" for s, n in side.get("splits", {}).items()) + " rows")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------------ OURS afresh


def _fresh(ours: Any, recipe: str | None, overrides: dict[str, Any], batch_size: int, progress: bool) -> Any:
    """Binarize ``ours`` with the recipe, every row traced: (side table of our pairs, trace, description)."""
    from notus_data.recipes.config import resolve_recipe
    from notus_data.recipes.runner import recipe_steps

    # flag and compare remove nothing: left out, whatever the recipe or the options say
    resolved = resolve_recipe(recipe or DEFAULT_RECIPE, **{**overrides, "flag": False, "compare": False})
    load = resolved.load
    pinned = "revision" in overrides or (isinstance(ours, str) and ours == resolved.input == DEFAULT_HUB_ID)
    source = load_ultrafeedback(ours, revision=load.revision if pinned else None, split=load.split,
                                streaming=load.streaming)  # fmt: skip
    steps = [BinarizeTrace(s.options) if isinstance(s, BinarizeStep) else RemovalTrace(s)
             for s in recipe_steps(resolved, source)]  # fmt: skip
    inputs = [ours, resolved.review.decisions]
    if resolved.decontaminate is not None:
        from notus_data.decontamination.benchmarks import benchmark_paths

        inputs += benchmark_paths(resolved.decontaminate.benchmark_file)
    sink = MemorySink({"trace": TRACE_SCHEMA, "ours_pairs": PAIRS_SCHEMA})
    run = Pipeline("explain", source, steps, sink, inputs=input_paths(inputs), batch_size=batch_size,
                   progress=progress).run("local")  # fmt: skip
    trace = run.result["trace"].sort_by("row_index")
    pairs = run.result["ours_pairs"]
    at = np.searchsorted(trace["row_index"].to_numpy(), pairs["row_index"].to_numpy())
    rows = trace.select(["prompt", "prompt_id", "source", "key"]).take(pa.array(at, pa.int64()))
    side = pa.table(
        {
            "split": pa.array(["input"] * pairs.num_rows, pa.string()),
            "row": pairs["row_index"],
            **{name: rows[name] for name in ("prompt", "prompt_id", "source", "key")},
            **{name: pairs[name] for name in ("chosen", "rejected", "chosen_score", "rejected_score")},
            "problem": pa.nulls(pairs.num_rows, pa.string()),
        },
        schema=SIDE_SCHEMA,
    )
    b = resolved.binarize
    info = {
        "location": os.fspath(ours) if isinstance(ours, (str, os.PathLike)) else type(ours).__name__,
        "kind": "input",
        "recipe": resolved.name,
        "strategy": b.strategy,
        "score": b.score,
        "seed": b.seed,
        "rows_in": run.report.rows_in,
        "pairs": run.report.rows_out,
        "dropped": dict(sorted(run.report.dropped.items())),
    }
    return Side(side, info), trace


# ------------------------------------------------------------------------------------------------ the job


def explain(
    ours: Any,
    published: Any,
    output: str | os.PathLike | None = None,
    *,
    recipe: str | None = None,
    published_split: tuple[str, ...] | str = (),
    published_revision: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    **overrides: Any,
) -> Explanation:
    """Attribute every prompt on one side only, and every pair that differs, between OURS and PUBLISHED.

    ``ours``: a run's folder, a pairs file, or UltraFeedback-shaped input (a local file or folder, a Hub id, a
    table in memory) that is binarized afresh with ``recipe`` and ``overrides`` (recipe fields by name:
    ``strategy``, ``seed``, ``score``, ``decisions``, ``benchmark_file``, ``decontaminate``, ``revision``, ...).
    ``published``: a pairs set (a file, a folder, a Hub id, a table in memory), its ``published_split`` splits.
    ``output`` (.parquet or .jsonl): the attribution, one row per pair, published row and unpaired input row
    (:data:`~notus_data.jobs.explain_match.ATTRIBUTION_SCHEMA`), atomically; beside it ``OUTPUT.report.json``
    (:meth:`Explanation.to_dict`). Returns the :class:`Explanation`.
    """
    opts = ExplainOptions(
        recipe=recipe, published_split=published_split, published_revision=published_revision
    )
    if output is not None:
        output = check_path(output, "output")
        if output_kind(output) == "folder":
            raise OptionError(f"output: {output} has no extension; give a .parquet or .jsonl file")
    kind = ours_kind(ours)
    if kind != "input" and (overrides or opts.recipe):
        given = ", ".join(sorted([*overrides, *(["recipe"] if opts.recipe else [])]))
        raise OptionError(
            f"{given}: these say how to binarize OURS, but OURS ({ours}) is already pairs; give the raw input "
            "as OURS to binarize it afresh, or leave them out"
        )
    if output is not None:
        decisions = overrides.get("decisions")
        files = overrides.get("benchmark_file") or ()
        extra = [decisions, *([files] if isinstance(files, (str, os.PathLike)) else files)]
        guard_outputs("explain", [output, sidecar_path(output, "report.json")],
                      input_paths([ours, published, *(e for e in extra if e)]))  # fmt: skip
    trace = None
    removed = None
    if kind == "input":
        side, trace = _fresh(ours, opts.recipe, overrides, batch_size, progress)
    else:
        side = read_side(ours, (), None, batch_size)
        side.info |= {"kind": kind, **({"report": run_report(ours)} if run_report(ours) else {})}
        removed = removed_by_ours(ours)
    theirs = read_side(published, opts.published_split, opts.published_revision, batch_size)
    attribution = attribute(side.table, theirs.table, trace, removed)
    test = rule_test(trace, theirs.table, attribution) if trace is not None else None
    result = Explanation(side.info, theirs.info, attribution, test, None if output is None else str(output))
    if output is not None:
        write_table(attribution, output, command="explain")
        with atomic_path(sidecar_path(output, "report.json")) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
    return result
