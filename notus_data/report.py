"""The run report: what went in, what came out, and why every other row did not.

A :class:`Report` is filled by the job functions batch by batch. Its invariant, checked by :meth:`Report.check`:
``rows_in == rows_with_pairs + sum(dropped.values())``: every input row is in the output or counted with a reason.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from notus_data.length import length_line

# Problems kept as examples in the report (all of them are counted).
MAX_PROBLEM_EXAMPLES = 50

#: Why an input row gave no pair. Steps may add their own reasons (decontaminated, ...).
REASONS = {
    "invalid_row": "the row itself is broken (null instruction or null completions list)",
    "too_few_completions": "fewer than 2 completions with a usable score",
    "below_min_chosen_score": "the best completion scores below min_chosen_score",
    "tie": "no completion scores strictly lower than the chosen one (or, with notus-drawties or drop_ties, the drawn one ties)",
    "below_margin": "every lower completion is closer to the chosen one than min_margin",
    "identical_text": "every remaining candidate has the same text as the chosen response",
    "length_ratio": "every remaining candidate is more than max_length_ratio times shorter than the chosen response",
    "not_flagged": "no rule flagged any completion of the prompt",
    "decontaminated": "the prompt matches a benchmark question (see the evidence)",
    # a row of a pairs set (convert, the pairs source) that is no pair
    "empty_conversation": "chosen or rejected is null or has no turns",
    "last_turn_not_assistant": "the last turn of chosen or rejected is not an assistant turn",
    "no_prompt": "no prompt: empty prompt text, or chosen/rejected hold only the response",
    "prompt_mismatch": "chosen and rejected do not share the same prompt turns",
    "null_text": "a prompt or response text is null",
}


#: Why a row left by a step's own decision (not for want of a pair): shown as "removed: <reason>".
REMOVED_REASONS = {
    "decontaminated": "the prompt matches a benchmark question (see Decontamination)",
    "review_tie": "pair review: the reviewers found both responses as good (no preference to learn)",
    "review_unusable": "pair review: the reviewers found both responses unusable",
}

#: The words of each command's accounting, the same in the terminal, the report and the card: what a row is,
#: what the rows that gave output are, what the output is, and the prefix of a row that gave none.
VOCABULARY: dict[str, dict[str, str]] = {
    "binarize": {"in": "rows in", "kept": "rows with pairs", "out": "pairs out", "none": "no pair",
                 "kept_why": "rows that gave at least one pair", "out_why": "chosen/rejected pairs written"},
    "run": {"in": "rows in", "kept": "rows with pairs", "out": "pairs out", "none": "no pair",
            "kept_why": "rows that gave at least one pair", "out_why": "chosen/rejected pairs written"},
    "decontaminate": {"in": "rows in", "kept": "rows kept", "out": "rows out", "none": "removed"},
    "convert": {"in": "rows in", "kept": "pairs converted", "out": "rows out", "none": "no pair",
                "kept_why": "input rows that are pairs", "out_why": "rows written in the output format"},
    "flag": {"in": "prompts in", "kept": "prompts with flagged completions", "out": "flagged completions",
             "none": "prompts with none"},
    "review push": {"in": "flagged completions in", "kept": "flagged completions sent", "out": "records added",
                    "none": "not added"},
    "review pull": {"in": "completions in the records read", "kept": "completions with a decision", "out": "decisions",
                    "none": "no decision"},
    "review pairs push": {"in": "pairs in", "kept": "records added", "out": "records added", "none": "not added"},
    "review pairs pull": {"in": "records read", "kept": "records with a decision", "out": "decisions",
                          "none": "no decision"},
    "review pairs apply": {"in": "pairs in", "kept": "pairs kept or swapped", "out": "pairs out",
                           "none": "dropped", "kept_why": "pairs written (reviewed or not)",
                           "out_why": "pairs written"},
}  # fmt: skip
_DEFAULT_WORDS = {"in": "rows in", "kept": "rows with output", "out": "rows out", "none": "no output"}


def words(command: str) -> dict[str, str]:
    """The accounting words of ``command`` (see :data:`VOCABULARY`)."""
    return VOCABULARY.get(command, _DEFAULT_WORDS)


def funnel(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(label, rows, why) per line of a report's accounting, in order: rows in, the rows removed by a step, the
    rows that gave no output by reason, the rows that gave output, the output. The terminal table and the card's
    funnel are both this list."""
    vocab = words(report["command"])
    dropped = report.get("dropped", {})
    removes = report["command"] != "decontaminate"  # there, removing is the output's own rule
    lines = [(vocab["in"], report["rows_in"], "input rows read")]
    if "decontaminate" in report.get("steps", {}) and removes:
        why = REMOVED_REASONS["decontaminated"]
        lines.append(("removed: decontaminated", dropped.get("decontaminated", 0), why))
    order = [r for r in REASONS if r in dropped] + sorted(r for r in dropped if r not in REASONS)
    for reason in order:
        if reason in REMOVED_REASONS and removes:
            if reason != "decontaminated":
                lines.append((f"removed: {reason}", dropped[reason], REMOVED_REASONS[reason]))
            continue
        lines.append((f"{vocab['none']}: {reason}", dropped[reason], REASONS.get(reason, reason)))
    lines.append((vocab["kept"], report["rows_with_pairs"], vocab.get("kept_why", "rows that gave output")))
    lines.append((vocab["out"], report["rows_out"], vocab.get("out_why", "rows written")))
    return lines


