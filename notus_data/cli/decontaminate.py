"""``notus-data decontaminate``: a thin wrapper over :func:`notus_data.jobs.decontaminate.decontaminate`."""

from __future__ import annotations

import click

from notus_data.cli._common import handle_errors, options_from, progress_option, quiet_option
from notus_data.decontamination.options import DecontaminateOptions
from notus_data.engines import EngineOptions
from notus_data.io import LoadOptions, report_path
from notus_data.jobs.decontaminate import decontaminate, evidence_path, format_review, review_evidence


@click.command("review")
@click.argument("evidence")
@click.option("--benchmark", default=None, help="only the hits of this benchmark (e.g. mt_bench)")
@click.option("--method", default=None, help="only the hits of this method (e.g. near_duplicate)")
@click.option("--min-score", type=float, default=None, help="only hits scoring at least this")
@click.option("--max-score", type=float, default=None, help="only hits scoring at most this")
@click.option("--limit", type=int, default=None, help="show at most this many rows")
@click.option("--width", type=int, default=60, show_default=True, help="characters of each excerpt")
@handle_errors
def review_command(evidence: str, width: int, **options: object) -> None:
    """Show the evidence of a decontaminate run (OUTPUT.decontamination.parquet or .jsonl) as a table, weakest
    match first: row, benchmark/question id, method, score, prompt excerpt and matched question; to check the
    borderline hits and pick a threshold (--threshold NAME.METHOD=VALUE).

    \b
    Examples:
      notus-data decontaminate review clean.decontamination.parquet --max-score 0.9
      notus-data decontaminate review clean.decontamination.jsonl --benchmark mt_bench --limit 20
    """
    rows = review_evidence(evidence, **options)
    click.echo(format_review(rows, width=width))
    click.echo(f"{len(rows):,} rows", err=True)


class _DecontaminateCommand(click.Command):
    """``decontaminate INPUT OUTPUT``, and ``decontaminate review EVIDENCE`` (a subcommand by its first word)."""

    def make_context(self, info_name, args, parent=None, **extra):
        if args and args[0] == "review":
            return review_command.make_context("review", list(args[1:]), parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


@click.command("decontaminate", cls=_DecontaminateCommand)
@click.argument("input")
@click.argument("output")
@options_from(DecontaminateOptions, LoadOptions, EngineOptions, exclude=("ray_write",))
@click.option("--dry-run", is_flag=True, help="write the evidence and the report, not the cleaned output")
@progress_option
@quiet_option
@handle_errors
def decontaminate_command(input: str, output: str, quiet: bool, **options: object) -> None:
    """Remove the rows of INPUT that hold a benchmark question (TruthfulQA by default: its source, and exact,
    normalized, n-gram and near-duplicate copies of its 817 questions; --benchmark chat or all for the chat
    benchmarks) and write the rest to OUTPUT (.parquet, .jsonl, or a folder). INPUT is raw UltraFeedback or binarized pairs (any binarize format), a local file or
    folder, or a Hub id. Beside OUTPUT: OUTPUT.decontamination.parquet (.jsonl for a .jsonl output), one row per
    removed row with the benchmark, the matched question, the method and its score; and OUTPUT.report.json.

    \b
    Examples:
      notus-data decontaminate pairs.parquet clean.parquet
      notus-data decontaminate pairs.jsonl clean.jsonl --benchmark-file truthfulqa=questions.jsonl
      notus-data decontaminate openbmb/UltraFeedback uf-clean.parquet --check-responses --dry-run
      notus-data decontaminate pairs.parquet clean.parquet --benchmark all --bundled \\
          --benchmark-file alpaca_eval=alpaca_eval.jsonl
      notus-data decontaminate pairs.parquet clean.parquet --benchmark truthfulqa,cais/mmlu:all \\
          --benchmark-split test
      notus-data decontaminate review clean.decontamination.parquet --max-score 0.9
    """
    report = decontaminate(input, output, **options)
    section = report.steps.get("decontaminate", {})
    if not quiet:
        report.render()
        for method, count in section.get("by_method", {}).items():
            click.echo(f"  removed by {method}: {count:,}", err=True)
    removed = section.get("rows_removed", 0)
    where = (
        "nothing written (dry run)"
        if options.get("dry_run")
        else f"{report.rows_with_pairs:,} rows written to {output}"
    )
    click.echo(
        f"{removed:,} of {report.rows_in:,} rows hold a benchmark question; {where} "
        f"(evidence: {evidence_path(output)}, report: {report_path(output)})",
        err=True,
    )