@dataclass
class Problems:
    """Bad values found in rows: counted by kind, with the first examples kept (in input order)."""

    counts: Counter = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, table: pa.Table | None) -> None:
        """Add a problems table with columns row_index, field, value, kind, rule."""
        if table is None or table.num_rows == 0:
            return
        self.counts.update(table.column("kind").to_pylist())
        room = MAX_PROBLEM_EXAMPLES - len(self.examples)
        if room > 0:
            self.examples.extend(table.slice(0, room).to_pylist())

    def merge(self, other: Problems) -> Problems:
        self.counts.update(other.counts)
        room = MAX_PROBLEM_EXAMPLES - len(self.examples)
        if room > 0:
            self.examples.extend(other.examples[:room])
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())), "examples": self.examples}


def merge_counts(section: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    """Merge ``counts`` into ``section`` in place (see :meth:`Report.add_step`)."""
    for key, value in counts.items():
        current = section.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key in section:
            section[key] = current + value
        elif isinstance(value, dict) and isinstance(current, dict):
            merged = merge_counts(dict(current), value)
            section[key] = dict(sorted(merged.items()))
        else:
            section[key] = value
    return section


@dataclass
class Report:
    """Counts of one run. ``steps`` holds each step's own section, in the order the steps ran."""

    command: str
    rows_in: int = 0
    rows_with_pairs: int = 0
    rows_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    dropped_by_source: dict[str, Counter] = field(default_factory=dict)
    problems: Problems = field(default_factory=Problems)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def add_outcomes(self, outcomes: pa.Table, *, count_rows_in: bool = True) -> None:
        """Count a batch of per-row outcomes (columns: source, reason (null: the row gave output), n_out: the
        output rows it gave). ``count_rows_in=False`` where the rows were already counted in ``rows_in``."""
        if count_rows_in:
            self.rows_in += outcomes.num_rows
        self.rows_out += int(pc.sum(outcomes.column("n_out")).as_py() or 0)
        reasons = outcomes.column("reason")
        self.rows_with_pairs += reasons.null_count
        if reasons.null_count == outcomes.num_rows:
            return
        grouped = (
            outcomes.select(["source", "reason"])
            .filter(pc.is_valid(reasons))
            .group_by(["reason", "source"])
            .aggregate([([], "count_all")])
        )
        for reason, source, count in zip(
            grouped.column("reason").to_pylist(),
            grouped.column("source").to_pylist(),
            grouped.column("count_all").to_pylist(),
            strict=True,
        ):
            self.dropped[reason] += count
            self.dropped_by_source.setdefault(str(source), Counter())[reason] += count

    def add_step(self, name: str, counts: dict[str, Any]) -> None:
        """Merge counts into the section of step ``name``: numbers add up, mappings merge key by key (the keys of
        a merged mapping sorted), anything else is replaced. Associative, so partial reports merge in any
        grouping."""
        merge_counts(self.steps.setdefault(name, {}), counts)

    def merge(self, part: Report) -> Report:
        """Add another report's counts to this one (parts in input order, for the problems' examples)."""
        self.rows_in += part.rows_in
        self.rows_with_pairs += part.rows_with_pairs
        self.rows_out += part.rows_out
        self.dropped.update(part.dropped)
        for source, counts in part.dropped_by_source.items():
            self.dropped_by_source.setdefault(source, Counter()).update(counts)
        self.problems.merge(part.problems)
        for name, counts in part.steps.items():
            self.add_step(name, counts)
        return self

    def check(self) -> None:
        """Raise if some rows are neither in the output nor counted with a reason (a bug, never user error)."""
        accounted = self.rows_with_pairs + sum(self.dropped.values())
        if accounted != self.rows_in:
            raise AssertionError(f"report does not add up: {self.rows_in} rows in, {accounted} accounted for")

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "rows_in": self.rows_in,
            "rows_with_pairs": self.rows_with_pairs,
            "rows_out": self.rows_out,
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_by_source": {
                source: dict(sorted(counts.items()))
                for source, counts in sorted(self.dropped_by_source.items())
            },
            "problems": self.problems.to_dict(),
            "steps": self.steps,
            "info": self.info,
        }

    def to_json(self) -> str:
        """The report as JSON text (what ``OUTPUT.report.json`` holds)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"

    def render(self, console: Any = None) -> None:
        """Print the report as tables on the terminal (rich)."""
        from rich.console import Console
        from rich.table import Table

        console = console or Console(stderr=True)
        table = Table(title=f"notus-data {self.command}", show_header=True, header_style="bold")
        table.add_column("count", justify="right")
        table.add_column("rows")
        lines = funnel(self.to_dict())
        for i, (label, count, _) in enumerate(lines):
            table.add_row(f"{count:,}", f"[bold]{label}[/bold]" if i == len(lines) - 1 else label)
        console.print(table)
        length = next((length_line(s["length"]) for s in self.steps.values() if s.get("length")), None)
        if length:
            console.print(length)
        self.render_problems(console)

    def render_problems(self, console: Any) -> None:
        """The problems found in the input, as a table (nothing when there are none)."""
        from rich.table import Table

        if self.problems.counts:
            problems = Table(title="problems in the input (handled by the stated rule)", header_style="bold")
            problems.add_column("count", justify="right")
            problems.add_column("kind")
            problems.add_column("first example")
            firsts: dict[str, dict[str, Any]] = {}
            for example in self.problems.examples:
                firsts.setdefault(example["kind"], example)
            for kind, count in sorted(self.problems.counts.items()):
                ex = firsts.get(kind)
                where = f"row {ex['row_index']}, {ex['field']} = {ex['value']!r}: {ex['rule']}" if ex else ""
                problems.add_row(f"{count:,}", kind, where)
            console.print(problems)
